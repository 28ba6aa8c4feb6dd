/**
 * One signed HTTPS request to the Duo Admin API → the `response` value, or a DuoApiError.
 * A fresh Date and signature for every request (retries included: the caller retries).
 * TLS uses Node's CA store (so NODE_EXTRA_CA_CERTS works) plus an optional `caFile`;
 * `http://` is accepted for loopback hosts only (simulators, test rigs).
 * No retry here: the pipeline owns retry timing (one retry owner per hop).
 */
import http from 'node:http';
import https from 'node:https';
import { readFileSync } from 'node:fs';
import tls from 'node:tls';
import { DuoApiError } from '../errors.js';
import { authorization, canonParams, rfc2822, type Params, type SigVersion, type Digest } from './sign.js';
import { duoFailure } from './errors.js';
import { connectThroughProxy } from './proxy.js';

export interface DuoClientOptions {
  ikey: string;
  skey: string;
  /** `api-xxxxxxxx.duosecurity.com`, `host:port`, or `http://127.0.0.1:port` (loopback only). */
  hostname: string;
  sigVersion?: SigVersion;
  /** v2 only. */
  digest?: Digest;
  timeoutMs?: number;
  caFile?: string;
  /** `http://proxy:3128`; HTTPS is tunnelled with CONNECT. */
  proxy?: string;
  userAgent: string;
  /** Injectable clock for the Date header. */
  now?: () => number;
}

export interface Endpoint {
  scheme: 'http' | 'https';
  /** For the signature: lower-case, no port. */
  signHost: string;
  host: string;
  port: number;
}

const LOOPBACK = /^(127\.\d+\.\d+\.\d+|localhost|\[::1\]|::1)$/i;

export function parseEndpoint(hostname: string): Endpoint {
  let rest = hostname.trim();
  let scheme: 'http' | 'https' = 'https';
  const m = /^(https?):\/\//i.exec(rest);
  if (m) {
    scheme = m[1]!.toLowerCase() as 'http' | 'https';
    rest = rest.slice(m[0].length);
  }
  rest = rest.replace(/\/+$/, '');
  let host = rest;
  let port = scheme === 'https' ? 443 : 80;
  const v6 = /^\[([^\]]+)\](?::(\d+))?$/.exec(rest);
  const hp = /^([^:]+):(\d+)$/.exec(rest);
  if (v6) {
    host = v6[1]!;
    if (v6[2]) port = Number(v6[2]);
  } else if (hp) {
    host = hp[1]!;
    port = Number(hp[2]);
  }
  if (scheme === 'http' && !LOOPBACK.test(host)) {
    throw new Error('plain http:// is only allowed for loopback hosts (a local simulator); Duo itself is https only');
  }
  return { scheme, signHost: host.toLowerCase(), host, port };
}

export class DuoClient {
  readonly endpoint: Endpoint;
  readonly #opts: DuoClientOptions;
  readonly #agent: http.Agent;
  readonly #ca: string[] | undefined;

  constructor(opts: DuoClientOptions) {
    this.#opts = opts;
    this.endpoint = parseEndpoint(opts.hostname);
    this.#ca = opts.caFile ? [...tls.rootCertificates, readFileSync(opts.caFile, 'utf8')] : undefined;
    const agentOpts = { keepAlive: true, maxSockets: 8, minVersion: 'TLSv1.2' as const, ...(this.#ca ? { ca: this.#ca } : {}) };
    if (this.endpoint.scheme === 'https') {
      const agent = new https.Agent(agentOpts);
      if (opts.proxy) {
        const proxy = opts.proxy;
        (agent as unknown as { createConnection: unknown }).createConnection = (o: tls.ConnectionOptions, cb: (err: Error | null, s?: tls.TLSSocket) => void) => {
          connectThroughProxy(proxy, o, cb);
        };
      }
      this.#agent = agent;
    } else {
      this.#agent = new http.Agent({ keepAlive: true, maxSockets: 8 });
    }
  }

  /** The API hostname as it appears in records (`host` field): no scheme, no port. */
  get host(): string {
    return this.endpoint.signHost;
  }

  /** GET `path` with signed `params`; resolves with Duo's `response` (and top-level metadata merged in, if any). */
  get(path: string, params: Params, signal?: AbortSignal): Promise<unknown> {
    return this.request('GET', path, params, signal);
  }

  /** POST with a JSON body under v5, or a form body under v2 (Accounts API). */
  post(path: string, params: Params, signal?: AbortSignal): Promise<unknown> {
    return this.request('POST', path, params, signal);
  }

  request(method: 'GET' | 'POST', path: string, params: Params, signal?: AbortSignal): Promise<unknown> {
    const o = this.#opts;
    const version = o.sigVersion ?? 5;
    const date = rfc2822((o.now ?? Date.now)());
    const qs = canonParams(params);
    let body = '';
    let contentType: string | undefined;
    let signParams = params;
    if (method === 'POST') {
      if (version === 5) {
        body = JSON.stringify(params);
        contentType = 'application/json';
        signParams = {};
      } else {
        body = qs;
        contentType = 'application/x-www-form-urlencoded';
      }
    }
    const auth = authorization({ ikey: o.ikey, skey: o.skey, version, digest: o.digest, date, method, host: this.endpoint.signHost, path, params: signParams, body });
    const headers: Record<string, string> = { Date: date, Authorization: auth, 'User-Agent': o.userAgent, Accept: 'application/json' };
    if (contentType) {
      headers['Content-Type'] = contentType;
      headers['Content-Length'] = String(Buffer.byteLength(body));
    }
    const what = `${method} ${path}`;
    const mod = this.endpoint.scheme === 'https' ? https : http;
    return new Promise((resolve, reject) => {
      const req = mod.request(
        {
          method,
          host: this.endpoint.host,
          port: this.endpoint.port,
          path: method === 'GET' && qs ? `${path}?${qs}` : path,
          headers,
          agent: this.#agent,
          timeout: o.timeoutMs ?? 60_000,
          signal,
          servername: this.endpoint.scheme === 'https' && !/^[\d.]+$|:/.test(this.endpoint.host) ? this.endpoint.host : undefined,
        },
        (res) => {
          // One decode of the whole body: measurably cheaper than a streaming string decoder.
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('error', (err) => reject(networkError(what, err)));
          res.on('end', () => {
            const status = res.statusCode ?? 0;
            const text = chunks.length === 1 ? chunks[0]!.toString('utf8') : Buffer.concat(chunks).toString('utf8');
            chunks.length = 0;
            let json: { stat?: unknown; response?: unknown; metadata?: unknown; code?: unknown; message?: unknown } | undefined;
            try {
              json = JSON.parse(text);
            } catch {
              json = undefined;
            }
            if (!json || typeof json !== 'object') {
              const kind = /^\s*</.test(text) ? 'an HTML page' : text.length === 0 ? 'an empty body' : 'a body that is not valid JSON';
              reject(
                new DuoApiError('DLB_DUO_BAD_RESPONSE', `${what}: Duo answered ${status} with ${kind} (${text.length} bytes); retrying.`, {
                  httpStatus: status,
                  retryable: status >= 500 || status === 429 || status < 300 || status === 408,
                  isAuth: status === 401 || status === 403,
                }),
              );
              return;
            }
            if (status >= 200 && status < 300 && json.stat === 'OK') {
              const r = json.response;
              if (json.metadata && r && typeof r === 'object' && !Array.isArray(r) && !('metadata' in r)) (r as Record<string, unknown>).metadata = json.metadata;
              resolve(r);
              return;
            }
            reject(duoFailure(status, json, what));
          });
        },
      );
      req.on('timeout', () => req.destroy(new DuoApiError('DLB_DUO_TIMEOUT', `${what}: no answer from Duo within ${Math.round((o.timeoutMs ?? 60_000) / 1000)} s; retrying.`, { retryable: true })));
      req.on('error', (err) => reject(err instanceof DuoApiError ? err : networkError(what, err)));
      req.end(body || undefined);
    });
  }

  close(): void {
    this.#agent.destroy();
  }
}

function networkError(what: string, err: Error): DuoApiError {
  const code = (err as NodeJS.ErrnoException).code ?? err.name;
  if (err.name === 'AbortError') return new DuoApiError('DLB_ABORTED', `${what}: aborted.`, { cause: err });
  const tlsHint = /CERT|SSL|TLS|SELF_SIGNED|UNABLE_TO_VERIFY/i.test(String(code))
    ? ' The TLS certificate was not trusted: set api.ca_file or NODE_EXTRA_CA_CERTS if a proxy re-signs TLS.'
    : '';
  return new DuoApiError('DLB_DUO_NETWORK', `${what}: ${code}: ${err.message}.${tlsHint} Retrying.`, { retryable: true, cause: err });
}
