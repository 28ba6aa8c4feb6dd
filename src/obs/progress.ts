/**
 * Progress for humans: the catch-up estimate (also written into the JSON progress lines) and,
 * when stderr is a terminal, one status line kept at the bottom of stderr and redrawn every
 * second. JSON log lines still go to stderr whole: the status line is erased before each one
 * and drawn again after it, so a terminal shows the log scrolling above one live summary.
 *
 * The status line is on when stderr is a TTY; `DLB_PROGRESS_TTY=1` forces it (tests, `script`
 * logs), `DLB_PROGRESS_TTY=0` turns it off.
 */
import type { LogStats } from '../pipeline/stats.js';
import { LOG_KINDS } from '../duo/logs/index.js';

/**
 * Seconds until the position reaches `now - delay` at the pace measured over the last interval:
 * the position moved `advancedMs` of event time in `elapsedMs` of wall time while the target
 * moved `elapsedMs`. 0 when already there; undefined when unknown or not gaining.
 */
export function catchUpEtaSecs(behindMs: number | undefined, delayMs: number, advancedMs: number | undefined, elapsedMs: number): number | undefined {
  if (behindMs === undefined) return undefined;
  const remainingMs = behindMs - delayMs;
  if (remainingMs <= 0) return 0;
  if (advancedMs === undefined || elapsedMs <= 0) return undefined;
  const speed = advancedMs / elapsedMs;
  if (!(speed > 1)) return undefined;
  return Math.round(remainingMs / (speed - 1) / 1000);
}

/** 95 → "1m 35s", 7384 → "2h 3m", 200000 → "2d 7h". */
export function humanDuration(secs: number): string {
  const s = Math.max(0, Math.round(secs));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m ${s % 60}s`;
  if (s < 86_400) return `${Math.floor(s / 3600)}h ${Math.floor((s % 3600) / 60)}m`;
  return `${Math.floor(s / 86_400)}d ${Math.floor((s % 86_400) / 3600)}h`;
}

function positionMs(st: LogStats): number | undefined {
  if (!st.position) return undefined;
  return LOG_KINDS[st.log]?.unit === 's' ? st.position.time * 1000 : st.position.time;
}

/**
 * Several accounts (MSP): one entry per log type, summed (delivered, rate), the worst of the
 * accounts for lag and estimate, "caught up" only when every account is.
 */
function perLogType(stats: readonly LogStats[], rates: Record<string, number>): { stats: LogStats[]; rates: Record<string, number> } {
  const by = new Map<string, LogStats>();
  const outRates: Record<string, number> = {};
  for (const st of stats) {
    const key = `${st.account}\u0000${st.log}`;
    const r = rates[key] ?? rates[st.log];
    if (r !== undefined) outRates[st.log] = (outRates[st.log] ?? 0) + r;
    const acc = by.get(st.log);
    if (!acc) {
      by.set(st.log, { ...st });
      continue;
    }
    acc.eventsDelivered += st.eventsDelivered;
    const p = positionMs(st);
    const q = positionMs(acc);
    if (p !== undefined && (q === undefined || p < q)) acc.position = st.position;
    if (st.lastPollDone === undefined) acc.lastPollDone = undefined;
    acc.etaSecs = acc.etaSecs === undefined || st.etaSecs === undefined ? undefined : Math.max(acc.etaSecs, st.etaSecs);
    if (st.lastError && (!acc.lastError || st.lastError.at > acc.lastError.at)) acc.lastError = st.lastError;
  }
  return { stats: [...by.values()], rates: outRates };
}

/** One line: every log's delivered count, rate, lag and estimate. `rates` are events/s per log (or per account and log). */
export function formatSummary(all: readonly LogStats[], now: number, allRates: Record<string, number> = {}): string {
  const accounts = new Set(all.map((s) => s.account)).size;
  const { stats, rates } = accounts > 1 ? perLogType(all, allRates) : { stats: all, rates: allRates };
  const parts = stats.map((st) => {
    const pos = positionMs(st);
    const bits = [`${st.log} ${st.eventsDelivered.toLocaleString('en-US')}`];
    const rate = rates[st.log];
    if (rate !== undefined && rate > 0) bits.push(`${Math.round(rate).toLocaleString('en-US')}/s`);
    if (pos !== undefined) bits.push(`${humanDuration((now - pos) / 1000)} behind`);
    if (st.lastPollDone !== undefined && st.etaSecs === 0) bits.push('caught up');
    else if (st.etaSecs !== undefined && st.etaSecs > 0) bits.push(`~${humanDuration(st.etaSecs)} to catch up`);
    if (st.lastError && now - st.lastError.at < 60_000) bits.push(`retrying: ${st.lastError.code}`);
    return bits.join(', ');
  });
  return `duo-log-bridge: ${accounts > 1 ? `${accounts} accounts: ` : ''}${parts.join(' | ')}`;
}

const CLEAR = '\r\x1b[2K';

export function progressTtyEnabled(env: NodeJS.ProcessEnv = process.env, stream: { isTTY?: boolean } = process.stderr): boolean {
  if (env.DLB_PROGRESS_TTY === '1') return true;
  if (env.DLB_PROGRESS_TTY === '0') return false;
  return !!stream.isTTY;
}

/** The live status line. `writeLog` is the logger's `write` while it runs. */
export class ProgressLine {
  #shown = '';
  #timer: NodeJS.Timeout | undefined;
  #last = new Map<string, { at: number; events: number }>();
  #rates: Record<string, number> = {};

  constructor(
    private readonly stats: () => readonly LogStats[],
    private readonly out: { write(s: string): unknown; columns?: number } = process.stderr,
    private readonly everyMs = 1000,
    private readonly now: () => number = Date.now,
  ) {}

  start(): void {
    this.#timer = setInterval(() => this.draw(), this.everyMs);
    this.#timer.unref();
  }

  /** Write one log line above the status line. */
  writeLog = (line: string): void => {
    if (this.#shown) this.out.write(CLEAR + line + this.#shown);
    else this.out.write(line);
  };

  draw(): void {
    const now = this.now();
    const stats = this.stats();
    if (!stats.length) return;
    const multi = new Set(stats.map((s) => s.account)).size > 1;
    for (const st of stats) {
      const key = multi ? `${st.account}\u0000${st.log}` : st.log;
      const prev = this.#last.get(key);
      if (prev && now > prev.at) this.#rates[key] = ((st.eventsDelivered - prev.events) * 1000) / (now - prev.at);
      this.#last.set(key, { at: now, events: st.eventsDelivered });
    }
    let line = formatSummary(stats, now, this.#rates);
    const cols = this.out.columns;
    if (cols && line.length > cols - 1) line = line.slice(0, Math.max(10, cols - 2)) + '…';
    this.#shown = line;
    this.out.write(CLEAR + line);
  }

  /** Leave the last summary on its own line. */
  stop(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
    if (this.stats().length) this.draw();
    if (this.#shown) this.out.write('\n');
    this.#shown = '';
  }
}
