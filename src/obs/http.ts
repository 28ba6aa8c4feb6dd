/**
 * The observability endpoint (optional; `--metrics-port` or `metrics.port`), loopback by default:
 *   GET /metrics  Prometheus text format
 *   GET /healthz  200 while the process runs (liveness)
 *   GET /readyz   200 when Duo accepted the credentials and the output is reachable, else 503 with the reasons
 * Read-only, no request body is read, nothing secret is served.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Readiness } from './metrics.js';

export interface ObsServerOptions {
  port: number;
  host: string;
  metrics: () => string;
  ready: () => Readiness;
}

export interface ObsServer {
  readonly port: number;
  readonly host: string;
  close(): Promise<void>;
}

export async function startObsServer(o: ObsServerOptions): Promise<ObsServer> {
  const server = http.createServer((req, res) => {
    const url = (req.url ?? '/').split('?')[0];
    const send = (status: number, type: string, body: string) => {
      res.writeHead(status, { 'content-type': type, 'cache-control': 'no-store', 'content-length': Buffer.byteLength(body) });
      res.end(req.method === 'HEAD' ? undefined : body);
    };
    if (req.method !== 'GET' && req.method !== 'HEAD') return send(405, 'text/plain; charset=utf-8', 'method not allowed\n');
    try {
      if (url === '/metrics') return send(200, 'text/plain; version=0.0.4; charset=utf-8', o.metrics());
      if (url === '/healthz') return send(200, 'text/plain; charset=utf-8', 'ok\n');
      if (url === '/readyz') {
        const r = o.ready();
        return send(r.ready ? 200 : 503, 'application/json', JSON.stringify({ ready: r.ready, reasons: r.reasons }) + '\n');
      }
      return send(404, 'text/plain; charset=utf-8', 'not found: try /metrics, /healthz, /readyz\n');
    } catch {
      return send(500, 'text/plain; charset=utf-8', 'internal error\n');
    }
  });
  server.keepAliveTimeout = 5000;
  server.headersTimeout = 10_000;
  server.requestTimeout = 10_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(o.port, o.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  server.unref();
  const addr = server.address() as AddressInfo;
  return {
    port: addr.port,
    host: o.host,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
