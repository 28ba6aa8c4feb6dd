/**
 * `output: {type: http, ...}`: NDJSON batches POSTed to Vector's `http_server` source (or any
 * endpoint that answers per request).
 *
 *   output:
 *     type: http
 *     url: https://vector.internal:8080/duo   # http:// or https:// (required; no user:pass@ in it)
 *     compression: none          # none | gzip (Content-Encoding: gzip)
 *     timeout_secs: 60           # per request; keep it above Vector's delivery time when acks are on
 *     batch_max_bytes: 10000000  # a page larger than this is sent as several requests
 *     headers: {X-Source: duo}   # extra request headers
 *     auth:
 *       strategy: basic          # basic | bearer
 *       user: duo
 *       password_file: /run/secrets/vector_http_password   # or password: ... (bearer: token / token_file)
 *     tls:                       # only for https:// URLs
 *       ca_file: /etc/ssl/vector-ca.pem
 *       cert_file: /etc/duo-log-bridge/client.pem
 *       key_file: /etc/duo-log-bridge/client.key
 *       verify: true
 */
import type { ConfigReader } from '../../config/reader.js';
import { registerSecret } from '../../obs/log.js';
import { parseTlsFiles, type TlsFilesConfig } from '../vector/config.js';

export interface HttpAuthConfig {
  strategy: 'basic' | 'bearer';
  user?: string;
  password?: string;
  passwordFile?: string;
  token?: string;
  tokenFile?: string;
}

/** An extra request header. Values of secret-looking headers are kept under `secret`, which check-config redacts. */
export interface HttpHeader {
  name: string;
  value?: string;
  secret?: string;
}

export interface HttpSinkConfig {
  type: 'http';
  url: string;
  compression: 'none' | 'gzip';
  timeoutSecs: number;
  batchMaxBytes: number;
  headers: HttpHeader[];
  auth?: HttpAuthConfig;
  tls?: TlsFilesConfig;
}

export function defaultHttpSinkConfig(): HttpSinkConfig {
  return { type: 'http', url: '', compression: 'none', timeoutSecs: 60, batchMaxBytes: 10_000_000, headers: [] };
}

const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
const RESERVED_HEADERS = new Set(['content-length', 'content-encoding', 'content-type', 'transfer-encoding', 'host', 'connection']);
const SECRET_HEADER = /auth|token|key|secret|pass|cookie|session/i;

/** The URL as safe to print: scheme, host, port and path; never user info or query. */
export function printableUrl(u: string): string {
  try {
    const url = new URL(u);
    return `${url.protocol}//${url.host}${url.pathname}`;
  } catch {
    return '(invalid url)';
  }
}

export function parseHttpSinkConfig(r: ConfigReader): HttpSinkConfig {
  const d = defaultHttpSinkConfig();
  const url = r.str('url', { required: true }) ?? '';
  let isHttps = false;
  if (url) {
    let parsed: URL | undefined;
    try {
      parsed = new URL(url);
    } catch {
      r.error('url', 'must be an absolute http:// or https:// URL, e.g. http://127.0.0.1:8080/');
    }
    if (parsed) {
      if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') r.error('url', `must start with http:// or https://, not ${parsed.protocol}//`);
      if (parsed.username || parsed.password) r.error('url', 'must not contain user:password@; put credentials under output.auth');
      isHttps = parsed.protocol === 'https:';
    }
  }
  const cfg: HttpSinkConfig = {
    type: 'http',
    url,
    compression: r.oneOf('compression', ['none', 'gzip'] as const, { default: d.compression }) ?? d.compression,
    timeoutSecs: r.num('timeout_secs', { min: 0.1, max: 3600, default: d.timeoutSecs, unit: 'seconds' }) ?? d.timeoutSecs,
    batchMaxBytes: r.int('batch_max_bytes', { min: 1024, max: 1_000_000_000, default: d.batchMaxBytes, unit: 'bytes' }) ?? d.batchMaxBytes,
    headers: [],
  };

  const h = r.obj('headers');
  if (h) {
    for (const [name, value] of Object.entries(h.value)) {
      h.raw(name);
      if (!TOKEN.test(name)) h.error(name, 'is not a valid HTTP header name');
      else if (RESERVED_HEADERS.has(name.toLowerCase())) h.error(name, 'is set by the bridge itself and cannot be overridden');
      else if (name.toLowerCase() === 'authorization' && r.has('auth')) h.error(name, 'conflicts with output.auth; use one or the other');
      else if (typeof value !== 'string' && typeof value !== 'number') h.error(name, 'must be a string');
      else if (/[\r\n\0]/.test(String(value))) h.error(name, 'must not contain line breaks');
      else {
        const v = String(value);
        if (SECRET_HEADER.test(name)) {
          registerSecret(v);
          cfg.headers.push({ name, secret: v });
        } else {
          cfg.headers.push({ name, value: v });
        }
      }
    }
  }

  const a = r.obj('auth');
  if (a) {
    const strategy = a.oneOf('strategy', ['basic', 'bearer'] as const, { required: true });
    const auth: HttpAuthConfig = { strategy: strategy ?? 'basic' };
    const pick = (k: 'user' | 'password' | 'password_file' | 'token' | 'token_file'): string | undefined => a.str(k);
    const user = pick('user');
    const password = pick('password');
    const passwordFile = pick('password_file');
    const token = pick('token');
    const tokenFile = pick('token_file');
    registerSecret(password);
    registerSecret(token);
    if (strategy === 'basic') {
      if (user === undefined) a.error('user', 'is required for strategy basic');
      else if (user.includes(':')) a.error('user', 'must not contain ":" (basic auth)');
      if ((password === undefined) === (passwordFile === undefined)) a.error('password', 'give exactly one of password or password_file for strategy basic');
      for (const [k, v] of [['token', token], ['token_file', tokenFile]] as const) if (v !== undefined) a.error(k, 'is only for strategy bearer');
    } else if (strategy === 'bearer') {
      if ((token === undefined) === (tokenFile === undefined)) a.error('token', 'give exactly one of token or token_file for strategy bearer');
      for (const [k, v] of [['user', user], ['password', password], ['password_file', passwordFile]] as const) if (v !== undefined) a.error(k, 'is only for strategy basic');
    }
    if (user !== undefined) auth.user = user;
    if (password !== undefined) auth.password = password;
    if (passwordFile !== undefined) auth.passwordFile = passwordFile;
    if (token !== undefined) auth.token = token;
    if (tokenFile !== undefined) auth.tokenFile = tokenFile;
    cfg.auth = auth;
    a.finish();
  }

  const t = r.obj('tls');
  if (t) {
    cfg.tls = parseTlsFiles(t);
    t.finish();
    if (url && !isHttps) r.error('tls', 'is only used with an https:// url');
  }
  return cfg;
}
