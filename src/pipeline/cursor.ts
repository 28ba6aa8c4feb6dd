/**
 * Where each walk starts and what of a page is new. Pure: the caller passes `now`.
 *
 * The checkpoint position is (time, ids): the largest event time delivered, in the log's
 * unit, and the ids delivered at exactly that time (a multiset, since v1 rows have no id
 * and two identical rows hash alike). A walk starts at mintime = that time, inclusive, so
 * an event sharing the boundary millisecond/second is never skipped; rows already
 * delivered at the boundary are dropped by id.
 */
import type { LogKind, RawItem, Walk } from '../duo/logs/types.js';

export interface Position {
  /** In the log's unit (ms or s). */
  time: number;
  ids: string[];
}

export const DAY_MS = 86_400_000;
/** Duo keeps 180 days; asking for older data is a 400 (40002). */
export const WINDOW_MS = 180 * DAY_MS;
/** Stay this far inside the window, so the walk is not rejected while it runs. */
export const WINDOW_MARGIN_MS = 10 * 60_000;

export interface PlanOptions {
  nowMs: number;
  /** Duo's availability delay (default 120 s). */
  delayMs: number;
  /** The configured start, used when there is no checkpoint. */
  startMs: number;
}

export interface Plan {
  walk: Walk;
  /** Set when the start was older than Duo's 180-day window and was moved up (ms). */
  clampedFromMs?: number;
}

function toUnit(kind: LogKind, ms: number, round: 'floor' | 'ceil'): number {
  return kind.unit === 'ms' ? ms : round === 'floor' ? Math.floor(ms / 1000) : Math.ceil(ms / 1000);
}

function fromUnit(kind: LogKind, t: number): number {
  return kind.unit === 'ms' ? t : t * 1000;
}

/** The oldest start Duo still accepts at `nowMs`, with a margin. */
export function windowStartMs(nowMs: number): number {
  return nowMs - WINDOW_MS + WINDOW_MARGIN_MS;
}

/** The first request of a walk, or null when there is nothing old enough to ask for yet. */
export function planWalk(kind: LogKind, position: Position | null, o: PlanOptions): Plan | null {
  const startMs = position ? fromUnit(kind, position.time) : o.startMs;
  const oldest = windowStartMs(o.nowMs);
  const plan: Plan = { walk: { mintime: 0, maxtime: toUnit(kind, o.nowMs - o.delayMs, 'floor') } };
  let mintimeMs = startMs;
  if (startMs < oldest) {
    plan.clampedFromMs = startMs;
    mintimeMs = oldest;
  }
  plan.walk.mintime = position && plan.clampedFromMs === undefined ? position.time : toUnit(kind, mintimeMs, 'ceil');
  if (plan.walk.mintime >= plan.walk.maxtime) return null;
  return plan;
}

/** True when a running walk's mintime has aged out of Duo's window and must be re-planned. */
export function walkExpired(kind: LogKind, walk: Walk, nowMs: number): boolean {
  return fromUnit(kind, walk.mintime) < nowMs - WINDOW_MS + 60_000;
}

export interface Accepted {
  /** New rows, in Duo's order. */
  fresh: RawItem[];
  /** Their ids and times (µs), parallel to `fresh`. */
  ids: string[];
  timesUs: number[];
  /** The position after delivering `fresh`. */
  position: Position | null;
  /** Rows newer than the walk's maxtime (v1 logs, which take no maxtime): left for a later poll. */
  notYetDue: number;
  /** Rows without a usable time: delivered, but they cannot move the position. */
  untimed: number;
}

/** Drop rows already delivered at the boundary and rows not yet due; compute the position after the rest. */
export function acceptPage(kind: LogKind, position: Position | null, walk: Walk, items: readonly RawItem[]): Accepted {
  const out: Accepted = { fresh: [], ids: [], timesUs: [], position, notYetDue: 0, untimed: 0 };
  let seen: Map<string, number> | undefined;
  if (position && position.ids.length) {
    seen = new Map();
    for (const id of position.ids) seen.set(id, (seen.get(id) ?? 0) + 1);
  }
  let time = position?.time ?? -Infinity;
  let ids = position ? position.ids.slice() : [];
  const perUnit = kind.unit === 'ms' ? 1000 : 1_000_000;
  for (const item of items) {
    const us = kind.timeUs(item);
    const id = kind.id(item);
    if (Number.isNaN(us)) {
      out.untimed++;
      out.fresh.push(item);
      out.ids.push(id);
      out.timesUs.push(NaN);
      continue;
    }
    const t = Math.floor(us / perUnit);
    if (!kind.hasMaxtime && t > walk.maxtime) {
      out.notYetDue++;
      continue;
    }
    if (seen && position && t === position.time) {
      const n = seen.get(id);
      if (n) {
        if (n === 1) seen.delete(id);
        else seen.set(id, n - 1);
        continue;
      }
    }
    if (t > time) {
      time = t;
      ids = [id];
    } else if (t === time) {
      ids.push(id);
    }
    out.fresh.push(item);
    out.ids.push(id);
    out.timesUs.push(us);
  }
  if (time !== -Infinity) out.position = { time, ids };
  return out;
}
