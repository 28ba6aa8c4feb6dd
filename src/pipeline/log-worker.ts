/**
 * One log of one account: walk Duo's pages to the end on every poll, hand each page to the
 * sink, and move the checkpoint only after the sink took it. The next page is fetched while
 * the current one is being delivered (one page ahead, never more: bounded memory).
 *
 *   plan walk (cursor.ts) → fetch page (paced, retried) → drop boundary duplicates
 *   → shape → sink.send (resent until accepted) → commit checkpoint (atomic) → next page
 */
import { DuoEvent } from '../format/event.js';
import { BridgeError, DuoApiError } from '../errors.js';
import type { LogKind, Page, Walk } from '../duo/logs/types.js';
import { BadPageError } from '../duo/logs/types.js';
import type { Params } from '../duo/sign.js';
import type { Logger } from '../obs/log.js';
import type { Sink } from '../sinks/types.js';
import { sleep } from '../util/time.js';
import { microsToIso } from '../util/time.js';
import { backoffDelay, type BackoffOptions } from './backoff.js';
import { CHECKPOINT_VERSION, type Checkpoint, type CheckpointStore } from './checkpoint.js';
import { acceptPage, planWalk, walkExpired, windowStartMs, type Position } from './cursor.js';
import type { Pacer } from './pacer.js';
import type { Semaphore } from './semaphore.js';
import { countResponse, type LogStats } from './stats.js';
import { catchUpEtaSecs } from '../obs/progress.js';

export interface DuoFetcher {
  /** The API hostname, as recorded in each event's `host`. */
  readonly host: string;
  get(path: string, params: Params, signal?: AbortSignal): Promise<unknown>;
}

export interface LogWorkerOptions {
  kind: LogKind;
  account: string;
  client: DuoFetcher;
  sink: Sink;
  store: CheckpointStore;
  pacer: Pacer;
  log: Logger;
  stats: LogStats;
  startDatetimeUtc: string;
  startMs: number | undefined;
  delayMs: number;
  pollIntervalMs: number;
  once: boolean;
  duoBackoff: BackoffOptions;
  sinkBackoff: BackoffOptions;
  /** How long a log whose credentials or permissions Duo rejects waits before asking again. */
  authRetryMs: number;
  /** Extra fields appended to every record after Duo's (e.g. child_account_id). */
  extraFields?: Record<string, string>;
  /** Extra signed request parameters (e.g. account_id for an MSP child). */
  extraParams?: Record<string, string>;
  /** Shared bound on pages held in memory at once. */
  pages?: Semaphore;
  /** Stop fetching (graceful shutdown). */
  stop: AbortSignal;
  /** Abandon even the delivery in flight (shutdown deadline). */
  kill: AbortSignal;
  now?: () => number;
  progressEveryMs?: number;
}

type WalkEnd = 'done' | 'replan' | 'stopped';

interface Fetched {
  page: Page;
  /** Give back the page permit once the page is delivered (or dropped). */
  release: () => void;
}

/** Thrown when the walk's parameters were rejected (40002): re-plan rather than retry the same request. */
class ReplanError extends Error {}

export class LogWorker {
  #position: Position | null = null;
  #delivered = 0;
  #lastProgress = 0;
  #progressBase = { at: 0, events: 0 };
  /** Where the position was at the last progress line: the pace for the catch-up estimate. */
  #etaBase: { at: number; posMs: number } | undefined;
  readonly #now: () => number;

  constructor(private readonly o: LogWorkerOptions) {
    this.#now = o.now ?? Date.now;
  }

  get type(): string {
    return this.o.kind.type;
  }

  async run(): Promise<void> {
    const { o } = this;
    const loaded = await o.store.load(o.account, o.kind.type, o.startDatetimeUtc);
    this.#position = loaded.checkpoint?.position ?? null;
    this.#delivered = loaded.checkpoint?.events_delivered ?? 0;
    o.stats.position = this.#position;
    o.stats.checkpointAt = loaded.checkpoint ? Date.parse(loaded.checkpoint.updated_at) : undefined;
    o.log.info(this.#position ? 'Resuming from checkpoint.' : 'No checkpoint; starting from the configured start.', {
      position_utc: this.#position ? this.positionIso(this.#position) : undefined,
      start: o.startDatetimeUtc || '180 days ago (Duo keeps no more)',
    });
    let warnedClamp = false;
    this.#progressBase = { at: this.#now(), events: 0 };
    // An unsorted log stopped mid-walk resumes that walk at Duo's offset (no re-read, no gap).
    const saved = loaded.checkpoint?.walk;
    if (saved && !o.kind.sorted && !walkExpired(o.kind, saved.walk, this.#now())) {
      o.log.info('Resuming an unfinished walk.', { next_offset: saved.walk.nextOffset });
      const end = await this.walk(saved.walk, saved.start_position);
      if (end === 'stopped') return;
    }
    while (!o.stop.aborted) {
      const now = this.#now();
      const plan = planWalk(o.kind, this.#position, { nowMs: now, delayMs: o.delayMs, startMs: o.startMs ?? windowStartMs(now) });
      if (plan?.clampedFromMs !== undefined && o.startMs !== undefined && !warnedClamp) {
        warnedClamp = true;
        o.log.warn('The start is older than Duo keeps (180 days); starting at the oldest time Duo still serves.', {
          requested: new Date(plan.clampedFromMs).toISOString(),
          start: new Date(o.kind.unit === 'ms' ? plan.walk.mintime : plan.walk.mintime * 1000).toISOString(),
        });
      }
      let end: WalkEnd = 'done';
      if (plan) end = await this.walk(plan.walk);
      if (end === 'stopped') return;
      if (end === 'replan') continue;
      o.stats.lastPollDone = this.#now();
      if (o.once) {
        o.log.info('Drained this log up to the availability delay.', { events_total: this.#delivered, position_utc: this.#position ? this.positionIso(this.#position) : undefined });
        return;
      }
      await sleep(o.pollIntervalMs, o.stop);
    }
  }

  /** The checkpoint position as ms since epoch (undefined before the first one). */
  private positionMs(): number | undefined {
    const p = this.#position;
    return p ? (this.o.kind.unit === 'ms' ? p.time : p.time * 1000) : undefined;
  }

  private positionIso(p: Position): string {
    return microsToIso(p.time * (this.o.kind.unit === 'ms' ? 1000 : 1_000_000));
  }

  private async walk(first: Walk, startPosition: Position | null = this.#position): Promise<WalkEnd> {
    const { o } = this;
    // An unsorted log whose walk is cut short restarts from where the walk began (re-read, never skip).
    const restart = (end: WalkEnd): WalkEnd => {
      if (!o.kind.sorted && end === 'replan') this.#position = startPosition;
      return end;
    };
    let walk = first;
    let pending = this.fetch(walk);
    for (;;) {
      let fetched: Fetched | undefined;
      try {
        fetched = await pending;
      } catch (err) {
        if (err instanceof ReplanError) return restart('replan');
        throw err;
      }
      if (!fetched) return 'stopped';
      const { page, release } = fetched;
      try {
        const acc = acceptPage(o.kind, this.#position, walk, page.items);
        const step = o.kind.next(walk, page);
        if (step.warning) o.log.warn(step.warning);
        if (acc.untimed) o.log.warn('Some events carry no usable time; delivered, but they cannot move the checkpoint.', { count: acc.untimed });
        let next: Walk | undefined = 'walk' in step ? step.walk : undefined;
        let end: WalkEnd = 'done';
        if (next && walkExpired(o.kind, next, this.#now())) {
          next = undefined;
          end = 'replan';
        }
        if (next) {
          pending = this.fetch(next);
          pending.catch(() => {});
        }
        o.stats.eventsFetched += page.items.length;
        if (acc.fresh.length) {
          const events = new Array<DuoEvent>(acc.fresh.length);
          const extra = o.extraFields;
          const jsonOnly = o.sink.wants === 'json';
          for (let i = 0; i < acc.fresh.length; i++) {
            const record = o.kind.shape(acc.fresh[i]!, o.client.host);
            if (extra) for (const k in extra) record[k] = extra[k];
            const us = acc.timesUs[i]!;
            const ev = new DuoEvent(o.kind.eventtype, Number.isNaN(us) ? this.#now() * 1000 : us, acc.ids[i]!, record);
            events[i] = jsonOnly ? ev.keepJsonOnly() : ev;
          }
          if (!(await this.deliver(events))) return 'stopped';
          if (acc.position) this.#position = acc.position;
          this.#delivered += events.length;
          o.stats.eventsDelivered += events.length;
          o.stats.position = this.#position;
          // Sorted logs checkpoint their position; unsorted ones checkpoint the walk itself, to resume it.
          const resume = !o.kind.sorted && next ? { walk: next, start_position: startPosition } : undefined;
          if (this.#position && (o.kind.sorted || resume) && !(await this.commit(this.#position, resume))) return 'stopped';
          this.progress(false);
        } else if (acc.position) this.#position = acc.position;
        if (!next) {
          // Unsorted logs checkpoint once the whole walk was delivered.
          if (!o.kind.sorted && this.#position && end === 'done' && !(await this.commit(this.#position))) return 'stopped';
          this.progress(true);
          return restart(end);
        }
        if (o.stop.aborted) return 'stopped';
        walk = next;
      } finally {
        release();
      }
    }
  }

  /**
   * Fetch one page, paced, holding one of the bridge's page permits until the caller releases
   * it (bounded memory across every log and account). Transient failures are retried here
   * forever, with backoff. Undefined when stopped.
   */
  private async fetch(walk: Walk): Promise<Fetched | undefined> {
    const release = this.o.pages ? await this.o.pages.acquire() : () => {};
    try {
      const page = await this.fetchPage(walk);
      if (!page) release();
      return page && { page, release };
    } catch (err) {
      release();
      throw err;
    }
  }

  private async fetchPage(walk: Walk): Promise<Page | undefined> {
    const { o } = this;
    const params = { ...o.kind.params(walk), ...o.extraParams };
    for (let attempt = 1; ; attempt++) {
      await o.pacer.turn(o.stop);
      if (o.stop.aborted) return undefined;
      let answered = false;
      try {
        o.stats.requests++;
        const resp = await o.client.get(o.kind.path, params, o.stop);
        answered = true;
        countResponse(o.stats);
        o.pacer.succeeded();
        try {
          const page = o.kind.parse(resp);
          o.stats.okRequests++;
          return page;
        } catch (err) {
          if (err instanceof BadPageError) throw new DuoApiError('DLB_DUO_BAD_RESPONSE', `GET ${o.kind.path}: unexpected page shape: ${err.message}; retrying.`, { retryable: true });
          throw err;
        }
      } catch (err) {
        if (o.stop.aborted) return undefined;
        if (!answered) countResponse(o.stats, err);
        const e = err instanceof DuoApiError ? err : new DuoApiError('DLB_DUO_UNEXPECTED', `GET ${o.kind.path}: ${(err as Error).message}`, { retryable: true, cause: err });
        o.stats.lastError = { at: this.#now(), code: e.code, message: e.message };
        if (e.code === 'DLB_DUO_RATE_LIMITED') {
          o.stats.rateLimited++;
          o.pacer.rateLimited();
        } else o.stats.errors++;
        if (e.duoCode === 40002) {
          o.log.error('Duo rejected the request window; re-planning from the checkpoint.', { error: e.message, error_code: e.code, params: { mintime: walk.mintime, maxtime: walk.maxtime } });
          await sleep(backoffDelay(attempt, o.duoBackoff), o.stop);
          throw new ReplanError();
        }
        if (e.isAuth || !e.retryable) {
          if (o.once) throw e;
          o.log.error('Duo refused this log; it stays parked and the bridge asks again later.', { error: e.message, error_code: e.code, retry_in_secs: Math.round(o.authRetryMs / 1000) });
          await sleep(o.authRetryMs, o.stop);
          attempt = 0;
          continue;
        }
        const delay = backoffDelay(attempt, o.duoBackoff, e.code === 'DLB_DUO_RATE_LIMITED' ? o.pacer.intervalMs : 0);
        o.log.warn('Duo request failed; retrying.', { error: e.message, error_code: e.code, attempt, retry_in_ms: delay });
        await sleep(delay, o.stop);
      }
    }
  }

  /** Send until the sink accepts. False when shutdown cut the retries short. Throws when retrying cannot help. */
  private async deliver(events: DuoEvent[]): Promise<boolean> {
    const { o } = this;
    const batch = { logType: o.kind.eventtype, account: o.account, events };
    o.stats.inFlight = events.length;
    for (let attempt = 1; ; attempt++) {
      try {
        await o.sink.send(batch, o.kill);
        o.stats.inFlight = 0;
        return true;
      } catch (err) {
        const e = err instanceof BridgeError ? err : new BridgeError('DLB_SINK_FAILED', (err as Error).message, { retryable: true, cause: err });
        o.stats.lastError = { at: this.#now(), code: e.code, message: e.message };
        if (!e.retryable) throw e;
        if (o.stop.aborted || o.kill.aborted) return false;
        o.stats.sinkRetries++;
        const delay = backoffDelay(attempt, o.sinkBackoff);
        o.log.warn('The sink did not take the batch; resending it.', { error: e.message, error_code: e.code, attempt, events: events.length, retry_in_ms: delay });
        await sleep(delay, o.stop);
        if (o.stop.aborted) return false;
      }
    }
  }

  private async commit(position: Position, walk?: Checkpoint['walk']): Promise<boolean> {
    const { o } = this;
    const cp: Checkpoint = {
      version: CHECKPOINT_VERSION,
      account: o.account,
      log: o.kind.type,
      start_datetime_utc: o.startDatetimeUtc,
      unit: o.kind.unit,
      position,
      position_utc: this.positionIso(position),
      events_delivered: this.#delivered,
      updated_at: new Date(this.#now()).toISOString(),
      ...(walk ? { walk } : {}),
    };
    for (let attempt = 1; ; attempt++) {
      try {
        await o.store.commit(cp);
        o.stats.lastCommit = this.#now();
        o.stats.checkpointAt = o.stats.lastCommit;
        return true;
      } catch (err) {
        const e = err as BridgeError;
        o.stats.lastError = { at: this.#now(), code: e.code, message: e.message };
        o.log.error('Cannot save the checkpoint; fetching is paused until it can be saved.', { error: e.message, error_code: e.code, attempt });
        await sleep(backoffDelay(attempt, o.sinkBackoff), o.kill);
        if (o.kill.aborted) return false;
      }
    }
  }

  private progress(final: boolean): void {
    const { o } = this;
    const now = this.#now();
    if (!final && now - this.#lastProgress < (o.progressEveryMs ?? 15_000)) return;
    const events = o.stats.eventsDelivered - this.#progressBase.events;
    if (events === 0 && final) return;
    this.#lastProgress = now;
    const secs = Math.max(0.001, (now - this.#progressBase.at) / 1000);
    const behindMs = this.#position ? now - (o.kind.unit === 'ms' ? this.#position.time : this.#position.time * 1000) : undefined;
    const rate = events / secs;
    const posMs = this.positionMs();
    const eb = this.#etaBase;
    o.stats.etaSecs = final ? 0 : catchUpEtaSecs(behindMs, o.delayMs, posMs === undefined || !eb ? undefined : posMs - eb.posMs, eb ? now - eb.at : 0);
    this.#etaBase = posMs === undefined ? undefined : { at: now, posMs };
    o.log.info(final ? 'Caught up with this log.' : 'Backfill progress.', {
      events,
      events_total: this.#delivered,
      rate_per_sec: Math.round(rate),
      behind_secs: behindMs === undefined ? undefined : Math.round(behindMs / 1000),
      position_utc: this.#position ? this.positionIso(this.#position) : undefined,
      eta_secs: o.stats.etaSecs,
    });
    if (final) this.#progressBase = { at: now, events: o.stats.eventsDelivered };
  }
}
