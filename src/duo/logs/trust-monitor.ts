/**
 * GET /admin/v1/trust_monitor/events: ms window on `surfaced_timestamp`, paged with the
 * parameter `offset` carrying Duo's opaque `metadata.next_offset`; limit at most 200;
 * dedupe by `sekey`. Duo does not document the order, so this log is treated as unsorted:
 * its checkpoint moves when a walk completes.
 */
import { BadPageError, type LogKind, type Page } from './types.js';
import { appendBridgeFields, asObject } from './shape.js';

const LIMIT = 200;

export const trustMonitorLog: LogKind = {
  type: 'trust_monitor',
  eventtype: 'trust_monitor',
  sorted: false,
  path: '/admin/v1/trust_monitor/events',
  unit: 'ms',
  pageLimit: LIMIT,
  hasMaxtime: true,
  params: (walk) => {
    const p: Record<string, string> = { mintime: String(walk.mintime), maxtime: String(walk.maxtime), limit: String(LIMIT) };
    if (walk.nextOffset !== undefined) p.offset = walk.nextOffset;
    return p;
  },
  parse(response: unknown): Page {
    const r = asObject(response, 'response');
    if (!Array.isArray(r.events)) throw new BadPageError('response.events is not a list');
    const no = ((r.metadata ?? {}) as Record<string, unknown>).next_offset;
    const nextOffset = no === undefined || no === null || no === '' ? null : String(no);
    return { items: r.events as Record<string, unknown>[], nextOffset };
  },
  timeUs: (item) => (typeof item.surfaced_timestamp === 'number' ? item.surfaced_timestamp * 1000 : NaN),
  id: (item) => String(item.sekey ?? ''),
  shape: (item, host) => appendBridgeFields(item, 'trust_monitor', host),
  // Opaque offsets: the walk ends when Duo stops sending one (a short page is not proof of the end here).
  next: (walk, page) =>
    page.items.length === 0 || page.nextOffset === null
      ? { done: true }
      : page.nextOffset === walk.nextOffset
        ? { done: true, warning: 'Duo returned the same trust monitor offset twice; ending this walk.' }
        : { walk: { ...walk, nextOffset: page.nextOffset } },
};
