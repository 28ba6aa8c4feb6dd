/** Record shaping shared by the log kinds. Pure. */
import { createHash } from 'node:crypto';
import { BadPageError, type RawItem } from './types.js';

export function asObject(v: unknown, what: string): Record<string, unknown> {
  if (!v || typeof v !== 'object' || Array.isArray(v)) throw new BadPageError(`${what} is not an object`);
  return v as Record<string, unknown>;
}

/**
 * Duo's keys in Duo's order, then `eventtype` and `host` last, as duo_client_python does.
 * Mutates and returns `item` (it was parsed for us alone): cheaper than copying.
 */
export function appendBridgeFields(item: RawItem, eventtype: string, host: string): RawItem {
  delete item.eventtype;
  delete item.host;
  item.eventtype = eventtype;
  item.host = host;
  return item;
}

/** Insert `key: value` at its alphabetical position among `item`'s keys (Duo sorts its keys). */
export function insertSorted(item: RawItem, key: string, value: unknown): RawItem {
  const out: RawItem = {};
  let placed = false;
  for (const k of Object.keys(item)) {
    if (!placed && k > key) {
      out[key] = value;
      placed = true;
    }
    out[k] = item[k];
  }
  if (!placed) out[key] = value;
  return out;
}

/** A content hash for logs whose rows carry no id (administrator, v1 telephony, offline enrollment). */
export function contentId(item: RawItem): string {
  return createHash('sha1').update(JSON.stringify(item)).digest('base64url');
}
