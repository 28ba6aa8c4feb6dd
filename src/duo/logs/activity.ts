/** GET /admin/v2/logs/activity (public preview): ms window, `"ts,id"` cursor like telephony; dedupe by `activity_id`; `action` may be a string or an object. */
import { isoToMicros } from '../../util/time.js';
import { nextV2 } from './paging.js';
import { BadPageError, type LogKind, type Page } from './types.js';
import { appendBridgeFields, asObject } from './shape.js';

const LIMIT = 1000;

export const activityLog: LogKind = {
  type: 'activity',
  eventtype: 'activity',
  sorted: true,
  path: '/admin/v2/logs/activity',
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
    const no = ((r.metadata ?? {}) as Record<string, unknown>).next_offset;
    const nextOffset = typeof no === 'string' && no !== '' ? no : Array.isArray(no) && no.length ? no.map(String).join(',') : null;
    return { items: r.items as Record<string, unknown>[], nextOffset };
  },
  timeUs: (item) => (typeof item.ts === 'string' ? isoToMicros(item.ts) : NaN),
  id: (item) => String(item.activity_id ?? ''),
  shape: (item, host) => appendBridgeFields(item, 'activity', host),
  next: (walk, page) => nextV2(walk, page, LIMIT),
};
