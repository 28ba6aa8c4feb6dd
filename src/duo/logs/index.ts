/** Every log kind the bridge can pull, by config name. */
import { activityLog } from './activity.js';
import { administratorLog, v1ListLog } from './administrator.js';
import { authenticationLog } from './authentication.js';
import { telephonyLog } from './telephony.js';
import { trustMonitorLog } from './trust-monitor.js';
import type { LogKind } from './types.js';

export const LOG_KINDS: Record<string, LogKind> = {
  authentication: authenticationLog,
  administrator: administratorLog,
  telephony: telephonyLog,
  trust_monitor: trustMonitorLog,
  activity: activityLog,
  offline_enrollment: v1ListLog('offline_enrollment', '/admin/v1/logs/offline_enrollment'),
  /** For accounts without telephony v2; records carry eventtype `telephony`. */
  telephony_v1: v1ListLog('telephony_v1', '/admin/v1/logs/telephony', 'telephony'),
};

/** Enabled when a config has no `services` section. */
export const DEFAULT_LOGS = ['authentication', 'administrator', 'telephony'];
