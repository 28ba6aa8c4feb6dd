/**
 * The v2 cursor logs (authentication, telephony, activity) differ only in data: where the
 * rows are, which field holds the time and the id, and how a record is shaped. Paging is
 * nextV2: a frozen ms window, `limit=1000`, `sort=ts:asc`, Duo's `next_offset` sent back as one
 * comma-joined string (authentication's `[ms, txid]` array included).
 */
import { isoToMicros } from '../../util/time.js';
import { nextV2 } from './paging.js';
import { BadPageError, type LogKind, type Page, type RawItem } from './types.js';
import { appendBridgeFields, asObject } from './shape.js';

const LIMIT = 1000;

export interface V2CursorLogSpec {
  type: string;
  path: string;
  /** The key of the rows in `response` (`authlogs`, `items`). */
  rowsKey: string;
  timeUs: (item: RawItem) => number;
  id: (item: RawItem) => string;
  /** Extra shaping before `eventtype` and `host` are appended. */
  prepare?: (item: RawItem) => RawItem;
}

export function v2CursorLog(spec: V2CursorLogSpec): LogKind {
  return {
    type: spec.type,
    eventtype: spec.type,
    sorted: true,
    path: spec.path,
    unit: 'ms',
    pageLimit: LIMIT,
    hasMaxtime: true,
    params: (walk) => {
      const p: Record<string, string> = { mintime: String(walk.mintime), maxtime: String(walk.maxtime), limit: String(LIMIT), sort: 'ts:asc' };
      if (walk.nextOffset !== undefined) p.next_offset = walk.nextOffset;
      return p;
    },
    parse(response: unknown): Page {
      const r = asObject(response, 'response');
      const rows = r[spec.rowsKey];
      if (!Array.isArray(rows)) throw new BadPageError(`response.${spec.rowsKey} is not a list`);
      const no = ((r.metadata ?? {}) as Record<string, unknown>).next_offset;
      let nextOffset: string | null = null;
      if (Array.isArray(no) && no.length > 0) nextOffset = no.map(String).join(',');
      else if (typeof no === 'string' && no !== '') nextOffset = no;
      return { items: rows as RawItem[], nextOffset };
    },
    timeUs: spec.timeUs,
    id: spec.id,
    shape: (item, host) => appendBridgeFields(spec.prepare ? spec.prepare(item) : item, spec.type, host),
    next: (walk, page) => nextV2(walk, page, LIMIT),
  };
}

/** Time from an ISO string field (`ts`, `isotimestamp`), µs kept. */
export const isoField =
  (field: string) =>
  (item: RawItem): number =>
    typeof item[field] === 'string' ? isoToMicros(item[field] as string) : NaN;
