/** Every log kind the bridge can pull, by config name. */
import { administratorLog } from './administrator.js';
import { authenticationLog } from './authentication.js';
import { telephonyLog } from './telephony.js';
import type { LogKind } from './types.js';

export const LOG_KINDS: Record<string, LogKind> = {
  authentication: authenticationLog,
  administrator: administratorLog,
  telephony: telephonyLog,
};
