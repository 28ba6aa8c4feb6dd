/**
 * Per-log start times from the environment, in the units container users already know
 * (Observo's and similar scripts): ADMIN_SINCE_TIME in seconds, AUTH_SINCE_TIME and
 * TELEPHONY_SINCE_TIME in milliseconds. 10 digits are read as seconds and 13 as milliseconds
 * whatever the name says: the mix-up those tools' troubleshooting pages warn about.
 * Used only where the config sets no start_datetime_utc for that log.
 */
export const START_ENV: readonly (readonly [name: string, log: string, unit: 's' | 'ms'])[] = [
  ['AUTH_SINCE_TIME', 'authentication', 'ms'],
  ['ADMIN_SINCE_TIME', 'administrator', 's'],
  ['TELEPHONY_SINCE_TIME', 'telephony', 'ms'],
];

/** A Unix time in seconds or milliseconds → ISO-8601 UTC, or an error text. */
export function sinceToIso(raw: string): { iso: string } | { error: string } {
  const t = raw.trim();
  if (!/^\d{9,13}$/.test(t)) return { error: `${JSON.stringify(raw)} is not a Unix time in seconds (10 digits) or milliseconds (13 digits)` };
  const n = Number(t);
  return { iso: new Date(t.length >= 12 ? n : n * 1000).toISOString() };
}
