/** GET /admin/v2/logs/authentication: ms window, `limit=1000`, `sort=ts:asc`, `next_offset` = [ms, txid] sent back comma-joined. */
import { isoField, v2CursorLog } from './v2-cursor.js';

const fromIso = isoField('isotimestamp');

export const authenticationLog = v2CursorLog({
  type: 'authentication',
  path: '/admin/v2/logs/authentication',
  rowsKey: 'authlogs',
  // `isotimestamp` carries µs; `timestamp` is whole seconds (a fallback only).
  timeUs: (item) => (typeof item.isotimestamp === 'string' ? fromIso(item) : typeof item.timestamp === 'number' ? item.timestamp * 1e6 : NaN),
  id: (item) => String(item.txid ?? ''),
});
