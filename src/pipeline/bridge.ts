/**
 * The bridge's lifecycle: start the sink, run one LogWorker per enabled log (per MSP child
 * account when `msp` is on), stop gracefully. `stop()` stops fetching, lets the delivery in
 * flight finish and be checkpointed, and abandons it only at the shutdown deadline.
 * Only `cli.ts` exits the process.
 *
 * Failure policy: Duo refusing one account or log (credentials, permissions) is reported and
 * that log is parked (or, with `once`, finished as failed) while the others go on; a sink or
 * checkpoint failure that retrying cannot fix stops everything.
 */
import { LOG_KINDS } from '../duo/logs/index.js';
import type { BridgeConfig } from '../config/schema.js';
import { DuoApiError } from '../errors.js';
import type { Params } from '../duo/sign.js';
import type { Logger } from '../obs/log.js';
import type { Sink } from '../sinks/types.js';
import { sleep } from '../util/time.js';
import { backoffDelay } from './backoff.js';
import { parseAccountList, selectAccounts, type ChildAccount } from './accounts.js';
import { CheckpointStore } from './checkpoint.js';
import { LogWorker, type DuoFetcher } from './log-worker.js';
import { Pacer } from './pacer.js';
import { Semaphore } from './semaphore.js';
import { newLogStats, type LogStats } from './stats.js';

export interface AccountsClient extends DuoFetcher {
  post(path: string, params: Params, signal?: AbortSignal): Promise<unknown>;
}

export interface BridgeOptions {
  config: BridgeConfig;
  client: AccountsClient;
  /** A client for an MSP child's API hostname (same credentials). */
  clientFor?: (apiHostname: string) => DuoFetcher;
  sink: Sink;
  log: Logger;
  once: boolean;
  now?: () => number;
}

interface AccountRun {
  stop: AbortController;
  done: Promise<void>;
}

export class Bridge {
  readonly stats: LogStats[] = [];
  readonly #stop = new AbortController();
  readonly #kill = new AbortController();
  readonly #pacers = new Map<string, Pacer>();
  readonly #clients = new Map<string, DuoFetcher>();
  readonly #accounts = new Map<string, AccountRun>();
  readonly #pages: Semaphore;
  #store: CheckpointStore | undefined;
  #deadline: NodeJS.Timeout | undefined;
  #running: Promise<void> | undefined;
  #fatal: unknown;
  readonly #refused: { account: string; log: string; error: unknown }[] = [];

  constructor(private readonly o: BridgeOptions) {
    this.#pages = new Semaphore(o.config.api.maxPagesInFlight);
  }

  /** Run until every log is drained (`once`) or `stop()` is called. Rejects when retrying cannot help. */
  run(): Promise<void> {
    return (this.#running ??= this.#run());
  }

  async #run(): Promise<void> {
    const { config: c } = this.o;
    this.#store = new CheckpointStore(c.checkpointDir, this.o.log);
    await this.#store.ensureDir();
    // A sink may wait for its peer at start (Vector down, say): a stop must still end the run.
    const stopped = new Promise<'stopped'>((resolve) => {
      if (this.#stop.signal.aborted) resolve('stopped');
      this.#stop.signal.addEventListener('abort', () => resolve('stopped'), { once: true });
    });
    const started = this.o.sink.start().then(() => 'started' as const);
    if ((await Promise.race([started, stopped])) === 'stopped') {
      started.catch(() => {});
      await this.o.sink.close(1000);
      return;
    }
    if (c.msp.enabled) await this.#runMsp();
    else await this.#runAccount(this.o.client.host, this.o.client, {}, this.#stop.signal);
    clearTimeout(this.#deadline);
    await this.o.sink.close(Math.max(1000, c.shutdownTimeoutSecs * 1000));
    if (this.#fatal) throw this.#fatal;
    if (this.#refused.length) {
      const first = this.#refused[0]!;
      throw new DuoApiError('DLB_DUO_REFUSED', `Duo refused ${this.#refused.length} log(s); first: ${first.log} of ${first.account}: ${(first.error as Error).message}`, { isAuth: true });
    }
  }

  /** One worker per enabled log of one account; resolves when they all end. */
  async #runAccount(account: string, client: DuoFetcher, child: { id?: string }, stop: AbortSignal): Promise<void> {
    const { config: c, log } = this.o;
    const workers: LogWorker[] = [];
    for (const [name, svc] of Object.entries(c.services)) {
      if (!svc.enabled) continue;
      const kind = LOG_KINDS[name]!;
      const stats = newLogStats(name, account);
      this.stats.push(stats);
      const key = `${client.host}|${kind.path}`;
      let pacer = this.#pacers.get(key);
      if (!pacer) this.#pacers.set(key, (pacer = new Pacer(c.api.requestIntervalSecs * 1000, 600_000, this.o.now)));
      workers.push(
        new LogWorker({
          kind,
          account,
          client,
          sink: this.o.sink,
          store: this.#store!,
          pacer,
          pages: this.#pages,
          log: log.child(child.id ? { log: name, account } : { log: name }),
          stats,
          startDatetimeUtc: svc.startDatetimeUtc,
          startMs: svc.startMs,
          delayMs: c.api.delaySecs * 1000,
          pollIntervalMs: c.pollIntervalSecs * 1000,
          once: this.o.once,
          duoBackoff: { initialMs: c.api.backoffInitialSecs * 1000, maxMs: c.api.backoffMaxSecs * 1000 },
          // A sink is local and cheap to ask again: cap the wait at 10 s so delivery resumes soon after it is back.
          sinkBackoff: { initialMs: Math.min(1000, c.api.backoffInitialSecs * 1000), maxMs: 10_000 },
          authRetryMs: 300_000,
          extraFields: child.id ? { child_account_id: child.id } : undefined,
          extraParams: child.id ? { account_id: child.id } : undefined,
          stop,
          kill: this.#kill.signal,
          now: this.o.now,
        }),
      );
    }
    await Promise.all(
      workers.map((w) =>
        w.run().catch((err) => {
          if (err instanceof DuoApiError) {
            // Duo refused this log of this account: report it, keep the others going.
            this.#refused.push({ account, log: w.type, error: err });
            log.error('Duo refused this log; the others go on.', { log: w.type, account, error: err, error_code: err.code });
            return;
          }
          this.#fatal ??= err;
          log.error('A log stopped because retrying cannot help; stopping the bridge.', { log: w.type, account, error: err, error_code: (err as { code?: string }).code });
          this.stop(0);
        }),
      ),
    );
  }

  /** MSP: list children (and again every refresh), run each child this shard owns, stop removed ones. */
  async #runMsp(): Promise<void> {
    const { config: c, log } = this.o;
    for (let attempt = 1; !this.#stop.signal.aborted; attempt++) {
      let children: ChildAccount[] | undefined;
      try {
        children = parseAccountList(await this.o.client.post('/accounts/v1/account/list', {}, this.#stop.signal));
      } catch (err) {
        if (this.#stop.signal.aborted) break;
        const e = err as DuoApiError;
        if (this.o.once && (e.isAuth || !e.retryable)) {
          this.#fatal ??= err;
          log.error('Cannot list MSP child accounts.', { error: err, error_code: e.code });
          break;
        }
        const delay = e.isAuth ? 300_000 : backoffDelay(attempt, { initialMs: c.api.backoffInitialSecs * 1000, maxMs: c.api.backoffMaxSecs * 1000 });
        log.warn('Cannot list MSP child accounts; retrying.', { error: err, error_code: e.code, retry_in_ms: delay });
        await sleep(delay, this.#stop.signal);
        continue;
      }
      attempt = 0;
      const mine = selectAccounts(children, { shard: c.msp.shard, include: c.msp.include, exclude: c.msp.exclude });
      const ids = new Set(mine.map((a) => a.accountId));
      const started = mine.filter((a) => !this.#accounts.has(a.accountId));
      const removed = [...this.#accounts.keys()].filter((id) => !ids.has(id));
      if (started.length || removed.length) {
        log.info('MSP child accounts.', { listed: children.length, this_shard: mine.length, shard: c.msp.shard ? `${c.msp.shard.index}/${c.msp.shard.count}` : undefined, started: started.length, stopped: removed.length });
      }
      for (const id of removed) this.#accounts.get(id)!.stop.abort();
      for (const a of started) {
        const stop = new AbortController();
        const client = this.#clientFor(a.apiHostname);
        const done = this.#runAccount(a.accountId, client, { id: a.accountId }, AbortSignal.any([this.#stop.signal, stop.signal])).finally(() => {
          if (this.#accounts.get(a.accountId)?.stop === stop) this.#accounts.delete(a.accountId);
        });
        this.#accounts.set(a.accountId, { stop, done });
      }
      if (this.o.once) break;
      await sleep(c.msp.refreshSecs * 1000, this.#stop.signal);
    }
    await Promise.all([...this.#accounts.values()].map((r) => r.done));
  }

  #clientFor(apiHostname: string): DuoFetcher {
    let client = this.#clients.get(apiHostname);
    if (!client) this.#clients.set(apiHostname, (client = this.o.clientFor ? this.o.clientFor(apiHostname) : this.o.client));
    return client;
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
