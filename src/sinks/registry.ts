/** Config `output.type` -> sink factory. One line per sink; the pipeline never imports concrete sinks. */
import type { SinkFactory } from './types.js';
import { stdoutSink } from './stdout.js';
import { forwardSink } from './forward/index.js';

export const SINKS: Record<string, SinkFactory<any>> = {
  stdout: stdoutSink,
  forward: forwardSink,
};
