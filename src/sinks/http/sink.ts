/**
 * The `http` output: each batch is POSTed as NDJSON (`event.json` + "\n" per event), split into
 * several requests only when it exceeds `batch_max_bytes`; the requests of one batch go one after
 * the other and `send` resolves when every one got a 2xx. With Vector's `http_server` source and
 * acknowledgements on, a 2xx means delivered (Errored -> 500, Rejected -> 400).
 *
 *   2xx                               -> delivered
 *   408, 429, 5xx, network errors,
 *   timeouts                          -> retryable SinkError (Retry-After is passed on)
 *   other 4xx, 3xx, TLS verification  -> non-retryable SinkError: status + a short, redacted body
 *                                        excerpt; never a credential or the URL's query
 */
import http from 'node:http';
import https from 'node:https';
import { readFile } from 'node:fs/promises';
import { promisify } from 'node:util';
import { gzip as gzipCb } from 'node:zlib';
import { SinkError } from '../../errors.js';
import { redact, registerSecret, type Logger } from '../../obs/log.js';
import type { Batch, Sink, SinkContext } from '../types.js';
import { readTlsFiles } from '../vector/tls.js';
import { printableUrl, type HttpSinkConfig } from './config.js';
import { untilIdleOrDeadline } from '../../util/drain.js';

const gzip = promisify(gzipCb);

const TLS_VERIFY_CODES = new Set([
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'UNABLE_TO_GET_ISSUER_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'ERR_TLS_CERT_ALTNAME_INVALID',
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
  'CERT_UNTRUSTED',
]);

const EXCERPT_CHARS = 200;

/** Make a short, single-line, redacted excerpt of a response body. */
export function bodyExcerpt(body: Buffer): string {
  const text = body.toString('utf8', 0, Math.min(body.length, EXCERPT_CHARS * 4)).replace(/[\u0000-\u001f\u007f]+/g, ' ').trim();
  const cut = text.length > EXCERPT_CHARS ? `${text.slice(0, EXCERPT_CHARS)}…` : text;
  return redact(cut);
}

/** Milliseconds from a Retry-After header (seconds or an HTTP date), capped at 10 minutes. */
export function retryAfterMs(header: string | undefined, now = Date.now()): number | undefined {
  if (!header) return undefined;
  const secs = Number(header);
  const ms = Number.isFinite(secs) ? secs * 1000 : Date.parse(header) - now;
  if (!Number.isFinite(ms) || ms < 0) return undefined;
  return Math.min(ms, 600_000);
}

export function httpStatusError(status: number, statusText: string, body: Buffer, where: string, events: number, retryAfter: string | undefined): SinkError {
  const excerpt = bodyExcerpt(body);
  const base = `HTTP output ${where}: POST of ${events} events answered ${status}${statusText ? ` ${statusText}` : ''}${excerpt ? `: "${excerpt}"` : ''}`;
  if (status === 408 || status === 429 || status >= 500) {
    const opts: { retryable: boolean; retryAfterMs?: number } = { retryable: true };
    const after = retryAfterMs(retryAfter);
    if (after !== undefined) opts.retryAfterMs = after;
    return new SinkError('DLB_SINK_HTTP_UNAVAILABLE', `${base}; will retry.`, opts);
  }
  let hint = '';
  if (status === 400) hint = " (Vector's http_server answers 400 when a sink behind it rejected the events)";
  else if (status === 401 || status === 403) hint = ' (check output.auth)';
  else if (status === 413) hint = ' (lower output.batch_max_bytes)';
  else if (status >= 300 && status < 400) hint = ' (redirects are not followed: set output.url to the final address)';
  return new SinkError(
    status < 400 ? 'DLB_SINK_HTTP_REDIRECT' : 'DLB_SINK_HTTP_REFUSED',
    `${base}${hint}. Retrying cannot help: the bridge stops and keeps its checkpoint before this batch.`,
    { retryable: false },
  );
}

export function httpNetworkError(err: NodeJS.ErrnoException, where: string): SinkError {
  const code = err.code ?? err.name;
  if (code && TLS_VERIFY_CODES.has(code)) {
    return new SinkError('DLB_SINK_HTTP_TLS', `HTTP output ${where}: the server's certificate was not accepted (${code}); check output.tls.`, { retryable: false, cause: err });
  }
  return new SinkError('DLB_SINK_HTTP_NETWORK', `HTTP output ${where}: ${code && code !== 'Error' ? code : redact(err.message)}; will retry.`, { retryable: true, cause: err });
}

export class HttpSink implements Sink {
  readonly type = 'http';
  readonly wants = 'json';
  readonly #cfg: HttpSinkConfig;
  readonly #log: Logger;
  readonly #where: string;
  readonly #url: URL;
  readonly #closing = new AbortController();
  readonly #requests = new Set<http.ClientRequest>();
  #idle: (() => void)[] = [];
  #agent: http.Agent | undefined;
  #headers: Record<string, string> = {};
  #started = false;

  constructor(cfg: HttpSinkConfig, ctx: Pick<SinkContext, 'log'>) {
    this.#cfg = cfg;
    this.#url = new URL(cfg.url);
    this.#where = printableUrl(cfg.url);
    this.#log = ctx.log.child({ sink: 'http' });
  }

  async start(): Promise<void> {
    const cfg = this.#cfg;
    const headers: Record<string, string> = {
      'content-type': 'application/x-ndjson',
      'user-agent': 'duo-log-bridge',
    };
    for (const h of cfg.headers) headers[h.name.toLowerCase()] = (h.value ?? h.secret)!;
    if (cfg.compression === 'gzip') headers['content-encoding'] = 'gzip';
    const auth = cfg.auth;
    if (auth) {
      const secret = async (value: string | undefined, file: string | undefined, key: string): Promise<string> => {
        if (value !== undefined) return value;
        try {
          const text = (await readFile(file!, 'utf8')).replace(/\r?\n$/, '');
          registerSecret(text);
          return text;
        } catch (err) {
          throw new SinkError('DLB_SINK_HTTP_AUTH_FILE', `output.auth.${key}: cannot read ${file} (${(err as NodeJS.ErrnoException).code ?? 'read error'}).`, { cause: err });
        }
      };
      if (auth.strategy === 'basic') {
        const password = await secret(auth.password, auth.passwordFile, 'password_file');
        const b64 = Buffer.from(`${auth.user ?? ''}:${password}`).toString('base64');
        registerSecret(b64);
        headers.authorization = `Basic ${b64}`;
      } else {
        headers.authorization = `Bearer ${await secret(auth.token, auth.tokenFile, 'token_file')}`;
      }
    }
    this.#headers = headers;
    const agentOpts = { keepAlive: true, maxSockets: 8, scheduling: 'lifo' as const };
    if (this.#url.protocol === 'https:') {
      const tls = cfg.tls ?? { verify: true };
      const m = await readTlsFiles(tls);
      const opts: https.AgentOptions = { ...agentOpts, rejectUnauthorized: tls.verify };
      if (m.ca) opts.ca = m.ca;
      if (m.cert) opts.cert = m.cert;
      if (m.key) opts.key = m.key;
      if (tls.serverName) opts.servername = tls.serverName;
      if (!tls.verify) {
        opts.checkServerIdentity = () => undefined;
        this.#log.warn('TLS certificate checks are off for the HTTP output (tls.verify: false); use this for testing only.', { url: this.#where });
      }
      this.#agent = new https.Agent(opts);
    } else {
      this.#agent = new http.Agent(agentOpts);
    }
    this.#started = true;
    this.#log.info('HTTP output is ready.', { url: this.#where, compression: cfg.compression, auth: auth?.strategy ?? 'none' });
  }

  async send(batch: Batch, signal: AbortSignal): Promise<void> {
    if (!this.#started) throw new SinkError('DLB_SINK_NOT_STARTED', 'The HTTP output was used before start().');
    if (this.#closing.signal.aborted) throw new SinkError('DLB_SINK_CLOSED', 'The HTTP output is closed.', { retryable: true });
    const abort = AbortSignal.any([signal, this.#closing.signal]);
    const aborted = (): SinkError => new SinkError('DLB_SINK_ABORTED', 'Sending over HTTP was interrupted by shutdown; the batch will be sent again.', { retryable: true });
    for (const [body, count] of this.#bodies(batch)) {
      if (abort.aborted) throw aborted();
      const payload = this.#cfg.compression === 'gzip' ? await gzip(body) : body;
      if (abort.aborted) throw aborted();
      await this.#post(payload, count, abort);
    }
  }

  /** NDJSON bodies of at most batch_max_bytes (one event per body at least). */
  *#bodies(batch: Batch): Generator<[Buffer, number]> {
    const max = this.#cfg.batchMaxBytes;
    let text = '';
    for (const e of batch.events) text += e.json + '\n';
    const whole = Buffer.from(text, 'utf8');
    if (whole.length <= max) {
      yield [whole, batch.events.length];
      return;
    }
    let parts: string[] = [];
    let bytes = 0;
    for (const e of batch.events) {
      const line = e.json + '\n';
      const n = Buffer.byteLength(line);
      if (parts.length && bytes + n > max) {
        yield [Buffer.from(parts.join(''), 'utf8'), parts.length];
        parts = [];
        bytes = 0;
      }
      parts.push(line);
      bytes += n;
    }
    if (parts.length) yield [Buffer.from(parts.join(''), 'utf8'), parts.length];
  }

  #post(body: Buffer, count: number, abort: AbortSignal): Promise<void> {
    const mod = this.#url.protocol === 'https:' ? https : http;
    return new Promise<void>((resolve, reject) => {
      let settled = false;
      const finish = (err?: SinkError): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        abort.removeEventListener('abort', onAbort);
        this.#requests.delete(req);
        if (this.#requests.size === 0) for (const f of this.#idle.splice(0)) f();
        if (err) reject(err);
        else resolve();
      };
      const req = mod.request(this.#url, {
        method: 'POST',
        agent: this.#agent,
        headers: { ...this.#headers, 'content-length': String(body.length) },
      });
      this.#requests.add(req);
      const timer = setTimeout(() => {
        finish(new SinkError('DLB_SINK_HTTP_TIMEOUT', `HTTP output ${this.#where}: no complete answer within timeout_secs (${this.#cfg.timeoutSecs}); will retry.`, { retryable: true }));
        req.destroy();
      }, this.#cfg.timeoutSecs * 1000);
      const onAbort = (): void => {
        finish(new SinkError('DLB_SINK_ABORTED', 'Sending over HTTP was interrupted by shutdown; the batch will be sent again.', { retryable: true }));
        req.destroy();
      };
      abort.addEventListener('abort', onAbort, { once: true });
      req.on('error', (err) => finish(httpNetworkError(err, this.#where)));
      req.on('response', (res) => {
        const chunks: Buffer[] = [];
        let kept = 0;
        res.on('data', (c: Buffer) => {
          if (kept < 4096) {
            chunks.push(c);
            kept += c.length;
          }
        });
        res.on('error', (err) => finish(httpNetworkError(err, this.#where)));
        res.on('end', () => {
          const status = res.statusCode ?? 0;
          if (status >= 200 && status < 300) finish();
          else finish(httpStatusError(status, res.statusMessage ?? '', Buffer.concat(chunks), this.#where, count, res.headers['retry-after'] as string | undefined));
        });
      });
      req.end(body);
    });
  }

  async close(deadlineMs: number): Promise<void> {
    if (this.#requests.size > 0 && !this.#closing.signal.aborted) {
      await untilIdleOrDeadline(this.#idle, deadlineMs);
    }
    this.#closing.abort();
    this.#agent?.destroy();
  }
}
