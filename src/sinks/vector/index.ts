/** `output.type: vector` -> VectorSink (Vector's native gRPC protocol, version 2). */
import type { SinkFactory } from '../types.js';
import { parseVectorSinkConfig, type VectorSinkConfig } from './config.js';
import { VectorSink } from './sink.js';

export type { VectorSinkConfig } from './config.js';
export { VectorSink } from './sink.js';

export const vectorSink: SinkFactory<VectorSinkConfig> = {
  type: 'vector',
  parse: parseVectorSinkConfig,
  create: (config, ctx) => new VectorSink(config, ctx),
};
