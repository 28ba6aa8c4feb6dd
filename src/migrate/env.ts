/**
 * Environment-variable setups (container collectors, Observo's Duo script): DUO_API_HOST,
 * DUO_INTEGRATION_KEY, DUO_SECRET_KEY and per-log start times in the units those users know:
 * ADMIN_SINCE_TIME in seconds, AUTH_SINCE_TIME and TELEPHONY_SINCE_TIME in milliseconds.
 * The bridge reads all of them at run time too (src/config/env-starts.ts); migrating writes the
 * start times into start_datetime_utc so the config says them, and leaves the credentials in the
 * environment (never copied into the file).
 * Pure: the environment comes in as a plain object.
 */
import type { Migration, Note } from './types.js';
import { START_ENV } from '../config/env-starts.js';

const SINCE = START_ENV;

/** The variables this reads (for detection and messages). */
export const ENV_NAMES = ['DUO_API_HOST', 'DUO_INTEGRATION_KEY', 'DUO_SECRET_KEY', ...SINCE.map((s) => s[0])];

export function migrateEnv(env: Record<string, string | undefined>): Migration {
  const notes: Note[] = [];
  const m: Migration = {
    kind: 'env',
    credentials: {
      // Left to the environment at run time: the bridge reads the same three variables.
      from: { integrationKey: 'DUO_INTEGRATION_KEY', secretKey: 'DUO_SECRET_KEY', hostname: 'DUO_API_HOST' },
    },
    services: {},
    notes,
    envCredentials: true,
  };
  const set = ['DUO_API_HOST', 'DUO_INTEGRATION_KEY', 'DUO_SECRET_KEY'].filter((k) => env[k]);
  const unset = ['DUO_API_HOST', 'DUO_INTEGRATION_KEY', 'DUO_SECRET_KEY'].filter((k) => !env[k]);
  notes.push({
    at: 'credentials',
    text:
      `left to the environment: the bridge reads ${set.length ? set.join(', ') : 'DUO_API_HOST, DUO_INTEGRATION_KEY and DUO_SECRET_KEY'} itself at run time, so no key is copied into this file.` +
      (unset.length ? ` Not set now: ${unset.join(', ')}; set ${unset.length > 1 ? 'them' : 'it'} where the bridge runs.` : ''),
  });
  for (const [name, log, unit] of SINCE) {
    const raw = env[name]?.trim();
    if (!raw) {
      m.services[log] = { start: '' };
      continue;
    }
    if (!/^\d+$/.test(raw)) {
      m.services[log] = { start: '' };
      notes.push({ at: `services.${log}`, text: `${name} ${JSON.stringify(raw)} is not a Unix time; this log starts at the oldest event Duo keeps. Set start_datetime_utc by hand.` });
      continue;
    }
    const n = Number(raw);
    // 10 digits = seconds, 13 = milliseconds: the mix-up Observo's troubleshooting warns about.
    const given: 's' | 'ms' = raw.length >= 12 ? 'ms' : 's';
    const ms = given === 'ms' ? n : n * 1000;
    const start = new Date(ms).toISOString();
    m.services[log] = { start };
    notes.push({
      at: `services.${log}`,
      text:
        `start_datetime_utc from ${name}=${raw} (${given === 'ms' ? 'milliseconds' : 'seconds'} since 1970)` +
        (given !== unit ? `; ${name} is meant in ${unit === 'ms' ? 'milliseconds (13 digits)' : 'seconds (10 digits)'}, but ${raw.length} digits can only be ${given === 'ms' ? 'milliseconds' : 'seconds'}, so it was read as such` : '') +
        '. Inclusive: events at that exact time are read.',
    });
  }
  return m;
}
