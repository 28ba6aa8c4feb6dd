/**
 * What one Duo log endpoint is, as data and pure functions: no I/O, no clock.
 * The pipeline drives these; tests drive them directly with hand-made pages.
 */
import type { Params } from '../sign.js';

/** Duo's raw item, as parsed from the page. */
export type RawItem = Record<string, unknown>;

/** One step of a walk over [mintime, maxtime] (both in the log's own unit). */
export interface Walk {
  mintime: number;
  maxtime: number;
  /** The cursor Duo gave for the next page (v2 logs), or undefined on the first page. */
  nextOffset?: string;
}

export interface Page {
  items: RawItem[];
  /** Duo's `next_offset`, normalised to the string we send back; null when absent. */
  nextOffset: string | null;
}

/** The walk's next step, or `done` with an optional warning (for the log). */
export type Step = { walk: Walk; warning?: string } | { done: true; warning?: string };

export interface LogKind {
  /** The config key and checkpoint name: `authentication`, `administrator`, `telephony`, `telephony_v1`, ... */
  readonly type: string;
  /** The `eventtype` value and tag suffix (`telephony` for both telephony endpoints). */
  readonly eventtype: string;
  /**
   * Whether Duo returns rows in time order. When it does not (trust monitor), the checkpoint
   * moves only when a walk completes: a crash mid-walk re-reads, never skips.
   */
  readonly sorted: boolean;
  readonly path: string;
  /** The unit of `mintime`/`maxtime` and of the checkpoint position. */
  readonly unit: 'ms' | 's';
  /** Rows Duo returns at most per page. */
  readonly pageLimit: number;
  /** Whether Duo takes a `maxtime` (v1 logs do not: the bridge filters the 2-minute delay itself). */
  readonly hasMaxtime: boolean;
  params(walk: Walk): Params;
  /** Parse Duo's `response` value; throws a plain Error when the shape is wrong. */
  parse(response: unknown): Page;
  /** The event's own time, µs since epoch; NaN when the item has none. */
  timeUs(item: RawItem): number;
  /** Duo's id for the item, or a content hash. */
  id(item: RawItem): string;
  /** The shaped record: Duo's keys in order, then eventtype and host. May reuse `item`. */
  shape(item: RawItem, host: string): Record<string, unknown>;
  /** The next step after `page` (the items the server sent, before dedupe). */
  next(walk: Walk, page: Page): Step;
}

export class BadPageError extends Error {}
