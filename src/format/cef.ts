/**
 * ArcSight CEF (rev 25) lines for every Duo log, fixing what duo_log_sync 2.4.1 gets wrong:
 * - the right field paths (`access_device.hostname`, activity's `outcome.result`, ...);
 * - CEF escaping: header `\` and `|`; extension `\`, `=`, CR and LF (so one event = one line);
 * - `rt` in milliseconds since the epoch from the event's own time (DuoEvent.timeUs), for
 *   every log (DLS wrote `None` or an ISO string for telephony v2 and activity);
 * - a signature id and name for every log (DLS left them empty for telephony and activity);
 * - null / absent values are left out, never printed as `None`.
 * The mapping is data (`CEF_MAPPINGS`), and the README table is written from it.
 *
 * Line: `CEF:0|Duo Security|duo-log-bridge|<version>|<logType>:<what>|<name>|<sev>|k=v k=v ...`
 * No syslog header here: the syslog sink adds one, the file sink writes the bare line.
 */
import { readFileSync } from 'node:fs';
import { isIPv4, isIPv6 } from 'node:net';
import type { DuoEvent } from './event.js';

export const CEF_VENDOR = 'Duo Security';
export const CEF_PRODUCT = 'duo-log-bridge';
export const CEF_VERSION: string = (() => {
  try {
    const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version?: string };
    return pkg.version ?? '0';
  } catch {
    return '0';
  }
})();

/** Header field: `\` -> `\\`, `|` -> `\|`; CR/LF are not allowed in a header and become a space. */
export function escapeHeader(v: string): string {
  return v.replace(/[\\|]/g, (c) => '\\' + c).replace(/\r\n|[\r\n]/g, ' ');
}

/** Extension value: `\` -> `\\`, `=` -> `\=`, LF -> `\n`, CR -> `\r` (`|` needs no escape here). */
export function escapeValue(v: string): string {
  return v.replace(/[\\=\r\n]/g, (c) => (c === '\\' ? '\\\\' : c === '=' ? '\\=' : c === '\n' ? '\\n' : '\\r'));
}

type Rec = Record<string, unknown>;
type Getter = (r: Rec, e: DuoEvent) => unknown;

export interface CefField {
  /** CEF extension key (`src`, `duser`, `cs1`, ...). For `src`, an IPv6 value goes to `c6a2`. */
  key: string;
  /** For custom keys (csN, cnN, flexStringN): the text of `<key>Label`. */
  label?: string;
  /** Where the value comes from, as written in the README table. */
  from: string;
  get: Getter;
}

export interface CefMapping {
  /** The `eventtype` values this mapping applies to. */
  logTypes: string[];
  /** Device Event Class ID, how it is built (README). */
  signatureFrom: string;
  signature: (r: Rec, e: DuoEvent) => string;
  name: (r: Rec, e: DuoEvent) => string;
  severityFrom: string;
  severity: (r: Rec, e: DuoEvent) => number;
  fields: CefField[];
}

/** Value at a dotted path, or undefined. */
export function at(r: unknown, path: string): unknown {
  let v: unknown = r;
  for (const k of path.split('.')) {
    if (v === null || typeof v !== 'object' || Array.isArray(v)) return undefined;
    v = (v as Rec)[k];
  }
  return v;
}
const p = (path: string): Getter => (r) => at(r, path);
const str = (v: unknown): string | undefined => (v === null || v === undefined || v === '' ? undefined : typeof v === 'object' ? JSON.stringify(v) : String(v));
const joinDefined = (sep: string, ...vs: unknown[]): string | undefined => {
  const parts = vs.map(str).filter((x): x is string => x !== undefined);
  return parts.length ? parts.join(sep) : undefined;
};
const location = (base: string): Getter => (r) => joinDefined(', ', at(r, `${base}.city`), at(r, `${base}.state`), at(r, `${base}.country`));

const rt: CefField = { key: 'rt', from: 'the event time (µs) / 1000', get: (_r, e) => Math.floor(e.timeUs / 1000) };
const dvchost: CefField = { key: 'dvchost', from: '`host` (the Duo API hostname)', get: p('host') };
const child: CefField = { key: 'deviceExternalId', from: '`child_account_id` (MSP)', get: p('child_account_id') };

const AUTH: CefMapping = {
  logTypes: ['authentication'],
  signatureFrom: '`authentication:` + `result`',
  signature: (r) => `authentication:${str(r.result) ?? 'unknown'}`,
  name: (r) => `Duo authentication ${str(r.result) ?? 'unknown'}${str(r.reason) ? ` (${str(r.reason)})` : ''}`,
  severityFrom: '`result`: fraud 9, denied 6, error/failure 5, success 3, other 5',
  severity: (r) => ({ fraud: 9, denied: 6, error: 5, failure: 5, success: 3 } as Record<string, number>)[String(r.result)] ?? 5,
  fields: [
    rt,
    { key: 'externalId', from: '`txid`', get: p('txid') },
    { key: 'cat', from: '`event_type`', get: p('event_type') },
    { key: 'outcome', from: '`result`', get: p('result') },
    { key: 'reason', from: '`reason`', get: p('reason') },
    { key: 'duser', from: '`user.name`', get: p('user.name') },
    { key: 'duid', from: '`user.key`', get: p('user.key') },
    { key: 'src', from: '`access_device.ip` (IPv6 goes to `c6a2`)', get: p('access_device.ip') },
    { key: 'shost', from: '`access_device.hostname`', get: p('access_device.hostname') },
    { key: 'requestClientApplication', from: '`access_device.browser` + `browser_version`', get: (r) => joinDefined(' ', at(r, 'access_device.browser'), at(r, 'access_device.browser_version')) },
    { key: 'destinationServiceName', from: '`application.name`', get: p('application.name') },
    dvchost,
    { key: 'cs1', label: 'factor', from: '`factor`', get: p('factor') },
    { key: 'cs2', label: 'email', from: '`email`', get: p('email') },
    { key: 'cs3', label: 'integration_key', from: '`application.key`', get: p('application.key') },
    { key: 'cs4', label: 'auth_device', from: '`auth_device.name`', get: p('auth_device.name') },
    { key: 'cs5', label: 'auth_device_ip', from: '`auth_device.ip`', get: p('auth_device.ip') },
    { key: 'cs6', label: 'access_location', from: '`access_device.location` city, state, country', get: location('access_device.location') },
    { key: 'flexString1', label: 'os', from: '`access_device.os` + `os_version`', get: (r) => joinDefined(' ', at(r, 'access_device.os'), at(r, 'access_device.os_version')) },
    { key: 'flexString2', label: 'groups', from: '`user.groups` joined with `,`', get: (r) => (Array.isArray(at(r, 'user.groups')) ? joinDefined(',', ...(at(r, 'user.groups') as unknown[])) : str(at(r, 'user.groups'))) },
    child,
  ],
};

const adminLike = (logType: string, title: string): CefMapping => ({
  logTypes: [logType],
  signatureFrom: `\`${logType}:\` + \`action\``,
  signature: (r) => `${logType}:${str(r.action) ?? 'unknown'}`,
  name: (r) => `Duo ${title} ${str(r.action) ?? 'unknown'}`,
  severityFrom: '6 when `action` holds `error`, `fail` or `lockout`, else 4',
  severity: (r) => (/error|fail|lockout/i.test(String(r.action ?? '')) ? 6 : 4),
  fields: [
    rt,
    { key: 'externalId', from: 'the bridge event id (content hash)', get: (_r, e) => e.id },
    { key: 'cat', from: `\`${logType}\``, get: () => logType },
    { key: 'act', from: '`action`', get: p('action') },
    { key: 'suser', from: '`username`', get: p('username') },
    { key: 'cs1', label: 'object', from: '`object`', get: p('object') },
    { key: 'msg', from: '`description` (a JSON string, kept as is)', get: p('description') },
    dvchost,
    child,
  ],
});

const TELEPHONY: CefMapping = {
  logTypes: ['telephony'],
  signatureFrom: '`telephony:` + `type`',
  signature: (r) => `telephony:${str(r.type) ?? 'unknown'}`,
  name: (r) => `Duo telephony ${str(r.type) ?? 'unknown'}${str(r.context) ? ` (${str(r.context)})` : ''}`,
  severityFrom: 'always 2',
  severity: () => 2,
  fields: [
    rt,
    { key: 'externalId', from: '`telephony_id` (v2), else the bridge event id', get: (r, e) => str(r.telephony_id) ?? e.id },
    { key: 'cat', from: '`context`', get: p('context') },
    { key: 'act', from: '`type`', get: p('type') },
    { key: 'cs1', label: 'phone', from: '`phone`', get: p('phone') },
    { key: 'cn1', label: 'credits', from: '`credits`', get: p('credits') },
    { key: 'cs2', label: 'txid', from: '`txid` (v2)', get: p('txid') },
    dvchost,
    child,
  ],
};

const ACTIVITY: CefMapping = {
  logTypes: ['activity'],
  signatureFrom: '`activity:` + `action.name` (or `action` when a string)',
  signature: (r) => `activity:${str(at(r, 'action.name') ?? (typeof r.action === 'string' ? r.action : undefined)) ?? 'unknown'}`,
  name: (r) => `Duo activity ${str(at(r, 'action.name') ?? (typeof r.action === 'string' ? r.action : undefined)) ?? 'unknown'}${str(at(r, 'actor.type')) ? ` by ${str(at(r, 'actor.type'))}` : ''}`,
  severityFrom: '`outcome.result`: FAILURE 5, else 3',
  severity: (r) => (String(at(r, 'outcome.result') ?? '').toUpperCase() === 'FAILURE' ? 5 : 3),
  fields: [
    rt,
    { key: 'externalId', from: '`activity_id`', get: p('activity_id') },
    { key: 'act', from: '`action.name` (or `action`)', get: (r) => at(r, 'action.name') ?? (typeof r.action === 'string' ? r.action : undefined) },
    { key: 'outcome', from: '`outcome.result`', get: p('outcome.result') },
    { key: 'suser', from: '`actor.name`', get: p('actor.name') },
    { key: 'suid', from: '`actor.key`', get: p('actor.key') },
    { key: 'src', from: '`access_device.ip.address` (IPv6 goes to `c6a2`)', get: p('access_device.ip.address') },
    { key: 'requestClientApplication', from: '`access_device.browser` + `browser_version`', get: (r) => joinDefined(' ', at(r, 'access_device.browser'), at(r, 'access_device.browser_version')) },
    { key: 'destinationServiceName', from: '`application.name`', get: p('application.name') },
    { key: 'msg', from: '`target.details`', get: p('target.details') },
    dvchost,
    { key: 'cs1', label: 'target', from: '`target.name`', get: p('target.name') },
    { key: 'cs2', label: 'target_type', from: '`target.type`', get: p('target.type') },
    { key: 'cs3', label: 'actor_type', from: '`actor.type`', get: p('actor.type') },
    { key: 'cs4', label: 'integration_type', from: '`application.type`', get: p('application.type') },
    { key: 'cs5', label: 'integration_key', from: '`application.key`', get: p('application.key') },
    { key: 'cs6', label: 'access_location', from: '`access_device.location` city, state, country', get: location('access_device.location') },
    child,
  ],
};

const TRUST_MONITOR: CefMapping = {
  logTypes: ['trust_monitor', 'trustmonitor'],
  signatureFrom: '`trust_monitor:` + `type`',
  signature: (r) => `trust_monitor:${str(r.type) ?? 'unknown'}`,
  name: (r) => `Duo Trust Monitor ${str(r.type) ?? 'unknown'} event`,
  severityFrom: '`priority_event` true 8, else 6',
  severity: (r) => (r.priority_event === true ? 8 : 6),
  fields: [
    rt,
    { key: 'externalId', from: '`sekey`', get: p('sekey') },
    { key: 'cat', from: '`type`', get: p('type') },
    { key: 'msg', from: '`explanations[].summary` joined with `; `', get: (r) => (Array.isArray(r.explanations) ? joinDefined('; ', ...r.explanations.map((x) => at(x, 'summary'))) : undefined) },
    { key: 'duser', from: '`surfaced_auth.user.name`', get: p('surfaced_auth.user.name') },
    { key: 'src', from: '`surfaced_auth.access_device.ip` (IPv6 goes to `c6a2`)', get: p('surfaced_auth.access_device.ip') },
    { key: 'outcome', from: '`surfaced_auth.result`', get: p('surfaced_auth.result') },
    { key: 'request', from: '`triage_event_uri`', get: p('triage_event_uri') },
    dvchost,
    { key: 'cs1', label: 'state', from: '`state`', get: p('state') },
    { key: 'cs2', label: 'surfaced_txid', from: '`surfaced_auth.txid`', get: p('surfaced_auth.txid') },
    { key: 'cs3', label: 'priority_reasons', from: '`priority_reasons` (JSON)', get: p('priority_reasons') },
    child,
  ],
};

/** Any other log the bridge pulls: its time, id and type, and the whole JSON line in `msg`. */
export const GENERIC_MAPPING: CefMapping = {
  logTypes: ['*'],
  signatureFrom: 'the log type',
  signature: (_r, e) => e.logType,
  name: (_r, e) => `Duo ${e.logType} event`,
  severityFrom: 'always 5',
  severity: () => 5,
  fields: [
    rt,
    { key: 'externalId', from: 'the bridge event id', get: (_r, e) => e.id },
    { key: 'cat', from: 'the log type', get: (_r, e) => e.logType },
    { key: 'msg', from: 'the whole JSON line', get: (_r, e) => e.json },
    dvchost,
    child,
  ],
};

export const CEF_MAPPINGS: readonly CefMapping[] = [
  AUTH,
  adminLike('administrator', 'administrator action'),
  TELEPHONY,
  ACTIVITY,
  TRUST_MONITOR,
  adminLike('offline_enrollment', 'offline enrollment'),
  GENERIC_MAPPING,
];

const BY_TYPE = new Map<string, CefMapping>();
for (const m of CEF_MAPPINGS) for (const t of m.logTypes) BY_TYPE.set(t, m);

export function mappingFor(logType: string): CefMapping {
  return BY_TYPE.get(logType) ?? GENERIC_MAPPING;
}

export interface CefOptions {
  vendor?: string;
  product?: string;
  version?: string;
}

/** One CEF line (no trailing newline, no raw CR/LF anywhere in it). */
export function cefLine(e: DuoEvent, opts: CefOptions = {}): string {
  const m = mappingFor(e.logType);
  const r = e.record;
  const head = [
    'CEF:0',
    escapeHeader(opts.vendor ?? CEF_VENDOR),
    escapeHeader(opts.product ?? CEF_PRODUCT),
    escapeHeader(opts.version ?? CEF_VERSION),
    escapeHeader(m.signature(r, e)),
    escapeHeader(m.name(r, e)),
    String(Math.max(0, Math.min(10, m.severity(r, e)))),
  ].join('|');
  const ext: string[] = [];
  for (const f of m.fields) {
    const v = str(f.get(r, e));
    if (v === undefined) continue;
    if (f.key === 'src') {
      // Only a real address goes out: an `ip:port` form gives src + spt, anything else is dropped.
      const [ip, port] = splitPort(v);
      if (isIPv4(ip)) ext.push(`src=${ip}`);
      else if (isIPv6(ip)) ext.push(`c6a2=${escapeValue(ip)}`, 'c6a2Label=Source IPv6 Address');
      else continue;
      if (port !== undefined) ext.push(`spt=${port}`);
      continue;
    }
    if (f.label) ext.push(`${f.key}Label=${escapeValue(f.label)}`);
    ext.push(`${f.key}=${escapeValue(v)}`);
  }
  return `${head}|${ext.join(' ')}`;
}

/** `1.2.3.4:5678` -> [`1.2.3.4`, `5678`], `[::1]:443` -> [`::1`, `443`]; anything else unchanged. */
function splitPort(v: string): [string, string | undefined] {
  const m4 = /^(\d{1,3}(?:\.\d{1,3}){3}):(\d{1,5})$/.exec(v);
  if (m4) return [m4[1]!, m4[2]];
  const m6 = /^\[([0-9a-fA-F:.]+)\](?::(\d{1,5}))?$/.exec(v);
  return m6 ? [m6[1]!, m6[2]] : [v, undefined];
}
