/**
 * A stand-in for Vector's `http_server` source with acknowledgements: a real node:http(s)
 * server taking NDJSON POSTs (gzip or not), answering each request once "delivered".
 * It records the lines of requests it answered 2xx separately from everything it received,
 * and fails on demand:
 *   - failNext(n, status, body)   the next n requests are read, then answered `status`
 *                                 (500 = Vector Errored, 400 = Vector Rejected, 429, 401 ...);
 *   - unavailableFor(ms)          503 for a while;
 *   - delayMs                     answer each request only after this long;
 *   - resetNext(n)                destroy the connection after reading the body (network error);
 *   - stop() / restart()          really close the port (and every connection), then listen again;
 *   - auth                        require this exact Authorization header (401 otherwise).
 */
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { gunzipSync } from 'node:zlib';

export interface HttpRequestRecord {
  /** The NDJSON lines (empty with `countOnly`). */
  lines: string[];
  /** How many lines the request carried. */
  count: number;
  status: number;
  headers: http.IncomingHttpHeaders;
  path: string;
  bodyBytes: number;
}

export interface HttpTestServer {
  readonly url: string;
  readonly port: number;
  readonly requests: HttpRequestRecord[];
  /** Lines of requests answered 2xx, in answer order. */
  acked(): string[];
  ackedCount(): number;
  failNext(n: number, status: number, body?: string, headers?: Record<string, string>): void;
  resetNext(n: number): void;
  unavailableFor(ms: number): void;
  delayMs: number;
  /** Required `Authorization` header value; undefined = no auth. */
  auth: string | undefined;
  onRequest?: (lines: string[]) => void;
  stop(): Promise<void>;
  restart(): Promise<void>;
  close(): Promise<void>;
}

export async function startHttpServer(
  opts: { port?: number; path?: string; tls?: { cert: Buffer; key: Buffer; clientCa?: Buffer }; countOnly?: boolean } = {},
): Promise<HttpTestServer> {
  const failures: { status: number; body: string; headers: Record<string, string> }[] = [];
  let resets = 0;
  let unavailableUntil = 0;
  let server: http.Server | undefined;
  let port = opts.port ?? 0;
  const scheme = opts.tls ? 'https' : 'http';

  const state: HttpTestServer = {
    url: '',
    port: 0,
    requests: [],
    delayMs: 0,
    auth: undefined,
    acked() {
      return this.requests.filter((r) => r.status >= 200 && r.status < 300).flatMap((r) => r.lines);
    },
    ackedCount() {
      let n = 0;
      for (const r of this.requests) if (r.status >= 200 && r.status < 300) n += r.count;
      return n;
    },
    failNext(n, status, body = 'injected failure', headers = {}) {
      for (let i = 0; i < n; i++) failures.push({ status, body, headers });
    },
    resetNext(n) {
      resets += n;
    },
    unavailableFor(ms) {
      unavailableUntil = Date.now() + ms;
    },
    stop,
    restart: listen,
    close: stop,
  };

  const handler = (req: http.IncomingMessage, res: http.ServerResponse): void => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      let body = Buffer.concat(chunks);
      const bodyBytes = body.length;
      let count = 0;
      const record = (status: number, lines: string[] = []): void => {
        state.requests.push({ lines, count: opts.countOnly ? count : lines.length, status, headers: req.headers, path: req.url ?? '', bodyBytes });
      };
      if (req.method !== 'POST' || (opts.path && req.url !== opts.path)) {
        record(404);
        res.writeHead(404).end('not found');
        return;
      }
      if (state.auth !== undefined && req.headers.authorization !== state.auth) {
        record(401);
        res.writeHead(401, { 'content-type': 'text/plain' }).end('Unauthorized: bad or missing credentials');
        return;
      }
      try {
        if (req.headers['content-encoding'] === 'gzip') body = gunzipSync(body);
      } catch {
        record(400);
        res.writeHead(400).end('bad gzip');
        return;
      }
      let lines: string[] = [];
      if (opts.countOnly) {
        for (let i = body.indexOf(10); i >= 0; i = body.indexOf(10, i + 1)) count++;
      } else {
        lines = body.toString('utf8').split('\n');
        if (lines[lines.length - 1] === '') lines.pop();
      }
      state.onRequest?.(lines);
      const answer = (): void => {
        if (resets > 0) {
          resets--;
          record(0, lines);
          req.socket.destroy();
          return;
        }
        let status = 200;
        let out = '';
        let headers: Record<string, string> = {};
        if (Date.now() < unavailableUntil) [status, out] = [503, 'injected: unavailable'];
        else if (failures.length) ({ status, body: out, headers } = failures.shift()!);
        if (req.socket.destroyed) {
          record(-1, lines);
          return;
        }
        record(status, lines);
        res.writeHead(status, { 'content-type': 'text/plain', ...headers }).end(out);
      };
      if (state.delayMs > 0) setTimeout(answer, state.delayMs);
      else answer();
    });
  };

  async function listen(): Promise<void> {
    const s = opts.tls
      ? https.createServer({ cert: opts.tls.cert, key: opts.tls.key, ca: opts.tls.clientCa, requestCert: Boolean(opts.tls.clientCa), rejectUnauthorized: Boolean(opts.tls.clientCa) }, handler)
      : http.createServer(handler);
    s.keepAliveTimeout = 5000;
    await new Promise<void>((resolve, reject) => {
      s.once('error', reject);
      s.listen(port, '127.0.0.1', () => resolve());
    });
    server = s;
    port = (s.address() as AddressInfo).port;
    (state as { port: number }).port = port;
    (state as { url: string }).url = `${scheme}://127.0.0.1:${port}${opts.path ?? '/'}`;
  }

  async function stop(): Promise<void> {
    const s = server;
    server = undefined;
    if (!s) return;
    s.closeAllConnections();
    await new Promise<void>((resolve) => s.close(() => resolve()));
  }

  await listen();
  return state;
}
