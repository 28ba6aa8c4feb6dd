/** GET /admin/v2/logs/authentication: ms window, `limit=1000`, `sort=ts:asc`, `next_offset` = [ms, txid] sent back comma-joined. */
import { isoToMicros } from '../../util/time.js';
import { nextV2 } from './paging.js';
import { BadPageError, type LogKind, type Page, type RawItem } from './types.js';
import { appendBridgeFields, asObject } from './shape.js';

const LIMIT = 1000;

export const authenticationLog: LogKind = {
  type: 'authentication',
  eventtype: 'authentication',
  sorted: true,
  path: '/admin/v2/logs/authentication',
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
    if (!Array.isArray(r.authlogs)) throw new BadPageError('response.authlogs is not a list');
    const meta = (r.metadata ?? {}) as Record<string, unknown>;
    const no = meta.next_offset;
    let nextOffset: string | null = null;
    if (Array.isArray(no) && no.length > 0) nextOffset = no.map(String).join(',');
    else if (typeof no === 'string' && no !== '') nextOffset = no;
    return { items: r.authlogs as RawItem[], nextOffset };
  },
  timeUs: (item) =>
    typeof item.isotimestamp === 'string' ? isoToMicros(item.isotimestamp) : typeof item.timestamp === 'number' ? item.timestamp * 1e6 : NaN,
  id: (item) => String(item.txid ?? ''),
  shape: (item, host) => appendBridgeFields(item, 'authentication', host),
  next: (walk, page) => nextV2(walk, page, LIMIT),
};
