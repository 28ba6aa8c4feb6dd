/** Config `output.type` -> sink factory. One line per sink; the pipeline never imports concrete sinks. */
import type { SinkFactory } from './types.js';
import { stdoutSink } from './stdout.js';
import { vectorSink } from './vector/index.js';
import { httpSink } from './http/index.js';
import { syslogSink } from './syslog/index.js';
import { fileSink } from './file/index.js';
import { forwardSink } from './forward/index.js';

export const SINKS: Record<string, SinkFactory<any>> = {
  stdout: stdoutSink,
  vector: vectorSink,
  http: httpSink,
  syslog: syslogSink,
  file: fileSink,
  forward: forwardSink,
};
