/**
 * Time helpers that never consult the host's time zone: Duo's ISO strings carry an
 * explicit offset and are parsed by hand to microseconds; output is always UTC.
 */
const ISO = /^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?(Z|[+-]\d{2}:?\d{2})?$/;

/** Parse an ISO-8601 timestamp (`2020-02-13T18:56:20.351346+00:00`, `…Z`, no fraction) to µs since epoch. NaN when malformed. */
export function isoToMicros(s: string): number {
  const m = ISO.exec(s);
  if (!m) return NaN;
  const ms = Date.UTC(+m[1]!, +m[2]! - 1, +m[3]!, +m[4]!, +m[5]!, +m[6]!);
  const frac = m[7] ? Math.floor(Number((m[7] + '000000').slice(0, 6))) : 0;
  let offsetMin = 0;
  const z = m[8];
  if (z && z !== 'Z') {
    const sign = z[0] === '-' ? -1 : 1;
    const digits = z.slice(1).replace(':', '');
    offsetMin = sign * (Number(digits.slice(0, 2)) * 60 + Number(digits.slice(2, 4)));
  }
  return (ms - offsetMin * 60_000) * 1000 + frac;
}

/** µs since epoch → `2020-02-13T18:56:20.351346+00:00` (Duo's own form). */
export function microsToIso(us: number): string {
  const ms = Math.floor(us / 1000);
  const base = new Date(ms).toISOString().slice(0, 19);
  const frac = String(us - Math.floor(us / 1_000_000) * 1_000_000).padStart(6, '0');
  return `${base}.${frac}+00:00`;
}

/** Parse a config datetime (ISO with Z or offset, or a date) in UTC; NaN when malformed. */
export function parseUtcDatetime(s: string): number {
  const dateOnly = /^\d{4}-\d{2}-\d{2}$/.test(s);
  const us = isoToMicros(dateOnly ? `${s}T00:00:00Z` : /[Zz]|[+-]\d{2}:?\d{2}$/.test(s) ? s.replace(/z$/, 'Z') : `${s}Z`);
  return Number.isNaN(us) ? NaN : Math.floor(us / 1000);
}

/** Resolves after `ms`, or early (without error) when `signal` aborts. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  if (signal?.aborted || ms <= 0) return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal?.addEventListener('abort', done, { once: true });
  });
}
