/** The `file` output: config parsing + sink construction (see config.ts and sink.ts). */
import type { SinkFactory } from '../types.js';
import { parseFileConfig, type FileConfig } from './config.js';
import { FileSink } from './sink.js';

export type { FileConfig } from './config.js';
export { FileSink } from './sink.js';

export const fileSink: SinkFactory<FileConfig> = {
  type: 'file',
  parse: (r) => parseFileConfig(r),
  create: (config, ctx) => new FileSink(config, ctx),
};
