/** `output.type: http` -> HttpSink (NDJSON batches for Vector's http_server source or any per-request endpoint). */
import type { SinkFactory } from '../types.js';
import { parseHttpSinkConfig, type HttpSinkConfig } from './config.js';
import { HttpSink } from './sink.js';

export type { HttpSinkConfig } from './config.js';
export { HttpSink } from './sink.js';

export const httpSink: SinkFactory<HttpSinkConfig> = {
  type: 'http',
  parse: parseHttpSinkConfig,
  create: (config, ctx) => new HttpSink(config, ctx),
  secretKeys: ['password', 'token', 'secret'],
};
