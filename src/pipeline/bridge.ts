/**
 * The bridge's lifecycle: start the sink, run one LogWorker per enabled log, stop gracefully.
 * `stop()` stops fetching, lets the delivery in flight finish and be checkpointed, and
 * abandons it only at the shutdown deadline. Only `cli.ts` exits the process.
 */
import { LOG_KINDS } from '../duo/logs/index.js';
import type { BridgeConfig } from '../config/schema.js';
import type { Logger } from '../obs/log.js';
import type { Sink } from '../sinks/types.js';
import { CheckpointStore } from './checkpoint.js';
import { LogWorker, type DuoFetcher } from './log-worker.js';
import { Pacer } from './pacer.js';
import { newLogStats, type LogStats } from './stats.js';

export interface BridgeOptions {
  config: BridgeConfig;
  client: DuoFetcher;
  sink: Sink;
  log: Logger;
  once: boolean;
  now?: () => number;
}

export class Bridge {
  readonly stats: LogStats[] = [];
  readonly #stop = new AbortController();
  readonly #kill = new AbortController();
  #deadline: NodeJS.Timeout | undefined;
  #running: Promise<void> | undefined;

  constructor(private readonly o: BridgeOptions) {}

  /** Run until every log is drained (`once`) or `stop()` is called. Rejects when retrying cannot help. */
  run(): Promise<void> {
    return (this.#running ??= this.#run());
  }

  async #run(): Promise<void> {
    const { config: c, log } = this.o;
    const store = new CheckpointStore(c.checkpointDir, log);
    await store.ensureDir();
    await this.o.sink.start();
    const account = this.o.client.host;
    const workers: LogWorker[] = [];
    for (const [name, svc] of Object.entries(c.services)) {
      if (!svc.enabled) continue;
      const kind = LOG_KINDS[name]!;
      const stats = newLogStats(name, account);
      this.stats.push(stats);
      workers.push(
        new LogWorker({
          kind,
          account,
          client: this.o.client,
          sink: this.o.sink,
          store,
          pacer: new Pacer(c.api.requestIntervalSecs * 1000, 600_000, this.o.now),
          log: log.child({ log: name }),
          stats,
          startDatetimeUtc: svc.startDatetimeUtc,
          startMs: svc.startMs,
          delayMs: c.api.delaySecs * 1000,
          pollIntervalMs: c.pollIntervalSecs * 1000,
          once: this.o.once,
          duoBackoff: { initialMs: c.api.backoffInitialSecs * 1000, maxMs: c.api.backoffMaxSecs * 1000 },
          sinkBackoff: { initialMs: Math.min(1000, c.api.backoffInitialSecs * 1000), maxMs: 30_000 },
          authRetryMs: 300_000,
          stop: this.#stop.signal,
          kill: this.#kill.signal,
          now: this.o.now,
        }),
      );
    }
    let failure: unknown;
    await Promise.all(
      workers.map((w) =>
        w.run().catch((err) => {
          failure ??= err;
          log.error('A log stopped because retrying cannot help; stopping the bridge.', { log: w.type, error: err, error_code: (err as { code?: string }).code });
          this.stop(0);
        }),
      ),
    );
    clearTimeout(this.#deadline);
    await this.o.sink.close(Math.max(1000, c.shutdownTimeoutSecs * 1000));
    if (failure) throw failure;
  }

  /** Stop fetching now; abandon deliveries still in flight after `deadlineMs`. Safe to call twice. */
  stop(deadlineMs = this.o.config.shutdownTimeoutSecs * 1000): void {
    if (!this.#stop.signal.aborted) {
      this.#stop.abort();
      this.#deadline = setTimeout(() => this.#kill.abort(), deadlineMs);
      this.#deadline.unref();
    } else {
      this.#kill.abort();
    }
  }
}
