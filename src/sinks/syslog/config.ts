/**
 * `output: {type: syslog, ...}` keys. Every problem names its key and line (ConfigReader).
 * Refused at config time, so the bridge never starts in a state that loses data quietly:
 * - `protocol: udp` without `udp_oversize` (an event over `udp_max_bytes` must go somewhere);
 * - `framing` with `protocol: udp` and no stream fallback (a datagram is its own frame, RFC 5426);
 * - `udp_max_bytes` over 65507 (the IPv4 UDP payload limit) or under 480 (RFC 5426 minimum);
 * - `tls.*` keys without a TLS path (protocol tls, or udp_oversize tls);
 * - unknown facility/severity names, unknown keys (with "did you mean").
 */
import type { ConfigReader } from '../../config/reader.js';
import { facilityCode, severityCode, type Framing, type SyslogFormat } from '../../format/syslog.js';

export type Protocol = 'udp' | 'tcp' | 'tls';

export interface SyslogTlsConfig {
  caFile?: string;
  certFile?: string;
  keyFile?: string;
  /** Verify the server certificate and name (default true). */
  verify: boolean;
  /** Name to verify and send as SNI (default: host). */
  servername?: string;
}

export interface SyslogConfig {
  type: 'syslog';
  host: string;
  port: number;
  protocol: Protocol;
  format: SyslogFormat;
  framing: Framing;
  message: 'json' | 'cef';
  facility: number;
  /** A fixed severity, or `auto` (from the event: denied/fraud/failure rank higher). */
  severity: number | 'auto';
  appName: string;
  /** Header hostname; default the bridge host's name. */
  hostname?: string;
  timezone: 'utc' | 'local';
  udpMaxBytes: number;
  /** What happens to a message over udpMaxBytes: sent over TCP/TLS, or refused (bridge stops). */
  udpOversize?: 'tcp' | 'tls' | 'refuse';
  udpFallbackPort?: number;
  tls?: SyslogTlsConfig;
  connectTimeoutMs: number;
  writeTimeoutMs: number;
  reconnectMinMs: number;
  reconnectMaxMs: number;
}

export const UDP_MAX_PAYLOAD = 65507;

export function parseSyslogConfig(r: ConfigReader): SyslogConfig {
  const host = r.str('host', { required: true }) ?? '';
  const protocol = r.oneOf('protocol', ['udp', 'tcp', 'tls'] as const, { default: 'tcp' })!;
  const port = r.int('port', { min: 1, max: 65535, default: protocol === 'tls' ? 6514 : 514 })!;
  const format = r.oneOf('format', ['rfc5424', 'rfc3164', 'none'] as const, { default: 'rfc5424' })!;
  const framingGiven = r.has('framing');
  // RFC 5425 makes octet counting mandatory over TLS; over plain TCP legacy SIEMs expect LF.
  const framing = r.oneOf('framing', ['octet-counting', 'lf'] as const, { default: protocol === 'tls' ? 'octet-counting' : 'lf' })!;
  const message = r.oneOf('message', ['json', 'cef'] as const, { default: 'json' })!;

  let facility = 4; // auth: "security/authorization messages"
  const fv = r.raw('facility');
  if (fv !== undefined && fv !== null) {
    const c = typeof fv === 'string' || typeof fv === 'number' ? facilityCode(fv) : undefined;
    if (c === undefined) r.error('facility', `must be a syslog facility name (auth, authpriv, local0 ... local7, user, ...) or a number 0-23, not ${JSON.stringify(fv)}`);
    else facility = c;
  }
  let severity: number | 'auto' = 6; // info
  const sv = r.raw('severity');
  if (sv !== undefined && sv !== null) {
    const c = sv === 'auto' ? 'auto' : typeof sv === 'string' || typeof sv === 'number' ? severityCode(sv) : undefined;
    if (c === undefined) r.error('severity', `must be a syslog severity name (info, notice, warning, ...), a number 0-7, or auto, not ${JSON.stringify(sv)}`);
    else severity = c;
  }
  const appName = r.str('app_name', { default: 'duo-log-bridge', pattern: /^[!-~]{1,48}$/, hint: 'must be 1-48 printable ASCII characters without spaces (RFC 5424 APP-NAME)' })!;
  const hostname = r.str('hostname', { pattern: /^[!-~]{1,255}$/, hint: 'must be 1-255 printable ASCII characters without spaces' });
  const timezone = r.oneOf('rfc3164_timezone', ['utc', 'local'] as const, { default: 'utc' })!;

  const udpMaxBytes = r.int('udp_max_bytes', { min: 480, max: UDP_MAX_PAYLOAD, default: 2048, unit: 'bytes' })!;
  const udpOversize = r.oneOf('udp_oversize', ['tcp', 'tls', 'refuse'] as const);
  const udpFallbackPort = r.int('udp_fallback_port', { min: 1, max: 65535 });
  if (protocol === 'udp' && udpOversize === undefined && !r.source.problems.some((pb) => pb.key.endsWith('udp_oversize'))) {
    r.error(
      'udp_oversize',
      `is required with protocol udp: a message longer than udp_max_bytes (${udpMaxBytes}) cannot be sent whole in one datagram. ` +
        'Set "tcp" or "tls" to send those over a stream to the same host (udp_fallback_port, default port), or "refuse" to stop the bridge on such an event',
    );
  }
  if (protocol === 'udp' && framingGiven && udpOversize !== 'tcp' && udpOversize !== 'tls') {
    r.error('framing', 'applies to tcp and tls (and to the udp_oversize tcp/tls fallback) only: over udp every datagram is one message (RFC 5426)');
  }
  if (protocol !== 'udp') {
    for (const k of ['udp_max_bytes', 'udp_oversize', 'udp_fallback_port']) if (r.has(k)) r.error(k, 'applies to protocol udp only');
  }

  const tlsR = r.obj('tls');
  let tls: SyslogTlsConfig | undefined;
  const wantsTls = protocol === 'tls' || udpOversize === 'tls';
  if (tlsR) {
    if (!wantsTls) r.error('tls', 'applies only with protocol tls (or udp_oversize tls)');
    tls = {
      caFile: tlsR.str('ca_file'),
      certFile: tlsR.str('cert_file'),
      keyFile: tlsR.str('key_file'),
      verify: tlsR.bool('verify', { default: true })!,
      servername: tlsR.str('servername'),
    };
    if ((tls.certFile === undefined) !== (tls.keyFile === undefined)) tlsR.error(tls.certFile ? 'key_file' : 'cert_file', 'cert_file and key_file go together (a client certificate needs its key)');
    tlsR.finish();
  } else if (wantsTls) {
    tls = { verify: true };
  }

  const connectTimeoutMs = r.num('connect_timeout_secs', { min: 0.1, max: 600, default: 10, unit: 'seconds' })! * 1000;
  const writeTimeoutMs = r.num('write_timeout_secs', { min: 1, max: 3600, default: 60, unit: 'seconds' })! * 1000;
  const backoff = r.obj('reconnect');
  const reconnectMinMs = (backoff?.num('min_secs', { min: 0, max: 3600, default: 0.5, unit: 'seconds' }) ?? 0.5) * 1000;
  const reconnectMaxMs = (backoff?.num('max_secs', { min: 0, max: 3600, default: 30, unit: 'seconds' }) ?? 30) * 1000;
  backoff?.finish();
  // The config loader calls finish() on the output mapping itself (unknown keys, "did you mean").

  return {
    type: 'syslog', host, port, protocol, format, framing, message, facility, severity, appName, hostname, timezone,
    udpMaxBytes, udpOversize, udpFallbackPort, tls, connectTimeoutMs, writeTimeoutMs, reconnectMinMs, reconnectMaxMs,
  };
}
