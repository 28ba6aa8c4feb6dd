/**
 * `output: {type: forward, ...}`: every option, its default and unit, read with ConfigReader
 * so each problem names its key path and line. Files (CA, client cert/key, shared key file)
 * are checked for readability here, so `check-config` reports them; their contents are read
 * again by the sink when it connects. Secrets are registered for redaction as they are read.
 */
import { readFileSync, accessSync, constants } from 'node:fs';
import type { ConfigReader } from '../../config/reader.js';
import { registerSecret } from '../../obs/log.js';

export interface ForwardTlsConfig {
  /** PEM bundle of CAs that may sign the server certificate. Default: Node's public CA list. */
  caFile: string | undefined;
  /** PEM client certificate (mutual TLS); needs keyFile. */
  certFile: string | undefined;
  keyFile: string | undefined;
  /** Verify the server certificate and host name. Default true. false is for tests only. */
  verify: boolean;
  /** Name to check the certificate against (and SNI). Default: `host` unless it is an IP address. */
  servername: string | undefined;
}

export interface ForwardSecurityConfig {
  /** `self_hostname` sent in PING; must differ from Fluentd's own `self_hostname`. */
  selfHostname: string;
  username: string | undefined;
}

export interface ForwardConfig {
  type: 'forward';
  host: string;
  port: number;
  /** Tag = `<tagPrefix>.<logType>`. Default `duo`. */
  tagPrefix: string;
  /** How long to wait for Fluentd's ack of one chunk, in ms. Default 60 s (Fluentd's buffer may block). */
  ackTimeoutMs: number;
  /** TCP + TLS connect and shared-key handshake deadline, in ms. Default 10 s. */
  connectTimeoutMs: number;
  /** Events per forward chunk (one ack each). Default 1000: one Duo page is one chunk. */
  chunkMaxEvents: number;
  /** Events emitted and not yet acknowledged, across all logs. `send` waits for room. Default 10000. */
  maxEventsInFlight: number;
  /** `none` = PackedForward, `gzip` = CompressedPackedForward. Default none. */
  compress: 'none' | 'gzip';
  reconnect: { initialDelayMs: number; maxDelayMs: number };
  tls: ForwardTlsConfig | undefined;
  security: ForwardSecurityConfig | undefined;
  /** Secret: the `<security> shared_key` (from `shared_key` or `shared_key_file`). */
  sharedKey: string | undefined;
  /** Secret: user auth password. */
  password: string | undefined;
}

export const FORWARD_SECRET_KEYS = ['sharedKey', 'password'] as const;

export function parseForwardConfig(r: ConfigReader, hostname: () => string): ForwardConfig {
  const host = r.str('host', { default: '127.0.0.1' })!;
  const port = r.int('port', { default: 24224, min: 1, max: 65535 })!;
  const tagPrefix = r.str('tag_prefix', {
    default: 'duo',
    pattern: /^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$/,
    hint: 'must be dot-separated words of letters, digits, "_" or "-" (e.g. duo or security.duo)',
  })!;
  const ackTimeoutMs = secs(r, 'ack_timeout_secs', 60, 0.1, 3600);
  const connectTimeoutMs = secs(r, 'connect_timeout_secs', 10, 0.1, 600);
  const chunkMaxEvents = r.int('chunk_max_events', { default: 1000, min: 1, max: 100_000 })!;
  const maxEventsInFlight = r.int('max_events_in_flight', { default: 10_000, min: 1, max: 1_000_000 })!;
  if (maxEventsInFlight < chunkMaxEvents) r.error('max_events_in_flight', `must be at least chunk_max_events (${chunkMaxEvents})`);
  const compress = r.oneOf('compress', ['none', 'gzip'] as const, { default: 'none' })!;

  let reconnect = { initialDelayMs: 500, maxDelayMs: 10_000 };
  const rr = r.obj('reconnect');
  if (rr) {
    reconnect = {
      initialDelayMs: secs(rr, 'initial_delay_secs', 0.5, 0.01, 600),
      maxDelayMs: secs(rr, 'max_delay_secs', 10, 0.01, 3600),
    };
    if (reconnect.maxDelayMs < reconnect.initialDelayMs) rr.error('max_delay_secs', 'must be at least initial_delay_secs');
    rr.finish();
  }

  let tls: ForwardTlsConfig | undefined;
  const tr = r.obj('tls');
  if (tr) {
    tls = {
      caFile: readableFile(tr, 'ca_file'),
      certFile: readableFile(tr, 'cert_file'),
      keyFile: readableFile(tr, 'key_file'),
      verify: tr.bool('verify', { default: true })!,
      servername: tr.str('servername'),
    };
    if (tls.certFile && !tls.keyFile) tr.error('key_file', 'is required when cert_file is set');
    if (tls.keyFile && !tls.certFile) tr.error('cert_file', 'is required when key_file is set');
    tr.finish();
  }

  let security: ForwardSecurityConfig | undefined;
  let sharedKey: string | undefined;
  let password: string | undefined;
  const sr = r.obj('security');
  if (sr) {
    sharedKey = sr.str('shared_key');
    const keyFile = readableFile(sr, 'shared_key_file');
    if (sharedKey !== undefined && keyFile !== undefined) sr.error('shared_key_file', 'set either shared_key or shared_key_file, not both');
    else if (keyFile !== undefined) {
      try {
        sharedKey = readFileSync(keyFile, 'utf8').replace(/\r?\n$/, '');
      } catch (err) {
        sr.error('shared_key_file', `cannot be read (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
      }
    }
    if (sharedKey === undefined && keyFile === undefined) sr.error('shared_key', 'is required (or shared_key_file) when security is set');
    else if (sharedKey !== undefined && sharedKey.length === 0) sr.error(keyFile ? 'shared_key_file' : 'shared_key', 'must not be empty');
    registerSecret(sharedKey);
    const username = sr.str('username');
    password = sr.str('password');
    registerSecret(password);
    if ((username === undefined) !== (password === undefined)) sr.error(username === undefined ? 'username' : 'password', 'username and password go together');
    const self = sr.str('self_hostname', { default: `duo-log-bridge.${hostname()}` })!;
    security = { selfHostname: self, username };
    sr.finish();
  }

  return {
    type: 'forward',
    host,
    port,
    tagPrefix,
    ackTimeoutMs,
    connectTimeoutMs,
    chunkMaxEvents,
    maxEventsInFlight,
    compress,
    reconnect,
    tls,
    security,
    sharedKey,
    password,
  };
}

function secs(r: ConfigReader, key: string, def: number, min: number, max: number): number {
  return Math.round(r.num(key, { default: def, min, max, unit: 'seconds' })! * 1000);
}

function readableFile(r: ConfigReader, key: string): string | undefined {
  const p = r.str(key);
  if (p === undefined) return undefined;
  try {
    accessSync(p, constants.R_OK);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    r.error(key, code === 'ENOENT' ? `file not found: ${p}` : `cannot be read: ${p} (${code ?? 'error'})`);
    return undefined;
  }
  return p;
}
