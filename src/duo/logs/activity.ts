/** GET /admin/v2/logs/activity (public preview): ms window, `"ts,id"` cursor like telephony; dedupe by `activity_id`; `action` may be a string or an object (passed through as sent). */
import { isoField, v2CursorLog } from './v2-cursor.js';

export const activityLog = v2CursorLog({
  type: 'activity',
  path: '/admin/v2/logs/activity',
  rowsKey: 'items',
  timeUs: isoField('ts'),
  id: (item) => String(item.activity_id ?? ''),
});
