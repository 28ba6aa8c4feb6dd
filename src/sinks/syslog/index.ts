/** The `syslog` output: config parsing + sink construction (see config.ts and sink.ts). */
import type { SinkFactory } from '../types.js';
import { parseSyslogConfig, type SyslogConfig } from './config.js';
import { SyslogSink } from './sink.js';

export type { SyslogConfig } from './config.js';
export { SyslogSink } from './sink.js';

export const syslogSink: SinkFactory<SyslogConfig> = {
  type: 'syslog',
  parse: (r) => parseSyslogConfig(r),
  create: (config, ctx) => new SyslogSink(config, ctx),
  // No secret keys: TLS material is read from files whose paths are not secret.
  secretKeys: [],
};
