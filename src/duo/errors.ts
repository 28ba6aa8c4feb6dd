/**
 * Duo's error envelope → a typed DuoApiError with text an operator can act on at 3 a.m.
 * Classification lives here, where the error arises: retryable (429, 5xx, 40105, network,
 * garbage bodies) or not (credentials, permissions, bad parameters).
 */
import { DuoApiError } from '../errors.js';

const ADVICE: Record<number, string> = {
  40002: 'Duo rejected the request parameters; the bridge re-plans the window (180-day limit, 2-minute delay) and retries.',
  40101: 'Duo saw no credentials: check credentials.integration_key and that nothing between the bridge and Duo strips the Authorization header.',
  40102: 'Duo does not know this integration key: check credentials.integration_key, and that it belongs to an Admin API application (not Auth API or Web SDK).',
  40103: 'Duo rejected the signature: check credentials.secret_key (secret_key_file / DUO_SECRET_KEY) and credentials.hostname.',
  40104: 'Duo rejected the credentials: check the Admin API application in the Duo Admin Panel.',
  40105: "Duo rejected the request time: this host's clock is off; fix NTP. The bridge re-signs and retries.",
  40301: 'The Admin API application lacks a permission: enable "Grant read log" in the Duo Admin Panel (Applications → the Admin API app → Permissions).',
  40401: 'Duo has no such endpoint for this account; check credentials.hostname, or disable this log in services.',
  42901: 'Duo rate-limited the bridge (no Retry-After is sent); the bridge backs off and slows its pace for this log.',
};

export function duoFailure(httpStatus: number, body: { code?: unknown; message?: unknown; message_detail?: unknown }, what: string): DuoApiError {
  const duoCode = typeof body.code === 'number' ? body.code : Number(body.code) || undefined;
  const msg = typeof body.message === 'string' ? body.message : 'no message';
  const detail = typeof body.message_detail === 'string' ? ` (${body.message_detail})` : '';
  const advice = duoCode !== undefined ? ADVICE[duoCode] : undefined;
  const text = `${what}: Duo answered ${httpStatus} ${duoCode ?? ''} ${msg}${detail}.${advice ? ' ' + advice : ''}`.replace(/\s+/g, ' ');
  const rateLimited = httpStatus === 429 || duoCode === 42901;
  const isAuth = (httpStatus === 401 && duoCode !== 40105) || httpStatus === 403;
  const retryable = rateLimited || httpStatus >= 500 || duoCode === 40105 || httpStatus === 408;
  const code = rateLimited
    ? 'DLB_DUO_RATE_LIMITED'
    : duoCode === 40105
      ? 'DLB_DUO_CLOCK_SKEW'
      : isAuth
        ? 'DLB_DUO_AUTH'
        : httpStatus >= 500
          ? 'DLB_DUO_SERVER'
          : 'DLB_DUO_REQUEST';
  return new DuoApiError(code, text, { httpStatus, duoCode, retryable, isAuth });
}
