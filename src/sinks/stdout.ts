/**
 * NDJSON on stdout (for Vector's exec source, Fluentd's in_exec, or a shell pipe).
 * A batch is one write of pre-joined lines; it counts as delivered when Node's write
 * callback fires (the bytes reached the pipe/file). stdout cannot acknowledge beyond that:
 * a reader that dies with unread bytes in the pipe loses them (see README).
 * EPIPE (the reader went away) rejects without retry so the bridge stops cleanly,
 * checkpoints only what was written.
 */
import type { Writable } from 'node:stream';
import { SinkError } from '../errors.js';
import type { Batch, Sink, SinkFactory } from './types.js';

export interface StdoutConfig {
  type: 'stdout';
}

export class StreamSink implements Sink {
  readonly type = 'stdout';
  readonly wants = 'json';
  #broken: Error | undefined;
  constructor(private readonly out: Writable) {
    out.on('error', (err) => {
      this.#broken = err;
    });
  }

  async start(): Promise<void> {}

  send(batch: Batch): Promise<void> {
    if (this.#broken) return Promise.reject(closedError(this.#broken));
    let text = '';
    for (const e of batch.events) text += e.json + '\n';
    return new Promise((resolve, reject) => {
      this.out.write(text, (err) => (err ? reject(closedError(err)) : resolve()));
    });
  }

  async close(): Promise<void> {}
}

function closedError(err: Error): SinkError {
  const code = (err as NodeJS.ErrnoException).code;
  return new SinkError('DLB_SINK_STDOUT_CLOSED', `stdout is closed (${code ?? err.message}); the reader went away.`, { cause: err });
}

export const stdoutSink: SinkFactory<StdoutConfig> = {
  type: 'stdout',
  parse: () => ({ type: 'stdout' }),
  create: () => new StreamSink(process.stdout),
};
