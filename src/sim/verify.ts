/**
 * The simulator's own signature check, written apart from src/duo/sign.ts on purpose:
 * a canonicalization bug in the bridge cannot pass here by sharing code with it.
 * Accepts v5 (SHA-512 with body and X-Duo header hashes) and v2 (SHA-512 or SHA-1).
 */
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';

const UNRESERVED = /[A-Za-z0-9\-_.~]/;

function pct(s: string): string {
  let out = '';
  for (const byte of Buffer.from(s, 'utf8')) {
    const ch = String.fromCharCode(byte);
    out += byte < 0x80 && UNRESERVED.test(ch) ? ch : '%' + byte.toString(16).toUpperCase().padStart(2, '0');
  }
  return out;
}

/** Parse a raw query or form body into (key, value) pairs, `+` meaning space. */
export function parsePairs(raw: string): [string, string][] {
  if (!raw) return [];
  return raw.split('&').filter(Boolean).map((part) => {
    const eq = part.indexOf('=');
    const k = eq < 0 ? part : part.slice(0, eq);
    const v = eq < 0 ? '' : part.slice(eq + 1);
    const dec = (x: string) => decodeURIComponent(x.replace(/\+/g, ' '));
    return [dec(k), dec(v)];
  });
}

function canon(pairs: [string, string][]): string {
  return pairs
    .map(([k, v]) => [pct(k), pct(v)] as const)
    .sort((a, b) => (a[0] === b[0] ? (a[1] < b[1] ? -1 : a[1] > b[1] ? 1 : 0) : a[0] < b[0] ? -1 : 1))
    .map(([k, v]) => k + '=' + v)
    .join('&');
}

const sha512 = (s: string) => createHash('sha512').update(s, 'utf8').digest('hex');

export interface SignedRequest {
  method: string;
  host: string;
  path: string;
  pairs: [string, string][];
  body: string;
  headers: Record<string, string | string[] | undefined>;
}

export type VerifyResult = { ok: true; ikey: string; date: string } | { ok: false; code: 40101 | 40102 | 40103; message: string };

export function verifySignature(req: SignedRequest, keys: Map<string, string>): VerifyResult {
  const auth = String(req.headers.authorization ?? '');
  const m = /^Basic\s+(.+)$/i.exec(auth);
  if (!m) return { ok: false, code: 40101, message: 'Missing request credentials' };
  const decoded = Buffer.from(m[1]!, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon < 0) return { ok: false, code: 40101, message: 'Missing request credentials' };
  const ikey = decoded.slice(0, colon);
  const sig = decoded.slice(colon + 1);
  const skey = keys.get(ikey);
  if (!skey) return { ok: false, code: 40102, message: 'Invalid integration key in request credentials' };
  const xDate = req.headers['x-duo-date'];
  const date = String(xDate ?? req.headers.date ?? '');
  const host = req.host.toLowerCase();
  const method = req.method.toUpperCase();
  const params = method === 'GET' ? canon(req.pairs) : '';
  const base = [date, method, host, req.path];
  const duoHeaders = Object.entries(req.headers)
    .filter(([k]) => k.toLowerCase().startsWith('x-duo-'))
    .map(([k, v]) => [k.toLowerCase(), String(v)] as const)
    .sort((a, b) => (a[0] < b[0] ? -1 : 1));
  const v5 = [...base, params, sha512(req.body), sha512(duoHeaders.flatMap(([k, v]) => [k, v]).join('\0'))].join('\n');
  const v2params = method === 'GET' ? params : canon(parsePairs(req.body));
  const v2 = [...base, v2params].join('\n');
  const candidates = [createHmac('sha512', skey).update(v5).digest('hex'), createHmac('sha512', skey).update(v2).digest('hex'), createHmac('sha1', skey).update(v2).digest('hex')];
  const given = Buffer.from(sig);
  for (const c of candidates) {
    const want = Buffer.from(c);
    if (want.length === given.length && timingSafeEqual(want, given)) return { ok: true, ikey, date };
  }
  return { ok: false, code: 40103, message: 'Invalid signature in request credentials' };
}

/** Parse an RFC 2822 date; NaN if unreadable. */
export function parseHttpDate(s: string): number {
  return Date.parse(s.replace(/-0000$/, '+0000'));
}
