/** The forward sink's factory: `output: {type: forward, ...}` (options in config.ts). */
import type { SinkFactory } from '../types.js';
import { FORWARD_SECRET_KEYS, parseForwardConfig, type ForwardConfig } from './config.js';
import { ForwardSink } from './sink.js';
import { hostname } from 'node:os';

export const forwardSink: SinkFactory<ForwardConfig> = {
  type: 'forward',
  parse: (r) => parseForwardConfig(r, hostname),
  create: (config, ctx) => new ForwardSink(config, ctx),
  secretKeys: FORWARD_SECRET_KEYS,
};
