/**
 * A Duo Admin API simulator for demos and tests. It behaves like Duo where the bridge can
 * tell: verifies v2/v5 signatures (401 40101/40102/40103), rejects stale dates (40105),
 * enforces the 180-day window and millisecond units (400 40002), hides the newest two
 * minutes, pages each log as Duo documents it, rate-limits per endpoint with 429/42901
 * (no Retry-After), and injects faults on demand (5xx, slow answers, truncated JSON, HTML).
 * Production code never imports this folder.
 */
import http from 'node:http';
import https from 'node:https';
import { randomBytes } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { parsePairs, parseHttpDate, verifySignature } from './verify.js';
import { buildTimeline, EVENT_BUILDERS, idIndex, isoMicros, lowerBound, upperBound, type SimLog, type Timeline } from './generate.js';

export type FaultKind = '500' | '503' | '429' | 'slow' | 'truncated' | 'html' | '40105' | '40301' | 'reset';

export interface SimOptions {
  /** Events per log (default 1000 each for the three core logs, 0 for the others). */
  events?: Partial<Record<SimLog, number>>;
  /**
   * MSP: serve `POST /accounts/v1/account/list` with this many child accounts, each with
   * `events` per log (seeded by its account id), reached with `account_id`.
   */
  msp?: { children: number; events: Partial<Record<SimLog, number>>; forbidden?: string[] };
  /** The events' time span, ending `endAgoMs` before now (defaults: 6 h, ending 3 min ago). */
  spanMs?: number;
  endAgoMs?: number;
  seed?: number;
  host?: string;
  port?: number;
  tls?: { cert: string | Buffer; key: string | Buffer };
  ikey?: string;
  skey?: string;
  /** Per endpoint: at most `requests` in any `windowMs` (Duo: about 2 per minute). */
  rateLimit?: { requests: number; windowMs: number };
  /** Random faults: each request fails with probability `rate`, with one of `kinds`. */
  faults?: { rate: number; kinds: FaultKind[]; seed?: number };
  /** On the last page of a v2 walk: send `null` (default) or a cursor anyway. */
  finalNextOffset?: 'null' | 'cursor';
  /** How long a 'slow' fault waits. */
  slowMs?: number;
  delayMs?: number;
  /** Accepted clock skew of a request's Date before 40105 (default 300 s). */
  maxSkewMs?: number;
  now?: () => number;
}

export interface Simulator {
  /** Use as `credentials.hostname`: `http://127.0.0.1:PORT` (or https://). */
  hostname: string;
  port: number;
  ikey: string;
  skey: string;
  /** The exact NDJSON lines the bridge must output for `log` (events visible now), in Duo's order; `account` for an MSP child. */
  expectedLines(log: SimLog, account?: string): string[];
  /** MSP child account ids. */
  children: string[];
  /** Add or remove MSP children while running. */
  setChildren(ids: string[]): void;
  /** Queue faults for the next requests (to `path`, or any log path). */
  injectFaults(kinds: FaultKind[], path?: string): void;
  /** Requests served, by path and HTTP status. */
  counts: Record<string, Record<number, number>>;
  /** Every answer in order: [ms since epoch, path, HTTP status]. */
  history: [number, string, number][];
  close(): Promise<void>;
}

type Style = 'auth' | 'items' | 'v1' | 'tm';
const ENDPOINTS: Record<string, { log: SimLog; style: Style }> = {
  '/admin/v2/logs/authentication': { log: 'authentication', style: 'auth' },
  '/admin/v1/logs/administrator': { log: 'administrator', style: 'v1' },
  '/admin/v2/logs/telephony': { log: 'telephony', style: 'items' },
  '/admin/v2/logs/activity': { log: 'activity', style: 'items' },
  '/admin/v1/trust_monitor/events': { log: 'trust_monitor', style: 'tm' },
  '/admin/v1/logs/offline_enrollment': { log: 'offline_enrollment', style: 'v1' },
  '/admin/v1/logs/telephony': { log: 'telephony_v1', style: 'v1' },
};
const ID_FIELD: Partial<Record<SimLog, string>> = { authentication: 'txid', telephony: 'telephony_id', activity: 'activity_id' };
const EVENTTYPE: Record<SimLog, string> = {
  authentication: 'authentication',
  administrator: 'administrator',
  telephony: 'telephony',
  activity: 'activity',
  trust_monitor: 'trust_monitor',
  offline_enrollment: 'offline_enrollment',
  telephony_v1: 'telephony',
};
const WINDOW_MS = 180 * 86_400_000;

class HttpFail {
  constructor(
    readonly status: number,
    readonly code: number,
    readonly message: string,
    readonly detail?: string,
  ) {}
}

export async function startSimulator(opts: SimOptions = {}): Promise<Simulator> {
  const now = opts.now ?? Date.now;
  const seed = opts.seed ?? 1;
  const delayMs = opts.delayMs ?? 120_000;
  const ikey = opts.ikey ?? 'DI' + randomBytes(9).toString('hex').toUpperCase();
  const skey = opts.skey ?? randomBytes(20).toString('hex');
  const keys = new Map([[ikey, skey]]);
  const end = now() - (opts.endAgoMs ?? 180_000);
  const span = opts.spanMs ?? 6 * 3_600_000;
  const CORE: SimLog[] = ['authentication', 'administrator', 'telephony'];
  const timelines = new Map<string, { tl: Timeline; seed: number }>();
  let children = Array.from({ length: opts.msp?.children ?? 0 }, (_, i) => `DA${(100000 + i).toString().padStart(18, '0')}`);
  const seedFor = (account: string) => (account ? [...account].reduce((h, c) => Math.imul(h ^ c.charCodeAt(0), 16777619) >>> 0, 2166136261) : seed);
  /** The timeline of `log` for the parent ('') or an MSP child, built on first use. */
  const timeline = (log: SimLog, account: string) => {
    const key = `${account}|${log}`;
    let t = timelines.get(key);
    if (!t) {
      const n = account ? (opts.msp?.events[log] ?? 0) : (opts.events?.[log] ?? (CORE.includes(log) ? 1000 : 0));
      const sd = seedFor(account);
      t = { tl: buildTimeline(log, n, end - span, end, sd), seed: sd };
      timelines.set(key, t);
    }
    return t;
  };
  for (const log of CORE) timeline(log, '');
  const counts: Record<string, Record<number, number>> = {};
  const recent = new Map<string, number[]>();
  const queued: { kind: FaultKind; path?: string }[] = [];
  let faultRnd = opts.faults?.seed ?? 12345;
  const nextRandom = () => {
    faultRnd = (Math.imul(faultRnd, 1103515245) + 12345) >>> 0;
    return faultRnd / 4294967296;
  };

  const visibleUntilUs = () => (now() - delayMs) * 1000;

  function pageV2(log: SimLog, style: Style, q: Map<string, string>, account: string): unknown {
    const mintime = msParam(q, 'mintime');
    const maxtime = msParam(q, 'maxtime');
    if (mintime < now() - WINDOW_MS) throw new HttpFail(400, 40002, 'Invalid request parameters', 'mintime must be within the past 180 days');
    if (mintime >= maxtime) throw new HttpFail(400, 40002, 'Invalid request parameters', 'mintime must be less than maxtime');
    const maxLimit = style === 'tm' ? 200 : 1000;
    const limit = q.has('limit') ? Number(q.get('limit')) : style === 'tm' ? 50 : 100;
    if (!Number.isInteger(limit) || limit < 1 || limit > maxLimit) throw new HttpFail(400, 40002, 'Invalid request parameters', 'limit');
    if (style !== 'tm' && q.get('sort') !== 'ts:asc') throw new HttpFail(400, 40002, 'Invalid request parameters', 'the simulator serves sort=ts:asc only');
    const { tl, seed: sd } = timeline(log, account);
    const times = tl.times;
    const hi = upperBound(times, Math.min(maxtime * 1000 + 999, visibleUntilUs()));
    let from = lowerBound(times, mintime * 1000);
    if (style === 'tm') {
      const offset = q.get('offset');
      if (offset) {
        const idx = parseInt(offset, 36);
        if (!Number.isInteger(idx) || idx < 0) throw new HttpFail(400, 40002, 'Invalid request parameters', 'offset');
        from = Math.max(from, idx);
      }
    } else {
      const offset = q.get('next_offset');
      if (offset) {
        const [ms, id] = offset.split(',');
        const idx = idIndex(id ?? '');
        if (idx < 0 || idx >= times.length || Math.floor(times[idx]! / 1000) !== Number(ms)) throw new HttpFail(400, 40002, 'Invalid request parameters', 'next_offset');
        from = Math.max(from, idx + 1);
      }
    }
    const to = Math.min(hi, from + limit);
    const items: Record<string, unknown>[] = [];
    for (let i = from; i < to; i++) items.push(EVENT_BUILDERS[log](sd, i, times[i]!));
    const more = to < hi;
    if (style === 'tm') {
      // Trust monitor order is undocumented: serve each page newest first to keep clients honest.
      items.reverse();
      return { events: items, metadata: more ? { next_offset: to.toString(36) } : {} };
    }
    let next: unknown = null;
    if (items.length && (more || opts.finalNextOffset === 'cursor')) {
      const ms = String(Math.floor(times[to - 1]! / 1000));
      const id = String(items[items.length - 1]![ID_FIELD[log]!]);
      next = style === 'auth' ? [ms, id] : `${ms},${id}`;
    }
    const key = style === 'auth' ? 'authlogs' : 'items';
    return { [key]: items, metadata: { next_offset: next, total_objects: style === 'items' ? { relation: 'eq', value: hi - from } : hi - from } };
  }

  function pageV1(log: SimLog, q: Map<string, string>, account: string): unknown {
    const raw = q.get('mintime');
    if (raw === undefined || !/^\d{1,10}$/.test(raw)) throw new HttpFail(400, 40002, 'Invalid request parameters', "'mintime' must be a timestamp in seconds");
    const mintime = Number(raw);
    if (mintime * 1000 < now() - WINDOW_MS) throw new HttpFail(400, 40002, 'Invalid request parameters', 'mintime must be within the past 180 days');
    const { tl, seed: sd } = timeline(log, account);
    const times = tl.times;
    const from = lowerBound(times, mintime * 1e6);
    const hi = upperBound(times, visibleUntilUs());
    const to = Math.min(hi, from + 1000);
    const items: unknown[] = [];
    for (let i = from; i < to; i++) items.push(EVENT_BUILDERS[log](sd, i, times[i]!));
    return items;
  }

  function msParam(q: Map<string, string>, name: string): number {
    const raw = q.get(name);
    if (raw === undefined || !/^\d{13}$/.test(raw)) throw new HttpFail(400, 40002, 'Invalid request parameters', `'${name}' must be a timestamp in milliseconds`);
    return Number(raw);
  }

  function rateLimited(path: string): boolean {
    const rl = opts.rateLimit;
    if (!rl) return false;
    const t = now();
    const list = (recent.get(path) ?? []).filter((x) => x > t - rl.windowMs);
    recent.set(path, list);
    if (list.length >= rl.requests) return true;
    list.push(t);
    return false;
  }

  function pickFault(path: string): FaultKind | undefined {
    const qi = queued.findIndex((f) => !f.path || f.path === path);
    if (qi >= 0) return queued.splice(qi, 1)[0]!.kind;
    const f = opts.faults;
    if (f && f.kinds.length && nextRandom() < f.rate) return f.kinds[Math.floor(nextRandom() * f.kinds.length)];
    return undefined;
  }

  const handler = (req: http.IncomingMessage, res: http.ServerResponse): void => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => void respond(req, res, Buffer.concat(chunks).toString('utf8')));
  };

  const history: [number, string, number][] = [];
  const send = (res: http.ServerResponse, path: string, status: number, payload: string, type = 'application/json') => {
    (counts[path] ??= {})[status] = (counts[path]![status] ?? 0) + 1;
    history.push([now(), path, status]);
    res.writeHead(status, { 'Content-Type': type, 'Content-Length': Buffer.byteLength(payload) });
    res.end(payload);
  };
  const fail = (res: http.ServerResponse, path: string, f: HttpFail) =>
    send(res, path, f.status, JSON.stringify({ code: f.code, message: f.message, ...(f.detail ? { message_detail: f.detail } : {}), stat: 'FAIL' }));

  async function respond(req: http.IncomingMessage, res: http.ServerResponse, reqBody: string): Promise<void> {
    const url = req.url ?? '/';
    const qpos = url.indexOf('?');
    const path = qpos < 0 ? url : url.slice(0, qpos);
    const pairs = parsePairs(qpos < 0 ? '' : url.slice(qpos + 1));
    const hostHeader = String(req.headers.host ?? '');
    const host = hostHeader.replace(/:\d+$/, '').replace(/^\[|\]$/g, '');
    const v = verifySignature({ method: req.method ?? 'GET', host, path, pairs, body: reqBody, headers: req.headers }, keys);
    if (!v.ok) return fail(res, path, new HttpFail(401, v.code, v.message));
    const skew = Math.abs(parseHttpDate(v.date) - now());
    if (!(skew <= (opts.maxSkewMs ?? 300_000))) return fail(res, path, new HttpFail(401, 40105, 'Bad request timestamp'));
    if (path === '/accounts/v1/account/list') {
      if (req.method !== 'POST' || !opts.msp) return fail(res, path, new HttpFail(404, 40401, 'Resource not found'));
      const bindHost = opts.host ?? '127.0.0.1';
      const api = `${bindHost.includes(':') ? `[${bindHost}]` : bindHost}:${port}`;
      return send(res, path, 200, JSON.stringify({ stat: 'OK', response: children.map((id, i) => ({ account_id: id, name: `Child ${i}`, api_hostname: api })) }));
    }
    const ep = ENDPOINTS[path];
    if (!ep || req.method !== 'GET') return fail(res, path, new HttpFail(404, 40401, 'Resource not found'));
    const account = new Map(pairs).get('account_id') ?? '';
    if (account && !children.includes(account)) return fail(res, path, new HttpFail(404, 40401, 'Resource not found', 'no such child account'));
    if (account && opts.msp?.forbidden?.includes(account)) return fail(res, path, new HttpFail(403, 40301, 'Access forbidden'));
    if (rateLimited(path)) return fail(res, path, new HttpFail(429, 42901, 'Too Many Requests'));
    const fault = pickFault(path);
    if (fault === '429') return fail(res, path, new HttpFail(429, 42901, 'Too Many Requests'));
    if (fault === '500') return fail(res, path, new HttpFail(500, 50001, 'Unknown internal server error'));
    if (fault === '40105') return fail(res, path, new HttpFail(401, 40105, 'Bad request timestamp'));
    if (fault === '40301') return fail(res, path, new HttpFail(403, 40301, 'Access forbidden'));
    if (fault === '503') return send(res, path, 503, '<html><body><h1>503 Service Unavailable</h1></body></html>', 'text/html');
    if (fault === 'html') return send(res, path, 200, '<!DOCTYPE html><html><body>Please sign in</body></html>', 'text/html');
    if (fault === 'reset') {
      (counts[path] ??= {})[0] = (counts[path]![0] ?? 0) + 1;
      req.socket.destroy();
      return;
    }
    if (fault === 'slow') await new Promise((r) => setTimeout(r, opts.slowMs ?? 2000));
    const q = new Map(pairs);
    let response: unknown;
    try {
      response = ep.style === 'v1' ? pageV1(ep.log, q, account) : pageV2(ep.log, ep.style, q, account);
    } catch (err) {
      if (err instanceof HttpFail) return fail(res, path, err);
      throw err;
    }
    const text = JSON.stringify({ stat: 'OK', response });
    if (fault === 'truncated') {
      (counts[path] ??= {})[200] = (counts[path]![200] ?? 0) + 1;
      res.writeHead(200, { 'Content-Type': 'application/json' });
      res.end(text.slice(0, Math.floor(text.length / 2)));
      return;
    }
    send(res, path, 200, text);
  }

  const server = opts.tls ? https.createServer({ cert: opts.tls.cert, key: opts.tls.key }, handler) : http.createServer(handler);
  server.keepAliveTimeout = 30_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, opts.host ?? '127.0.0.1', () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  const bindHost = opts.host ?? '127.0.0.1';
  const hostname = `${opts.tls ? 'https' : 'http'}://${bindHost.includes(':') ? `[${bindHost}]` : bindHost}:${port}`;
  const recordHost = bindHost.toLowerCase();

  return {
    hostname,
    port,
    ikey,
    skey,
    counts,
    history,
    injectFaults(kinds, path) {
      for (const kind of kinds) queued.push({ kind, path });
    },
    get children() {
      return children;
    },
    setChildren(ids) {
      children = [...ids];
    },
    expectedLines(log, account = '') {
      const { tl, seed: sd } = timeline(log, account);
      const times = tl.times;
      const hi = upperBound(times, visibleUntilUs());
      const out: string[] = [];
      for (let i = 0; i < hi; i++) {
        const e = EVENT_BUILDERS[log](sd, i, times[i]!);
        let shaped: Record<string, unknown> = e;
        if (log === 'telephony') {
          const { context, credits, ...rest } = e;
          shaped = { context, credits, isotimestamp: isoMicros(times[i]!), ...rest };
        }
        out.push(JSON.stringify({ ...shaped, eventtype: EVENTTYPE[log], host: recordHost, ...(account ? { child_account_id: account } : {}) }));
      }
      return out;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections?.();
        server.close(() => resolve());
      }),
  };
}
