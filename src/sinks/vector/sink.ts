/**
 * The `vector` output: PushEvents calls to a Vector `vector` source (protocol version 2, gRPC).
 *
 * One `send(batch)` is split into calls of at most `batch_size` events; up to `max_in_flight`
 * calls (shared by all logs) run together. `send` resolves only when every call of the batch
 * returned OK, which with Vector's sink-side acknowledgements means the events were delivered.
 * When a call fails, no further call of that batch starts, the ones in flight are awaited, and
 * `send` rejects: the pipeline resends the whole batch (duplicates are possible, loss is not).
 *
 * Status codes (Vector: Delivered -> OK, Errored -> INTERNAL, Rejected -> DATA_LOSS,
 * shutting down -> UNAVAILABLE):
 *   UNAVAILABLE, INTERNAL, DEADLINE_EXCEEDED, RESOURCE_EXHAUSTED, CANCELLED, UNKNOWN, ABORTED
 *     -> retryable SinkError;
 *   DATA_LOSS and every other code -> non-retryable SinkError, logged at error level here too,
 *     so the bridge stops with the checkpoint before the batch.
 */
import * as grpc from '@grpc/grpc-js';
import { SinkError } from '../../errors.js';
import type { Logger } from '../../obs/log.js';
import type { Batch, Sink, SinkContext } from '../types.js';
import type { VectorSinkConfig } from './config.js';
import { encodePushEventsRequest, type EncodeOptions } from './encode.js';
import { HEALTH_CHECK_PATH, PUSH_EVENTS_PATH, vectorService } from './proto.js';
import { readTlsFiles } from './tls.js';
import { untilIdleOrDeadline } from '../../util/drain.js';

const RETRYABLE = new Set<number>([
  grpc.status.UNAVAILABLE,
  grpc.status.INTERNAL,
  grpc.status.DEADLINE_EXCEEDED,
  grpc.status.RESOURCE_EXHAUSTED,
  grpc.status.CANCELLED,
  grpc.status.UNKNOWN,
  grpc.status.ABORTED,
]);

/** Name of a gRPC status code, e.g. 15 -> DATA_LOSS. */
export function statusName(code: number): string {
  return (grpc.status as unknown as Record<number, string>)[code] ?? `code ${code}`;
}

/** Classify a failed call. `what` says what was being done, e.g. "PushEvents with 1000 events". */
export function grpcSinkError(err: Partial<grpc.ServiceError>, address: string, what: string, timeoutSecs: number): SinkError {
  const code = err.code ?? grpc.status.UNKNOWN;
  const details = (err.details ?? err.message ?? '').slice(0, 300);
  const name = statusName(code);
  const base = `Vector at ${address}: ${what} failed with ${name}${details ? ` (${details})` : ''}`;
  switch (code) {
    case grpc.status.DATA_LOSS:
      return new SinkError(
        'DLB_SINK_VECTOR_REJECTED',
        `${base}. Vector REJECTED these events (a sink behind it refused them); they are not delivered. ` +
          'The bridge stops and keeps its checkpoint before this batch: fix the Vector pipeline, then restart and the batch is sent again.',
        { retryable: false, cause: err },
      );
    case grpc.status.UNAVAILABLE:
      return new SinkError('DLB_SINK_VECTOR_UNAVAILABLE', `${base}; will retry.`, { retryable: true, cause: err });
    case grpc.status.INTERNAL:
      return new SinkError('DLB_SINK_VECTOR_DELIVERY_ERROR', `${base}; Vector could not deliver them yet, will retry.`, { retryable: true, cause: err });
    case grpc.status.DEADLINE_EXCEEDED:
      return new SinkError('DLB_SINK_VECTOR_TIMEOUT', `${base}: no answer within timeout_secs (${timeoutSecs}); will retry.`, { retryable: true, cause: err });
    case grpc.status.RESOURCE_EXHAUSTED:
      return new SinkError(
        'DLB_SINK_VECTOR_BUSY',
        `${base}; will retry (if this repeats, the calls may be too large for Vector: lower output.batch_size).`,
        { retryable: true, cause: err },
      );
    default:
      if (RETRYABLE.has(code)) return new SinkError('DLB_SINK_VECTOR_FAILED', `${base}; will retry.`, { retryable: true, cause: err });
      return new SinkError(
        'DLB_SINK_VECTOR_REFUSED',
        `${base}. Retrying cannot help (is ${address} a Vector \`vector\` source, version 2, with matching TLS?). ` +
          'The bridge stops and keeps its checkpoint before this batch.',
        { retryable: false, cause: err },
      );
  }
}

/** A counting semaphore whose waiters can be aborted. */
class Slots {
  #free: number;
  #waiters: { resolve: () => void; reject: (e: unknown) => void }[] = [];
  constructor(n: number) {
    this.#free = n;
  }
  acquire(signal: AbortSignal): Promise<void> {
    if (signal.aborted) return Promise.reject(signal.reason);
    if (this.#free > 0) {
      this.#free--;
      return Promise.resolve();
    }
    return new Promise((resolve, reject) => {
      const waiter = {
        resolve: () => {
          signal.removeEventListener('abort', onAbort);
          resolve();
        },
        reject,
      };
      const onAbort = (): void => {
        const i = this.#waiters.indexOf(waiter);
        if (i >= 0) this.#waiters.splice(i, 1);
        reject(signal.reason);
      };
      signal.addEventListener('abort', onAbort, { once: true });
      this.#waiters.push(waiter);
    });
  }
  release(): void {
    const next = this.#waiters.shift();
    if (next) next.resolve();
    else this.#free++;
  }
}

const sleep = (ms: number, signal: AbortSignal): Promise<void> =>
  new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const t = setTimeout(done, ms);
    function done(): void {
      clearTimeout(t);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });

const passThrough = (b: Buffer): Buffer => b;

export class VectorSink implements Sink {
  readonly type = 'vector';
  readonly #cfg: VectorSinkConfig;
  readonly #log: Logger;
  readonly #encode: EncodeOptions;
  readonly #slots: Slots;
  readonly #closing = new AbortController();
  readonly #calls = new Set<grpc.ClientUnaryCall>();
  #client: grpc.Client | undefined;
  #inFlight = 0;
  #idle: (() => void)[] = [];
  #reconnects = 0;

  constructor(cfg: VectorSinkConfig, ctx: Pick<SinkContext, 'log'>) {
    this.#cfg = cfg;
    this.#log = ctx.log.child({ sink: 'vector' });
    this.#encode = { timestampKey: cfg.timestampKey, includeMessage: cfg.includeMessage };
    this.#slots = new Slots(cfg.maxInFlight);
  }

  /** Connections to Vector re-established after a loss (for metrics). */
  get reconnects(): number {
    return this.#reconnects;
  }

  /** Count READY states after the first one: each is a reconnection after a lost connection. */
  #watchConnectivity(): void {
    const channel = this.#client!.getChannel();
    let wasReady = false;
    const watch = (state: grpc.connectivityState): void => {
      if (this.#closing.signal.aborted) return;
      try {
        channel.watchConnectivityState(state, Infinity, () => {
          if (this.#closing.signal.aborted) return;
          const next = channel.getConnectivityState(false);
          if (next === grpc.connectivityState.READY) {
            if (wasReady) this.#reconnects++;
            wasReady = true;
          }
          watch(next);
        });
      } catch {
        // The channel was shut down (close()).
      }
    };
    watch(channel.getConnectivityState(false));
  }

  async start(): Promise<void> {
    const cfg = this.#cfg;
    let creds: grpc.ChannelCredentials;
    const options: grpc.ChannelOptions = {
      // Reconnect quickly after Vector restarts; the pipeline owns the retry timing of batches.
      'grpc.initial_reconnect_backoff_ms': 200,
      'grpc.min_reconnect_backoff_ms': 200,
      'grpc.max_reconnect_backoff_ms': 5000,
      'grpc.max_receive_message_length': 4 * 1024 * 1024,
      'grpc.enable_retries': 0,
    };
    if (cfg.compression === 'gzip') options['grpc.default_compression_algorithm'] = grpc.compressionAlgorithms.gzip;
    if (cfg.tls) {
      const m = await readTlsFiles(cfg.tls);
      const verify: grpc.VerifyOptions = cfg.tls.verify ? {} : { rejectUnauthorized: false, checkServerIdentity: () => undefined };
      creds = grpc.credentials.createSsl(m.ca ?? null, m.key ?? null, m.cert ?? null, verify);
      if (cfg.tls.serverName) options['grpc.ssl_target_name_override'] = cfg.tls.serverName;
      if (!cfg.tls.verify) this.#log.warn('TLS certificate checks are off for the Vector output (tls.verify: false); use this for testing only.', { address: cfg.address });
    } else {
      creds = grpc.credentials.createInsecure();
    }
    if (this.#closing.signal.aborted) throw new SinkError('DLB_SINK_CLOSED', 'The Vector output was closed before it started.');
    this.#client = new grpc.Client(cfg.address, creds, options);
    this.#watchConnectivity();
    await this.#healthCheckUntilServing();
  }

  /** HealthCheck until Vector answers SERVING; waits (with warnings) while it is down, fails on a permanent error. */
  async #healthCheckUntilServing(): Promise<void> {
    const svc = vectorService().HealthCheck!;
    const address = this.#cfg.address;
    let delay = 250;
    for (let attempt = 1; ; attempt++) {
      if (this.#closing.signal.aborted) throw new SinkError('DLB_SINK_CLOSED', 'The Vector output was closed while waiting for Vector to become healthy.');
      const result = await new Promise<{ status?: string } | grpc.ServiceError>((resolve) => {
        const call = this.#client!.makeUnaryRequest(
          HEALTH_CHECK_PATH,
          svc.requestSerialize,
          svc.responseDeserialize,
          {},
          new grpc.Metadata(),
          { deadline: Date.now() + Math.min(this.#cfg.timeoutSecs, 10) * 1000 },
          (err, res) => {
            this.#calls.delete(call);
            this.#closing.signal.removeEventListener('abort', onClose);
            resolve(err ?? (res as { status?: string }));
          },
        );
        const onClose = (): void => call.cancel();
        this.#closing.signal.addEventListener('abort', onClose, { once: true });
        this.#calls.add(call);
      });
      if (this.#closing.signal.aborted) throw new SinkError('DLB_SINK_CLOSED', 'The Vector output was closed while waiting for Vector to become healthy.');
      let problem: string;
      if (result instanceof Error) {
        const e = grpcSinkError(result, address, 'HealthCheck', this.#cfg.timeoutSecs);
        if (!e.retryable) throw e;
        problem = `${statusName(result.code)}${result.details ? ` (${result.details})` : ''}`;
      } else if ((result.status ?? 'SERVING') === 'SERVING') {
        this.#log.info('Vector output is ready.', {
          address,
          tls: Boolean(this.#cfg.tls),
          compression: this.#cfg.compression,
          batch_size: this.#cfg.batchSize,
          max_in_flight: this.#cfg.maxInFlight,
        });
        return;
      } else {
        problem = `status ${result.status}`;
      }
      if (attempt === 1 || attempt % 10 === 0) {
        this.#log.warn('Vector is not ready yet; waiting before sending.', { address, attempt, health: problem });
      }
      await sleep(delay, this.#closing.signal);
      delay = Math.min(delay * 2, 10_000);
    }
  }

  async send(batch: Batch, signal: AbortSignal): Promise<void> {
    const client = this.#client;
    if (!client) throw new SinkError('DLB_SINK_NOT_STARTED', 'The Vector output was used before start().');
    if (this.#closing.signal.aborted) throw new SinkError('DLB_SINK_CLOSED', 'The Vector output is closed.', { retryable: true });
    const events = batch.events;
    const size = this.#cfg.batchSize;
    const abort = AbortSignal.any([signal, this.#closing.signal]);
    let failure: SinkError | undefined;
    const running: Promise<void>[] = [];
    let launched = 0;
    for (let i = 0; i < events.length && !failure; i += size) {
      try {
        await this.#slots.acquire(abort);
      } catch {
        break;
      }
      if (failure || abort.aborted) {
        this.#slots.release();
        break;
      }
      const part = events.slice(i, i + size);
      launched += part.length;
      let body: Buffer;
      try {
        body = encodePushEventsRequest(part, this.#encode);
      } catch (err) {
        this.#slots.release();
        failure = new SinkError('DLB_SINK_VECTOR_ENCODE', `Cannot encode a ${batch.logType} event for Vector: ${(err as Error).message}`, { cause: err });
        break;
      }
      running.push(
        this.#push(body, part.length, abort)
          .catch((err: SinkError) => {
            // A permanent failure wins over a retryable one: the bridge must stop and say why.
            if (!failure || (failure.retryable && !err.retryable)) failure = err;
          })
          .finally(() => this.#slots.release()),
      );
    }
    await Promise.all(running);
    if (failure) {
      if (!failure.retryable) this.#log.error('Vector refused a batch; stopping without moving the checkpoint.', { log: batch.logType, account: batch.account, error: failure.message, error_code: failure.code });
      throw failure;
    }
    if (launched < events.length) throw new SinkError('DLB_SINK_ABORTED', 'Sending to Vector was interrupted by shutdown; the batch will be sent again.', { retryable: true });
  }

  #push(body: Buffer, count: number, abort: AbortSignal): Promise<void> {
    const client = this.#client!;
    this.#inFlight++;
    return new Promise<void>((resolve, reject) => {
      const call = client.makeUnaryRequest(
        PUSH_EVENTS_PATH,
        passThrough,
        passThrough,
        body,
        new grpc.Metadata(),
        { deadline: Date.now() + this.#cfg.timeoutSecs * 1000 },
        (err) => {
          abort.removeEventListener('abort', onAbort);
          this.#calls.delete(call);
          if (--this.#inFlight === 0) for (const f of this.#idle.splice(0)) f();
          if (err) reject(grpcSinkError(err, this.#cfg.address, `PushEvents with ${count} events`, this.#cfg.timeoutSecs));
          else resolve();
        },
      );
      const onAbort = (): void => call.cancel();
      abort.addEventListener('abort', onAbort, { once: true });
      this.#calls.add(call);
    });
  }

  async close(deadlineMs: number): Promise<void> {
    if (!this.#client) {
      this.#closing.abort();
      return;
    }
    if (this.#inFlight > 0 && !this.#closing.signal.aborted) {
      await untilIdleOrDeadline(this.#idle, deadlineMs);
    }
    this.#closing.abort();
    for (const call of this.#calls) call.cancel();
    this.#client.close();
  }
}
