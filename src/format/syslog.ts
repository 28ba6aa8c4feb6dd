/**
 * Pure syslog encoders: RFC 5424 and RFC 3164 headers stamped with the EVENT's own time
 * (never the send time), and the two stream framings of RFC 6587 / RFC 5425.
 *
 *   RFC 5424: `<PRI>1 2024-01-02T03:04:05.123456Z host duo-log-bridge 4242 authentication - MSG`
 *   RFC 3164: `<PRI>Jan  2 03:04:05 host duo-log-bridge[4242]: MSG`
 *
 * No BOM is written before MSG (RFC 5424 MSG-ANY): the classic Duo regexes and most SIEM
 * parsers expect the message to start with `{` or `CEF:`. RFC 3164 has no year, no sub-second
 * and no zone; the header is written in UTC unless `timezone: 'local'` is asked for, and the
 * exact time always travels inside the message (the JSON's own fields, CEF `rt`).
 */

/** `none`: no header, the message alone (what duo_log_sync sends; for receivers built for it). */
export type SyslogFormat = 'rfc5424' | 'rfc3164' | 'none';
export type Framing = 'octet-counting' | 'lf';

export const FACILITIES: Readonly<Record<string, number>> = {
  kern: 0, user: 1, mail: 2, daemon: 3, auth: 4, syslog: 5, lpr: 6, news: 7, uucp: 8, cron: 9,
  authpriv: 10, ftp: 11, ntp: 12, security: 13, console: 14, solaris_cron: 15,
  local0: 16, local1: 17, local2: 18, local3: 19, local4: 20, local5: 21, local6: 22, local7: 23,
};

export const SEVERITIES: Readonly<Record<string, number>> = {
  emerg: 0, emergency: 0, alert: 1, crit: 2, critical: 2, err: 3, error: 3, warning: 4, warn: 4,
  notice: 5, info: 6, informational: 6, debug: 7,
};

/** Name or number -> facility code 0..23; undefined when unknown. */
export function facilityCode(v: string | number): number | undefined {
  if (typeof v === 'number' || /^\d+$/.test(v)) {
    const n = Number(v);
    return Number.isInteger(n) && n >= 0 && n <= 23 ? n : undefined;
  }
  return FACILITIES[v.toLowerCase()];
}

/** Name or number -> severity code 0..7; undefined when unknown. */
export function severityCode(v: string | number): number | undefined {
  if (typeof v === 'number' || /^\d+$/.test(v)) {
    const n = Number(v);
    return Number.isInteger(n) && n >= 0 && n <= 7 ? n : undefined;
  }
  return SEVERITIES[v.toLowerCase()];
}

export interface SyslogHeader {
  format: SyslogFormat;
  facility: number;
  severity: number;
  /** Sanitised by the encoder (printable US-ASCII, no spaces). */
  hostname: string;
  appName: string;
  /** RFC 5424 PROCID and the `[pid]` of the RFC 3164 tag; omitted when empty. */
  procId?: string;
  /** RFC 3164 header clock; RFC 5424 is always UTC (`Z`). Default `utc`. */
  timezone?: 'utc' | 'local';
}

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
const p2 = (n: number): string => (n < 10 ? '0' + n : String(n));

/** RFC 3339 UTC with microseconds, from µs since the epoch: `2024-01-02T03:04:05.123456Z`. */
export function rfc5424Time(timeUs: number): string {
  const us = Math.floor(timeUs);
  const ms = Math.floor(us / 1000);
  const frac = ((us % 1_000_000) + 1_000_000) % 1_000_000;
  const iso = new Date(ms).toISOString(); // 2024-01-02T03:04:05.123Z
  return `${iso.slice(0, 19)}.${String(frac).padStart(6, '0')}Z`;
}

/** RFC 3164 `Mmm dd HH:MM:SS` (day space-padded), in UTC or the process's local zone. */
export function rfc3164Time(timeUs: number, timezone: 'utc' | 'local' = 'utc'): string {
  const d = new Date(Math.floor(timeUs / 1000));
  const local = timezone === 'local';
  const mon = local ? d.getMonth() : d.getUTCMonth();
  const day = local ? d.getDate() : d.getUTCDate();
  const h = local ? d.getHours() : d.getUTCHours();
  const m = local ? d.getMinutes() : d.getUTCMinutes();
  const s = local ? d.getSeconds() : d.getUTCSeconds();
  return `${MONTHS[mon]} ${day < 10 ? ' ' + day : day} ${p2(h)}:${p2(m)}:${p2(s)}`;
}

/** RFC 5424 header field: PRINTUSASCII (33..126) only, bounded length, `-` when empty. */
export function headerField(v: string | undefined, max: number): string {
  if (!v) return '-';
  let out = '';
  for (const ch of v) {
    const c = ch.codePointAt(0)!;
    out += c >= 33 && c <= 126 ? ch : '_';
    if (out.length >= max) break;
  }
  return out || '-';
}

/**
 * One syslog message (header + message), without framing.
 * `msgId` is the log type (RFC 5424 MSGID; RFC 3164 has no such field).
 */
export function encodeSyslog(h: SyslogHeader, timeUs: number, msgId: string, message: string): string {
  if (h.format === 'none') return message;
  const pri = `<${h.facility * 8 + h.severity}>`;
  if (h.format === 'rfc5424') {
    return `${pri}1 ${rfc5424Time(timeUs)} ${headerField(h.hostname, 255)} ${headerField(h.appName, 48)} ${headerField(h.procId, 128)} ${headerField(msgId, 32)} - ${message}`;
  }
  // RFC 3164: TAG is alphanumeric-ish, at most 32 characters including [pid].
  const host = headerField(h.hostname, 255);
  const pid = h.procId ? `[${headerField(h.procId, 10)}]` : '';
  const tag = headerField(h.appName, 32 - pid.length).replace(/[:[\]]/g, '_');
  return `${pri}${rfc3164Time(timeUs, h.timezone)} ${host} ${tag}${pid}: ${message}`;
}

/**
 * Stream framing for TCP/TLS. Octet counting (RFC 6587 3.4.1, RFC 5425 4.3): `LEN SP MSG`,
 * LEN in bytes. LF (RFC 6587 3.4.2): `MSG LF`; only safe because our messages never hold a
 * raw LF (JSON escapes it, CEF writes `\n`): the encoder refuses a message that does.
 */
export function frame(message: string, framing: Framing): Buffer {
  const body = Buffer.from(message, 'utf8');
  if (framing === 'octet-counting') return Buffer.concat([Buffer.from(`${body.length} `, 'ascii'), body]);
  if (message.includes('\n')) throw new Error('a message holding a line feed cannot be LF-framed; use octet-counting');
  return Buffer.concat([body, LF]);
}
const LF = Buffer.from('\n');
