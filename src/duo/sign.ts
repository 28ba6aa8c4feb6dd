/**
 * Duo Admin API request signing, v2 (HMAC-SHA512, or SHA1 when asked) and v5 (HMAC-SHA512
 * over date, method, host, path, params, body hash and X-Duo header hash).
 * Pure: no clock, no I/O. The caller passes the Date string it will send.
 * Reference: ../shared/docs/duo-admin-api.md section 1; every published vector is a test.
 */
import { createHash, createHmac } from 'node:crypto';

export type Params = Record<string, string | number | boolean | readonly (string | number | boolean)[]>;
export type SigVersion = 2 | 5;
export type Digest = 'sha512' | 'sha1';

const EMPTY_SHA512 = createHash('sha512').update('').digest('hex');

/** RFC 3986 percent-encoding keeping only A-Z a-z 0-9 - _ . ~ (upper-case hex). */
export function duoEncode(s: string): string {
  return encodeURIComponent(s).replace(/[!'()*]/g, (c) => '%' + c.charCodeAt(0).toString(16).toUpperCase());
}

function scalar(v: string | number | boolean): string {
  return typeof v === 'boolean' ? (v ? 'true' : 'false') : String(v);
}

/** Canonical query string: encoded pairs sorted by encoded key, repeated values sorted (as Duo's Python and Go clients do). */
export function canonParams(params: Params): string {
  const pairs: [string, string][] = [];
  for (const [k, raw] of Object.entries(params)) {
    const key = duoEncode(k);
    const values = (Array.isArray(raw) ? raw : [raw]).map((v) => duoEncode(scalar(v as string | number | boolean))).sort();
    for (const v of values) pairs.push([key, v]);
  }
  pairs.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  return pairs.map(([k, v]) => `${k}=${v}`).join('&');
}

/** SHA-512 over the X-Duo-* headers: lower-cased names, sorted, name\0value\0... */
export function headersHash(headers: Record<string, string>): string {
  const items = Object.entries(headers)
    .map(([k, v]) => [k.toLowerCase(), v] as const)
    .filter(([k]) => k.startsWith('x-duo-'))
    .sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  const seen = new Set<string>();
  const parts: string[] = [];
  for (const [k, v] of items) {
    if (seen.has(k)) throw new Error(`Duplicate X-Duo header ${k}.`);
    if (k.includes('\0') || v.includes('\0')) throw new Error('X-Duo headers cannot contain NUL.');
    seen.add(k);
    parts.push(k, v);
  }
  return createHash('sha512').update(parts.join('\0'), 'utf8').digest('hex');
}

export function bodyHash(body: string): string {
  return body === '' ? EMPTY_SHA512 : createHash('sha512').update(body, 'utf8').digest('hex');
}

export interface CanonInput {
  date: string;
  method: string;
  host: string;
  path: string;
  params: Params;
  /** v5 only: the exact body bytes sent (empty for GET). */
  body?: string;
  /** v5 only: extra headers; only X-Duo-* ones are hashed. */
  headers?: Record<string, string>;
}

export function canonicalize(version: SigVersion, r: CanonInput): string {
  const lines = [r.date, r.method.toUpperCase(), r.host.toLowerCase(), r.path, canonParams(r.params)];
  if (version === 5) lines.push(bodyHash(r.body ?? ''), headersHash(r.headers ?? {}));
  return lines.join('\n');
}

export interface SignInput extends CanonInput {
  ikey: string;
  skey: string;
  version: SigVersion;
  /** v2 only; v5 always uses SHA-512. */
  digest?: Digest;
}

/** The hex HMAC signature. */
export function signature(s: SignInput): string {
  const digest = s.version === 5 ? 'sha512' : (s.digest ?? 'sha512');
  return createHmac(digest, Buffer.from(s.skey, 'utf8')).update(canonicalize(s.version, s), 'utf8').digest('hex');
}

/** The Authorization header value: `Basic base64(ikey:hexsig)`. */
export function authorization(s: SignInput): string {
  return 'Basic ' + Buffer.from(`${s.ikey}:${signature(s)}`, 'utf8').toString('base64');
}

/** An RFC 2822 date as Duo's Python client writes it (`Tue, 21 Nov 2023 22:13:20 -0000`), always UTC. */
export function rfc2822(ms: number): string {
  return new Date(ms).toUTCString().replace('GMT', '-0000');
}
