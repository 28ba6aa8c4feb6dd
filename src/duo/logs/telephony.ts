/**
 * GET /admin/v2/logs/telephony: ms window, `"ts,id"` string cursor. Items carry only an ISO
 * `ts`; the bridge adds `isotimestamp` (a copy of `ts`, µs kept) at its alphabetical place so
 * all three logs carry one and the classic telephony regex matches.
 */
import { insertSorted } from './shape.js';
import { isoField, v2CursorLog } from './v2-cursor.js';

export const telephonyLog = v2CursorLog({
  type: 'telephony',
  path: '/admin/v2/logs/telephony',
  rowsKey: 'items',
  timeUs: isoField('ts'),
  id: (item) => String(item.telephony_id ?? item.txid ?? ''),
  prepare: (item) => ('isotimestamp' in item ? item : insertSorted(item, 'isotimestamp', item.ts)),
});
