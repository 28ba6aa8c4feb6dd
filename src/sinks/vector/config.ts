/**
 * `output: {type: vector, ...}`: Vector's native protocol (the `vector` source, version 2, gRPC).
 *
 *   output:
 *     type: vector
 *     address: 127.0.0.1:6000      # host:port of the `vector` source (required)
 *     batch_size: 1000             # events per PushEvents call (one acknowledgement unit)
 *     max_in_flight: 4             # PushEvents calls in flight at once, over all logs
 *     compression: none            # none | gzip (gRPC message compression)
 *     timeout_secs: 60             # per call; keep it above Vector's own delivery time
 *     timestamp_key: timestamp     # where the event time goes (a Vector timestamp, µs precision)
 *     include_message: false       # also send the NDJSON line under `message`
 *     tls:                         # present = TLS; absent = plaintext HTTP/2
 *       ca_file: /etc/ssl/vector-ca.pem
 *       cert_file: /etc/duo-log-bridge/client.pem   # client certificate (mutual TLS), with key_file
 *       key_file: /etc/duo-log-bridge/client.key
 *       verify: true               # false skips certificate and host name checks (testing only)
 *       server_name: vector.internal  # name to check the certificate against, when address is an IP
 */
import type { ConfigReader } from '../../config/reader.js';

export interface TlsFilesConfig {
  caFile?: string;
  certFile?: string;
  keyFile?: string;
  verify: boolean;
  serverName?: string;
}

export interface VectorSinkConfig {
  type: 'vector';
  address: string;
  batchSize: number;
  maxInFlight: number;
  compression: 'none' | 'gzip';
  timeoutSecs: number;
  timestampKey: string;
  includeMessage: boolean;
  tls?: TlsFilesConfig;
}

export function defaultVectorSinkConfig(): VectorSinkConfig {
  return {
    type: 'vector',
    address: '127.0.0.1:6000',
    batchSize: 1000,
    maxInFlight: 4,
    compression: 'none',
    timeoutSecs: 60,
    timestampKey: 'timestamp',
    includeMessage: false,
  };
}

const HOST_PORT = /^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9._-]+):(\d{1,5})$/;

export function parseVectorSinkConfig(r: ConfigReader): VectorSinkConfig {
  const d = defaultVectorSinkConfig();
  const address = r.str('address', { required: true }) ?? d.address;
  if (r.has('address')) {
    const m = HOST_PORT.exec(address);
    if (/^[a-z]+:\/\//i.test(address)) {
      r.error('address', 'must be host:port without a scheme (for TLS add a `tls:` section), e.g. 127.0.0.1:6000');
    } else if (!m || Number(m[2]) < 1 || Number(m[2]) > 65535) {
      r.error('address', 'must be host:port with a port from 1 to 65535, e.g. 127.0.0.1:6000 or [::1]:6000');
    }
  }
  const cfg: VectorSinkConfig = {
    type: 'vector',
    address,
    batchSize: r.int('batch_size', { min: 1, max: 100_000, default: d.batchSize, unit: 'events' }) ?? d.batchSize,
    maxInFlight: r.int('max_in_flight', { min: 1, max: 256, default: d.maxInFlight, unit: 'calls' }) ?? d.maxInFlight,
    compression: r.oneOf('compression', ['none', 'gzip'] as const, { default: d.compression }) ?? d.compression,
    timeoutSecs: r.num('timeout_secs', { min: 0.1, max: 3600, default: d.timeoutSecs, unit: 'seconds' }) ?? d.timeoutSecs,
    timestampKey: r.str('timestamp_key', { default: d.timestampKey, pattern: /^\S+$/, hint: 'must be a field name without spaces' }) ?? d.timestampKey,
    includeMessage: r.bool('include_message', { default: d.includeMessage }) ?? d.includeMessage,
  };
  if (cfg.includeMessage && cfg.timestampKey === 'message') r.error('timestamp_key', 'cannot be "message" while include_message is true');
  const tls = r.obj('tls');
  if (tls) {
    cfg.tls = parseTlsFiles(tls);
    tls.finish();
  }
  return cfg;
}

/** `tls:` keys shared by the vector and http outputs. */
export function parseTlsFiles(t: ConfigReader): TlsFilesConfig {
  const out: TlsFilesConfig = { verify: t.bool('verify', { default: true }) ?? true };
  const ca = t.str('ca_file');
  const cert = t.str('cert_file');
  const key = t.str('key_file');
  const name = t.str('server_name');
  if (ca !== undefined) out.caFile = ca;
  if (cert !== undefined) out.certFile = cert;
  if (key !== undefined) out.keyFile = key;
  if (name !== undefined) out.serverName = name;
  if ((cert === undefined) !== (key === undefined)) {
    t.error(cert === undefined ? 'cert_file' : 'key_file', 'cert_file and key_file go together (a client certificate needs its key)');
  }
  return out;
}
