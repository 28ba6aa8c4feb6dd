import type { DuoEvent } from '../format/event.js';
import type { Logger } from '../obs/log.js';
import type { ConfigReader } from '../config/reader.js';

/** One page worth of events of one log of one account, delivered as a unit. */
export interface Batch {
  /** `authentication`, `administrator`, `telephony`, ... */
  readonly logType: string;
  /** The account the events came from (API hostname, or child account id for MSP). */
  readonly account: string;
  /** In Duo's order; never empty. */
  readonly events: readonly DuoEvent[];
}

/**
 * The sink contract. The pipeline sends one batch per log at a time, in order, and moves
 * that log's checkpoint only after `send` resolved.
 *
 * - `start()` opens connections / runs a health check. It may wait for a peer that is down;
 *   it rejects with a non-retryable SinkError only when retrying cannot help.
 * - `send(batch)` resolves only when the destination took responsibility for every event
 *   (forward ack, gRPC OK, HTTP 2xx, write callback + flush). It rejects with SinkError:
 *   `retryable: true` -> the pipeline resends the same batch after a backoff (at least once);
 *   `retryable: false` -> the bridge stops without moving the checkpoint and says why.
 *   A rejected batch may have been partly delivered: resending it is expected.
 * - `close(deadlineMs)` finishes what is in flight within the deadline, then releases
 *   everything; safe to call twice and before `start`.
 */
export interface Sink {
  readonly type: string;
  /**
   * `json` when the sink reads only `event.json` (line writers): the pipeline then serializes each
   * event as it is shaped and drops the parsed record. Default: both are kept.
   */
  readonly wants?: 'json' | 'record';
  start(): Promise<void>;
  send(batch: Batch, signal: AbortSignal): Promise<void>;
  close(deadlineMs: number): Promise<void>;
  /** Optional, for metrics: connections re-established after a loss since the sink was created. */
  readonly reconnects?: number;
}

export interface SinkContext {
  log: Logger;
  /** This host's name, for syslog headers and the like. */
  hostname: string;
  /** Directory for sink state (spool files, ...), next to the checkpoints. */
  stateDir: string;
}

/** How a sink plugs in: parse its `output:` section (all errors name their key), then build. */
export interface SinkFactory<C extends { type: string } = { type: string }> {
  readonly type: string;
  /** Reads `output.*` keys other than `type`; report problems through the reader. */
  parse(r: ConfigReader): C;
  create(config: C, ctx: SinkContext): Sink;
  /** Keys of the parsed config whose values must never be printed (check-config redacts them). */
  readonly secretKeys?: readonly string[];
}
