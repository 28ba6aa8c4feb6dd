/**
 * What an error from the forward client means for the bridge:
 * - `permanent`: retrying cannot help (wrong shared key, user rejected, handshake expected but
 *   not configured, TLS certificate not trusted). The batch rejects non-retryable, the bridge stops.
 * - `recreate`: the library's socket went FATAL (it never reconnects from there) for a reason
 *   that may pass (an unexpected server reply): build a new client.
 * - `transient`: refused, reset, timed out... the CLOSE event that follows retires the client.
 */
import { FluentError } from '@fluent-org/logger';
import { SinkError } from '../../errors.js';
import type { ForwardConfig } from './config.js';

export type Classified = { kind: 'permanent'; error: SinkError } | { kind: 'recreate'; reason: string } | { kind: 'transient' };

/** OpenSSL / Node verification failures of the server certificate. */
const TLS_VERIFY_CODES = new Set([
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
  'CERT_SIGNATURE_FAILURE',
  'CERT_UNTRUSTED',
  'CERT_REJECTED',
  'INVALID_CA',
  'ERR_TLS_CERT_ALTNAME_INVALID',
]);
/** The server aborted the TLS handshake because of our certificate (mutual TLS). */
const TLS_PEER_REJECTED = /^ERR_SSL_.*ALERT_(BAD_CERTIFICATE|UNKNOWN_CA|CERTIFICATE_REQUIRED|CERTIFICATE_UNKNOWN|ACCESS_DENIED|UNSUPPORTED_CERTIFICATE)$/;

export function classifyClientError(err: Error, cfg: ForwardConfig, endpoint: string): Classified {
  const perm = (code: string, message: string): Classified => ({ kind: 'permanent', error: new SinkError(code, message, { retryable: false, cause: err }) });
  const code = (err as NodeJS.ErrnoException).code;

  if (err instanceof FluentError.SharedKeyMismatchError) {
    return perm(
      'DLB_SINK_FORWARD_SHARED_KEY',
      `Fluentd at ${endpoint} rejected the shared key: output.security.shared_key does not match the shared_key in its in_forward <security> section.`,
    );
  }
  if (err instanceof FluentError.AuthError) {
    if (!cfg.security) {
      return perm(
        'DLB_SINK_FORWARD_AUTH_REQUIRED',
        `Fluentd at ${endpoint} requires the shared-key handshake (in_forward <security>), but output.security is not set.`,
      );
    }
    // "Authentication failed: <reason from the server's PONG>" (the reason never holds a secret).
    const reason = err.message.replace(/^Authentication failed:\s*/, '');
    if (/shared.?key/i.test(reason)) {
      return perm(
        'DLB_SINK_FORWARD_SHARED_KEY',
        `Fluentd at ${endpoint} rejected the shared key (${reason}): output.security.shared_key does not match the shared_key in its in_forward <security> section.`,
      );
    }
    return perm(
      'DLB_SINK_FORWARD_AUTH',
      `Fluentd at ${endpoint} refused the handshake (${reason || 'no reason given'}); check output.security.username and password against its <user> entries.`,
    );
  }
  if (err instanceof FluentError.ConfigError) {
    // The only ConfigError raised on a live socket: PONG carries our own hostname.
    return perm(
      'DLB_SINK_FORWARD_SELF_HOSTNAME',
      `Fluentd at ${endpoint} uses the same self_hostname as output.security.self_hostname (${cfg.security?.selfHostname ?? ''}); set a different one.`,
    );
  }
  if (code && TLS_VERIFY_CODES.has(code)) {
    const where = cfg.tls?.caFile ? `output.tls.ca_file (${cfg.tls.caFile})` : "Node's default CA list (set output.tls.ca_file)";
    const what = code === 'ERR_TLS_CERT_ALTNAME_INVALID' ? `does not name the host we connect to (set output.tls.servername to a name in the certificate)` : `is not trusted by ${where}`;
    return perm('DLB_SINK_FORWARD_TLS_VERIFY', `TLS: the certificate of Fluentd at ${endpoint} ${what}: ${code}: ${err.message}.`);
  }
  if (code && TLS_PEER_REJECTED.test(code)) {
    return perm(
      'DLB_SINK_FORWARD_TLS_REJECTED',
      `TLS: Fluentd at ${endpoint} rejected our client certificate (${code}); check output.tls.cert_file and key_file against its <transport tls> CA.`,
    );
  }
  if (code === 'ERR_SSL_WRONG_VERSION_NUMBER' || code === 'ERR_SSL_PACKET_LENGTH_TOO_LONG') {
    return perm('DLB_SINK_FORWARD_TLS_PLAIN_SERVER', `TLS: Fluentd at ${endpoint} does not speak TLS (${code}); remove output.tls or add <transport tls> to its in_forward.`);
  }
  if (err instanceof FluentError.UnexpectedMessageError) return { kind: 'recreate', reason: 'Fluentd sent a reply the forward protocol does not allow' };
  if (err instanceof FluentError.SocketTimeoutError || err instanceof FluentError.FatalSocketError) return { kind: 'recreate', reason: err.message };
  return { kind: 'transient' };
}
