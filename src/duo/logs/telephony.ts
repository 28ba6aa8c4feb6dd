/**
 * GET /admin/v2/logs/telephony: ms window, `"ts,id"` string cursor. Items carry only an ISO
 * `ts`; the bridge adds `isotimestamp` (a copy of `ts`, µs kept) at its alphabetical place so
 * all three logs carry one and the classic telephony regex matches.
 */
import { isoToMicros } from '../../util/time.js';
import { nextV2 } from './paging.js';
import { BadPageError, type LogKind, type Page, type RawItem } from './types.js';
import { appendBridgeFields, asObject, insertSorted } from './shape.js';

const LIMIT = 1000;

export const telephonyLog: LogKind = {
  type: 'telephony',
  eventtype: 'telephony',
  sorted: true,
  path: '/admin/v2/logs/telephony',
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
    if (!Array.isArray(r.items)) throw new BadPageError('response.items is not a list');
    const meta = (r.metadata ?? {}) as Record<string, unknown>;
    const no = meta.next_offset;
    const nextOffset = typeof no === 'string' && no !== '' ? no : Array.isArray(no) && no.length ? no.map(String).join(',') : null;
    return { items: r.items as RawItem[], nextOffset };
  },
  timeUs: (item) => (typeof item.ts === 'string' ? isoToMicros(item.ts) : NaN),
  id: (item) => String(item.telephony_id ?? item.txid ?? ''),
  shape: (item, host) => {
    const withIso = 'isotimestamp' in item ? item : insertSorted(item, 'isotimestamp', item.ts);
    return appendBridgeFields(withIso, 'telephony', host);
  },
  next: (walk, page) => nextV2(walk, page, LIMIT),
};
