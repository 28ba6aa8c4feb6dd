/**
 * `output.type: forward`: each batch goes to Fluentd (or Fluent Bit) as PackedForward chunks
 * of at most `chunk_max_events` events, tag `<tag_prefix>.<logType>`, each event's own time as
 * an EventTime (µs precision), its record as the msgpack map (key order kept). Every chunk
 * carries a `chunk` id and `send` resolves only when Fluentd acked every chunk of the batch.
 *
 * Failures: no ack within `ack_timeout_secs`, or the connection ending first, rejects with a
 * retryable SinkError (the pipeline resends the whole batch; duplicates, never loss). Shared
 * key / TLS trust / handshake misconfiguration rejects non-retryable. While Fluentd is down,
 * `send` waits for the connection (see ForwardConnection: capped backoff, logged).
 *
 * Memory: at most `max_events_in_flight` events are emitted and unacked at once; a `send`
 * that does not fit waits (back pressure to the pipeline, which then stops fetching).
 */
import { EventTime, FluentError, type FluentClient } from '@fluent-org/logger';
import { SinkError } from '../../errors.js';
import type { DuoEvent } from '../../format/event.js';
import type { Logger } from '../../obs/log.js';
import type { Batch, Sink, SinkContext } from '../types.js';
import type { ForwardConfig } from './config.js';
import { ForwardConnection, describeError } from './connection.js';
import { installSharedEntryEncoder } from './client-internals.js';

interface InFlight {
  fail(err: SinkError): void;
}

export class ForwardSink implements Sink {
  readonly type = 'forward';
  readonly connection: ForwardConnection;
  readonly #cfg: ForwardConfig;
  readonly #log: Logger;
  readonly #tags = new Map<string, string>();
  readonly #byClient = new Map<FluentClient, Set<InFlight>>();
  #inFlightEvents = 0;
  #room: Array<{ n: number; go(): void }> = [];
  #closed = false;

  constructor(cfg: ForwardConfig, ctx: Pick<SinkContext, 'log'>) {
    this.#cfg = cfg;
    this.#log = ctx.log.child({ sink: 'forward' });
    installSharedEntryEncoder();
    this.connection = new ForwardConnection(cfg, this.#log, (client, err) => this.#failClient(client, err));
  }

  /** Events emitted and not yet acknowledged (or failed). */
  get inFlightEvents(): number {
    return this.#inFlightEvents;
  }

  async start(): Promise<void> {
    const c = this.#cfg;
    this.#log.info('Forward output starting.', {
      endpoint: this.connection.endpoint,
      tag_prefix: c.tagPrefix,
      tls: !!c.tls,
      tls_verify: c.tls ? c.tls.verify : undefined,
      shared_key: !!c.security,
      ack_timeout_secs: c.ackTimeoutMs / 1000,
      chunk_max_events: c.chunkMaxEvents,
      max_events_in_flight: c.maxEventsInFlight,
    });
    if (c.tls && !c.tls.verify) this.#log.warn('TLS server verification is off (output.tls.verify: false); anyone on the path can read and alter the logs.');
    // Waits for the first connection attempt only: a Fluentd that is down is waited for by send().
    await this.connection.start();
  }

  async send(batch: Batch, signal?: AbortSignal): Promise<void> {
    if (this.#closed) throw new SinkError('DLB_SINK_CLOSED', 'The forward output is closed.', { retryable: true });
    const permanent = this.connection.permanentError;
    if (permanent) throw permanent;
    const n = batch.events.length;
    if (n === 0) return;
    await this.#acquire(n, signal);
    try {
      const client = await this.connection.ready(signal);
      await this.#deliver(client, batch, signal);
    } finally {
      this.#release(n);
    }
  }

  async close(deadlineMs = 0): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    // Let acks in flight arrive, within the deadline (a duration; an absolute time is accepted
    // too). Not while Fluentd is unreachable: nothing can arrive, the batches stay unacked and
    // their checkpoints unmoved, so they are sent again at the next start.
    const until = deadlineMs > 1e12 ? deadlineMs : Date.now() + Math.max(0, deadlineMs);
    while (this.#inFlightEvents > 0 && this.connection.isReady && Date.now() < until) await sleep(Math.min(50, until - Date.now()));
    this.connection.close();
    for (const r of this.#room.splice(0)) r.go();
  }

  #tag(logType: string): string {
    let t = this.#tags.get(logType);
    if (t === undefined) this.#tags.set(logType, (t = `${this.#cfg.tagPrefix}.${logType}`));
    return t;
  }

  #deliver(client: FluentClient, batch: Batch, signal?: AbortSignal): Promise<void> {
    const tag = this.#tag(batch.logType);
    const events = batch.events;
    const max = this.#cfg.chunkMaxEvents;
    // All events pushed in one synchronous run under one tag form one packet (one chunk id,
    // one promise); syncFlush() closes a chunk every `max` events.
    const chunks: Promise<void>[] = [];
    let last: Promise<void> | undefined;
    for (let i = 0; i < events.length; i++) {
      const e = events[i]!;
      const p = client.emit(tag, e.record, eventTime(e));
      if (p !== last) chunks.push((last = p));
      if ((i + 1) % max === 0) client.syncFlush();
    }
    client.syncFlush();

    return new Promise<void>((resolve, reject) => {
      let left = chunks.length;
      let done = false;
      let set = this.#byClient.get(client);
      if (!set) this.#byClient.set(client, (set = new Set()));
      const entry: InFlight = { fail: (err) => finish(err) };
      const onAbort = () => finish(new SinkError('DLB_SINK_ABORTED', 'Stopped while waiting for Fluentd to acknowledge.', { retryable: true }));
      const finish = (err?: SinkError) => {
        if (done) return;
        done = true;
        set!.delete(entry);
        if (set!.size === 0 && this.#byClient.get(client) === set) this.#byClient.delete(client);
        signal?.removeEventListener('abort', onAbort);
        if (err) reject(err);
        else resolve();
      };
      set.add(entry);
      if (signal?.aborted) return onAbort();
      signal?.addEventListener('abort', onAbort, { once: true });
      for (const p of chunks) {
        p.then(
          () => {
            if (--left === 0) finish();
          },
          (err: Error) => {
            finish(this.#mapError(batch, err));
            // No ack in time: the connection is suspect (half-open, or Fluentd stuck); replace it.
            if (err instanceof FluentError.AckTimeoutError) this.connection.recycle(client, `no ack within ${this.#cfg.ackTimeoutMs / 1000} s`);
          },
        );
      }
    });
  }

  #mapError(batch: Batch, err: Error): SinkError {
    if (err instanceof SinkError) return err;
    const permanent = this.connection.permanentError;
    if (permanent) return permanent;
    if (err instanceof FluentError.AckTimeoutError) {
      const secs = this.#cfg.ackTimeoutMs / 1000;
      return new SinkError(
        'DLB_SINK_FORWARD_ACK_TIMEOUT',
        `Fluentd at ${this.connection.endpoint} did not acknowledge ${batch.logType} events within ${secs} s (output.ack_timeout_secs); reconnecting, the batch will be resent.`,
        { retryable: true, cause: err },
      );
    }
    return new SinkError(
      'DLB_SINK_FORWARD_DISCONNECTED',
      `Fluentd at ${this.connection.endpoint} did not take ${batch.logType} events (${describeError(err)}); the batch will be resent.`,
      { retryable: true, cause: err },
    );
  }

  #failClient(client: FluentClient, err: SinkError): void {
    const set = this.#byClient.get(client);
    if (!set) return;
    this.#byClient.delete(client);
    for (const f of [...set]) f.fail(err);
  }

  #acquire(n: number, signal?: AbortSignal): Promise<void> {
    // A batch larger than the cap still goes alone, so the cap can never deadlock.
    if (this.#room.length === 0 && (this.#inFlightEvents === 0 || this.#inFlightEvents + n <= this.#cfg.maxEventsInFlight)) {
      this.#inFlightEvents += n;
      return Promise.resolve();
    }
    return new Promise<void>((resolve, reject) => {
      const waiter = {
        n,
        go: () => {
          signal?.removeEventListener('abort', onAbort);
          if (this.#closed) return reject(new SinkError('DLB_SINK_CLOSED', 'The forward output is closed.', { retryable: true }));
          this.#inFlightEvents += n;
          resolve();
        },
      };
      const onAbort = () => {
        this.#room = this.#room.filter((w) => w !== waiter);
        reject(new SinkError('DLB_SINK_ABORTED', 'Stopped while waiting for room in flight.', { retryable: true }));
        this.#wake();
      };
      if (signal?.aborted) return onAbort();
      signal?.addEventListener('abort', onAbort, { once: true });
      this.#room.push(waiter);
    });
  }

  #release(n: number): void {
    this.#inFlightEvents -= n;
    this.#wake();
  }

  #wake(): void {
    while (this.#room.length > 0) {
      const w = this.#room[0]!;
      if (this.#inFlightEvents > 0 && this.#inFlightEvents + w.n > this.#cfg.maxEventsInFlight) return;
      this.#room.shift();
      w.go();
    }
  }
}

/** EventTime(seconds, nanoseconds) from the event's own time in µs. */
export function eventTime(e: DuoEvent): EventTime {
  const us = Math.floor(e.timeUs);
  const sec = Math.floor(us / 1e6);
  return new EventTime(sec, (us - sec * 1e6) * 1000);
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, Math.max(1, ms)));
}
