/** GET /admin/v1/logs/administrator: `mintime` in seconds only; the 1000 earliest rows; no ids (content hash). */
import { nextV1 } from './paging.js';
import { BadPageError, type LogKind, type RawItem } from './types.js';
import { appendBridgeFields, contentId } from './shape.js';

/** Shared by every v1 list log (administrator, telephony v1, offline enrollment). */
export function v1ListLog(type: string, path: string, eventtype = type): LogKind {
  const LIMIT = 1000;
  const seconds = (item: RawItem): number => (typeof item.timestamp === 'number' ? item.timestamp : Number(item.timestamp));
  return {
    type,
    eventtype,
    sorted: true,
    path,
    unit: 's',
    pageLimit: LIMIT,
    hasMaxtime: false,
    params: (walk) => ({ mintime: String(walk.mintime) }),
    parse(response: unknown) {
      if (!Array.isArray(response)) throw new BadPageError('response is not a list');
      return { items: response as RawItem[], nextOffset: null };
    },
    timeUs: (item) => seconds(item) * 1e6,
    id: (item) => contentId(item),
    shape: (item, host) => appendBridgeFields(item, eventtype, host),
    next: (walk, page) => nextV1(walk, page.items.map(seconds), LIMIT),
  };
}

export const administratorLog: LogKind = v1ListLog('administrator', '/admin/v1/logs/administrator');
