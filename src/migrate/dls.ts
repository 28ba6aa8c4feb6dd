/**
 * duo_log_sync configs, both generations, into the neutral Migration form. Pure: no I/O,
 * the clock comes in as `nowMs`.
 *
 * - current (DLS 2.x, `version: '1.0.0'`): `dls_settings` / `servers` / `account`, plus the
 *   shape DLS's own template_config.yml still shows (`accounts:` list, `checkpoint_dir`,
 *   mappings with `servers:` lists, endpoints as a string or a list);
 * - legacy (DLS before 1.0): `duoclient` / `logs` / `transport` / `recoverFromCheckpoint`,
 *   read the way DLS's upgrade_config.py reads it (`polling.duration` in minutes,
 *   `certFileDir` + `certFileName`, `logDir` + `duologsync.log`).
 */
import { LOG_KINDS } from '../duo/logs/index.js';
import { bool, daysAgoIso, isObj, num, text, unknownKeys, type Migration, type Note } from './types.js';

/** DLS endpoint names → the bridge's log names (trust monitor and activity only where the bridge has them). */
const ENDPOINT_TO_LOG: Record<string, string> = {
  auth: 'authentication',
  telephony: 'telephony',
  adminaction: 'administrator',
  trustmonitor: 'trust_monitor',
  activity: 'activity',
};
const LOG_ORDER = ['authentication', 'administrator', 'telephony', 'trust_monitor', 'activity'];
const DLS_MIN_TIMEOUT = 120;
const DLS_DEFAULT_OFFSET_DAYS = 180;

/** What both DLS generations say, after their differences are read away. */
interface DlsModel {
  form: 'dls' | 'dls-legacy';
  ikey?: string;
  skey?: string;
  hostname?: string;
  keys: { ikey: string; skey: string; hostname: string };
  logFilepath?: { value: string; key: string };
  logFormat?: string;
  logFormatKey: string;
  offsetDays?: number;
  offsetKey: string;
  timeoutSecs?: number;
  timeoutKey: string;
  checkpointing: { enabled?: boolean; directory?: string; enabledKey: string; directoryKey: string };
  proxy: { server?: string; port?: number };
  servers: Server[];
  mappings: { endpoints: string[]; servers: string[] }[] | undefined;
  mappingKey: string;
  isMsp?: boolean;
  blockList?: unknown[];
  extraAccounts: number;
  unknown: string[];
}

interface Server {
  id: string;
  hostname?: string;
  port?: number;
  protocol?: string;
  certFilepath?: string;
  key: string;
}

function list(v: unknown): string[] {
  if (Array.isArray(v)) return v.map((x) => text(x)).filter((x): x is string => !!x);
  const t = text(v);
  return t ? [t] : [];
}

function readCurrent(cfg: Record<string, unknown>): DlsModel {
  const unknown = unknownKeys(cfg, ['version', 'dls_settings', 'servers', 'account', 'accounts'], '');
  const s = isObj(cfg.dls_settings) ? cfg.dls_settings : {};
  unknown.push(...unknownKeys(s, ['log_filepath', 'log_format', 'api', 'checkpointing', 'proxy'], 'dls_settings'));
  const api = isObj(s.api) ? s.api : {};
  unknown.push(...unknownKeys(api, ['offset', 'timeout'], 'dls_settings.api'));
  const cp = isObj(s.checkpointing) ? s.checkpointing : {};
  unknown.push(...unknownKeys(cp, ['enabled', 'directory', 'checkpoint_dir'], 'dls_settings.checkpointing'));
  const px = isObj(s.proxy) ? s.proxy : {};
  unknown.push(...unknownKeys(px, ['proxy_server', 'proxy_port'], 'dls_settings.proxy'));

  let account: Record<string, unknown> = {};
  let accountKey = 'account';
  let extraAccounts = 0;
  if (isObj(cfg.account)) account = cfg.account;
  else if (Array.isArray(cfg.accounts)) {
    // DLS's template_config.yml shows a list of accounts; DLS itself reads one `account`.
    const first = cfg.accounts.find(isObj);
    if (first) account = first;
    accountKey = 'accounts[0]';
    extraAccounts = Math.max(0, cfg.accounts.filter(isObj).length - 1);
  }
  unknown.push(...unknownKeys(account, ['ikey', 'skey', 'hostname', 'endpoint_server_mappings', 'is_msp', 'block_list'], accountKey));

  const servers: Server[] = [];
  if (Array.isArray(cfg.servers)) {
    cfg.servers.forEach((sv, i) => {
      if (!isObj(sv)) return;
      unknown.push(...unknownKeys(sv, ['id', 'hostname', 'port', 'protocol', 'cert_filepath'], `servers[${i}]`));
      servers.push({
        id: text(sv.id) ?? '',
        hostname: text(sv.hostname),
        port: num(sv.port),
        protocol: text(sv.protocol)?.toUpperCase(),
        certFilepath: text(sv.cert_filepath),
        key: `servers[${i}]`,
      });
    });
  }
  let mappings: DlsModel['mappings'];
  if (Array.isArray(account.endpoint_server_mappings)) {
    mappings = account.endpoint_server_mappings.filter(isObj).map((m) => ({
      endpoints: list(m.endpoints).map((e) => e.toLowerCase()),
      servers: [...list(m.server), ...list(m.servers)],
    }));
  }
  const lf = text(s.log_filepath);
  const dirKey = cp.directory !== undefined || cp.checkpoint_dir === undefined ? 'directory' : 'checkpoint_dir';
  return {
    form: 'dls',
    ikey: text(account.ikey),
    skey: text(account.skey),
    hostname: text(account.hostname),
    keys: { ikey: `${accountKey}.ikey`, skey: `${accountKey}.skey`, hostname: `${accountKey}.hostname` },
    logFilepath: lf ? { value: lf, key: 'dls_settings.log_filepath' } : undefined,
    logFormat: text(s.log_format)?.toUpperCase(),
    logFormatKey: 'dls_settings.log_format',
    offsetDays: num(api.offset),
    offsetKey: 'dls_settings.api.offset',
    timeoutSecs: num(api.timeout),
    timeoutKey: 'dls_settings.api.timeout',
    checkpointing: {
      enabled: bool(cp.enabled),
      directory: text(cp.directory) ?? text(cp.checkpoint_dir),
      enabledKey: 'dls_settings.checkpointing.enabled',
      directoryKey: `dls_settings.checkpointing.${dirKey}`,
    },
    proxy: { server: text(px.proxy_server), port: num(px.proxy_port) },
    servers,
    mappings,
    mappingKey: `${accountKey}.endpoint_server_mappings`,
    isMsp: bool(account.is_msp),
    blockList: Array.isArray(account.block_list) ? account.block_list : undefined,
    extraAccounts,
    unknown,
  };
}

function joinPath(dir: string, name: string): string {
  const sep = dir.includes('\\') && !dir.includes('/') ? '\\' : '/';
  return dir.endsWith(sep) ? dir + name : dir + sep + name;
}

function readLegacy(cfg: Record<string, unknown>): DlsModel {
  const unknown = unknownKeys(cfg, ['version', 'duoclient', 'logs', 'transport', 'recoverFromCheckpoint'], '');
  const dc = isObj(cfg.duoclient) ? cfg.duoclient : {};
  unknown.push(...unknownKeys(dc, ['ikey', 'skey', 'host'], 'duoclient'));
  const logs = isObj(cfg.logs) ? cfg.logs : {};
  unknown.push(...unknownKeys(logs, ['logDir', 'log_format', 'endpoints', 'polling', 'checkpointDir'], 'logs'));
  const ep = isObj(logs.endpoints) ? logs.endpoints : {};
  const polling = isObj(logs.polling) ? logs.polling : {};
  unknown.push(...unknownKeys(polling, ['duration', 'daysinpast'], 'logs.polling'));
  const tr = isObj(cfg.transport) ? cfg.transport : {};
  unknown.push(...unknownKeys(tr, ['protocol', 'host', 'port', 'certFileDir', 'certFileName'], 'transport'));
  const rec = isObj(cfg.recoverFromCheckpoint) ? cfg.recoverFromCheckpoint : {};

  const logDir = text(logs.logDir);
  const certDir = text(tr.certFileDir);
  const certName = text(tr.certFileName);
  const protocol = text(tr.protocol)?.toUpperCase();
  const duration = num(polling.duration);
  const servers: Server[] = cfg.transport === undefined ? [] : [{
    id: 'transport',
    hostname: text(tr.host),
    port: num(tr.port),
    protocol,
    // Only TCPSSL reads the certificate (upgrade_config.py joins the two the same way).
    certFilepath: certDir && certName ? joinPath(certDir, certName) : undefined,
    key: 'transport',
  }];
  const endpoints = list(ep.enabled).map((e) => e.toLowerCase());
  return {
    form: 'dls-legacy',
    ikey: text(dc.ikey),
    skey: text(dc.skey),
    hostname: text(dc.host),
    keys: { ikey: 'duoclient.ikey', skey: 'duoclient.skey', hostname: 'duoclient.host' },
    logFilepath: logDir ? { value: joinPath(logDir, 'duologsync.log'), key: 'logs.logDir' } : undefined,
    logFormat: text(logs.log_format)?.toUpperCase(),
    logFormatKey: 'logs.log_format',
    offsetDays: num(polling.daysinpast),
    offsetKey: 'logs.polling.daysinpast',
    // Old DLS counted the polling duration in minutes.
    timeoutSecs: duration === undefined ? undefined : duration * 60,
    timeoutKey: 'logs.polling.duration (minutes)',
    checkpointing: {
      enabled: bool(rec.enabled),
      directory: text(logs.checkpointDir),
      enabledKey: 'recoverFromCheckpoint.enabled',
      directoryKey: 'logs.checkpointDir',
    },
    proxy: {},
    servers,
    mappings: ep.enabled === undefined ? undefined : [{ endpoints, servers: servers.length ? ['transport'] : [] }],
    mappingKey: 'logs.endpoints.enabled',
    extraAccounts: 0,
    unknown,
  };
}

/** One DLS server as the bridge's syslog output (the closest the bridge has to DLS's bare TCP/UDP stream). */
function serverOutput(sv: Server, cef: boolean, notes: Note[]): Record<string, unknown> | undefined {
  if (!sv.hostname || sv.port === undefined || !Number.isInteger(sv.port) || sv.port < 1 || sv.port > 65535) {
    notes.push({
      at: 'output',
      text:
        `${sv.key} has no usable hostname/port (${sv.hostname ? `hostname ${sv.hostname}` : 'hostname empty'}, ${sv.port === undefined ? 'port empty' : `port ${sv.port}`}), ` +
        'so events go to stdout. Set output: {type: syslog, host: ..., port: ...}, or {type: forward, ...} for Fluentd, ' +
        'or keep stdout and pipe the bridge into your shipper.',
    });
    return undefined;
  }
  const message = cef ? 'cef' : 'json';
  if (sv.certFilepath && sv.protocol !== 'TCPSSL') {
    notes.push({ at: 'output', text: `${sv.key} certificate (${sv.certFilepath}) not carried over: DLS read it for TCPSSL only, and this server is ${sv.protocol ?? 'not TCPSSL'}.` });
  }
  // format: none sends each event as DLS did: the bare line, no syslog header, so the receiver and its rules keep working.
  const base = { type: 'syslog', host: sv.hostname, port: sv.port, format: 'none' };
  const wire =
    `DLS wrote each event as a bare ${cef ? 'CEF' : 'JSON'} line with no syslog header; format: none keeps exactly that. ` +
    'Set format: rfc5424 (or rfc3164) if the receiver parses syslog and you want the event time and host in a header.';
  switch (sv.protocol) {
    case 'TCP':
      notes.push({ at: 'output', text: `${sv.key} (TCP to ${sv.hostname}:${sv.port}) carried as a syslog output over TCP, one event per line (framing lf). ${wire}` });
      return { ...base, protocol: 'tcp', framing: 'lf', message };
    case 'TCPSSL': {
      notes.push({
        at: 'output',
        text:
          `${sv.key} (TCPSSL to ${sv.hostname}:${sv.port}) carried as syslog over TLS, one event per line (framing lf, as DLS sent). ` +
          'DLS verified the server against cert_filepath and sent no client certificate; tls.ca_file does the same here. ' +
          wire,
      });
      const out: Record<string, unknown> = { ...base, protocol: 'tls', framing: 'lf', message };
      if (sv.certFilepath) out.tls = { ca_file: sv.certFilepath };
      else notes.push({ at: 'output', text: `${sv.key} uses TCPSSL without cert_filepath; the bridge verifies the server against the system CAs.` });
      return out;
    }
    case 'UDP':
      notes.push({
        at: 'output',
        text:
          `${sv.key} (UDP to ${sv.hostname}:${sv.port}) carried as syslog over UDP, one event per datagram, up to 65507 bytes as DLS sent. ` +
          'DLS wrote events too large for a datagram to <checkpoint dir>/<log>_udp_failed_ingestion_logs.txt and moved on (they never reached ' +
          'the server); the bridge stops instead (udp_oversize: refuse) so nothing is lost quietly. Set udp_oversize: tcp to send those over TCP ' +
          `to the same host. ${wire}`,
      });
      return { ...base, protocol: 'udp', message, udp_max_bytes: 65507, udp_oversize: 'refuse' };
    default:
      notes.push({
        at: 'output',
        text: `${sv.key}.protocol ${JSON.stringify(sv.protocol ?? '')} is not TCP, TCPSSL or UDP; events go to stdout. Set output: {type: syslog, host: ${sv.hostname}, port: ${sv.port}, protocol: tcp|tls|udp}.`,
      });
      return undefined;
  }
}

export function migrateDls(cfg: Record<string, unknown>, form: 'dls' | 'dls-legacy', nowMs: number): Migration {
  const d = form === 'dls' ? readCurrent(cfg) : readLegacy(cfg);
  const notes: Note[] = [];
  const m: Migration = {
    kind: form,
    credentials: { integrationKey: d.ikey, secretKey: d.skey, hostname: d.hostname, from: { integrationKey: d.keys.ikey, secretKey: d.keys.skey, hostname: d.keys.hostname } },
    services: {},
    notes,
  };

  // Which logs, and which server each went to.
  const serversOf = new Map<string, string[]>();
  if (d.mappings === undefined || !d.mappings.some((x) => x.endpoints.length)) {
    for (const l of ['authentication', 'administrator', 'telephony']) serversOf.set(l, d.servers[0] ? [d.servers[0].id] : []);
    notes.push({
      at: 'services',
      text: `${d.mappingKey} names no endpoints in the source (DLS would refuse to start); the bridge's default logs are enabled: authentication, administrator, telephony.`,
    });
  } else {
    for (const mp of d.mappings) {
      for (const e of mp.endpoints) {
        const log = ENDPOINT_TO_LOG[e];
        if (!log) {
          notes.push({ at: 'services', text: `${d.mappingKey}: endpoint ${JSON.stringify(e)} is not one DLS knows (auth, telephony, adminaction, trustmonitor, activity); ignored.` });
          continue;
        }
        if (!LOG_KINDS[log]) {
          notes.push({
            at: 'services',
            text: `${d.mappingKey}: endpoint ${e} not carried over: this bridge version does not pull the ${log} log. Keep DLS running for it alone, or upgrade the bridge.`,
          });
          continue;
        }
        const s = serversOf.get(log) ?? [];
        for (const id of mp.servers) if (!s.includes(id)) s.push(id);
        serversOf.set(log, s);
        if (e === 'adminaction') {
          notes.push({
            at: 'services.administrator',
            text: 'endpoint adminaction carried as administrator (the same /admin/v1/logs/administrator log). DLS 2.4.0 and later dropped it and sent nothing for it; the bridge pulls it.',
          });
        }
      }
    }
  }

  // Start: DLS's offset is "days before the moment DLS started"; the bridge takes a fixed time.
  const days = d.offsetDays ?? DLS_DEFAULT_OFFSET_DAYS;
  let start = '';
  if (d.offsetDays !== undefined && (d.offsetDays < 0 || d.offsetDays > 180)) {
    notes.push({ at: 'services', text: `${d.offsetKey} ${d.offsetDays} is outside DLS's 0-180 days; the bridge starts at Duo's oldest event (180 days).` });
  } else if (days < 180) {
    start = daysAgoIso(days, nowMs);
    notes.push({
      at: 'services',
      text:
        `start_datetime_utc comes from ${d.offsetKey} ${days} (days before now, computed when this file was written). ` +
        'The bridge starts there only for a log with no checkpoint; changing it later restarts that log from the new time.',
    });
  }
  for (const log of LOG_ORDER) if (serversOf.has(log)) m.services[log] = { start };

  // Poll interval: DLS slept `timeout` seconds (at least 120) between single API calls.
  const timeout = d.timeoutSecs ?? DLS_MIN_TIMEOUT;
  m.pollIntervalSecs = Math.max(DLS_MIN_TIMEOUT, timeout);
  notes.push({
    at: 'poll_interval_secs',
    text:
      `${d.timeoutSecs === undefined ? `DLS's default ${d.timeoutKey} (120 s)` : `from ${d.timeoutKey}`}${d.timeoutSecs !== undefined && d.timeoutSecs < DLS_MIN_TIMEOUT ? ` (${d.timeoutSecs} s, which DLS raised to 120)` : ''}. ` +
      'DLS made one API call (at most 1000 events) per interval and could fall behind; the bridge reads every page to the end on each poll.',
  });

  // Output.
  const cef = d.logFormat === 'CEF';
  if (d.logFormat && d.logFormat !== 'CEF' && d.logFormat !== 'JSON') {
    notes.push({ at: 'output', text: `${d.logFormatKey} ${JSON.stringify(d.logFormat)} is not CEF or JSON; JSON is used.` });
  }
  const counts = new Map<string, number>();
  for (const ids of serversOf.values()) for (const id of ids) counts.set(id, (counts.get(id) ?? 0) + 1);
  let primary: Server | undefined;
  for (const sv of d.servers) if (!primary || (counts.get(sv.id) ?? 0) > (counts.get(primary.id) ?? 0)) primary = sv;
  const known = new Set(d.servers.map((s) => s.id));
  for (const [log, ids] of serversOf) {
    for (const id of ids) if (!known.has(id)) notes.push({ at: 'output', text: `${d.mappingKey} sends ${log} to server ${JSON.stringify(id)}, which is not in servers; ignored.` });
  }
  if (primary) {
    m.output = serverOutput(primary, cef, notes);
    const elsewhere: string[] = [];
    for (const [log, ids] of serversOf) {
      const others = ids.filter((id) => id !== primary!.id && known.has(id));
      if (others.length || (ids.length && !ids.includes(primary.id))) elsewhere.push(`${log} → ${(others.length ? others : ids).join(', ')}${ids.includes(primary.id) ? ' (also)' : ' (only)'}`);
    }
    if (elsewhere.length) {
      notes.push({
        at: 'output',
        text:
          `not carried over: DLS sent some logs to other servers (${elsewhere.join('; ')}). A bridge instance has one output, which all enabled logs use ` +
          `(here ${primary.key}). Run one more bridge per other server with its own services list, output and checkpoint_dir.`,
      });
    }
    const unused = d.servers.filter((s) => s !== primary && !(counts.get(s.id) ?? 0));
    if (unused.length) notes.push({ at: 'output', text: `${unused.map((s) => s.key).join(', ')} received no endpoint in the source; not carried over.` });
  } else {
    notes.push({ at: 'output', text: 'the source names no server; events go to stdout. Set output: {type: syslog, ...} or {type: forward, ...}.' });
  }
  if (cef) {
    if (m.output) notes.push({ at: 'output', text: `${d.logFormatKey} CEF carried as message: cef. The bridge's CEF fixes DLS's field paths and escaping (device product duo-log-bridge); check your SIEM's CEF parser.` });
    else notes.push({ at: 'output', text: `${d.logFormatKey} CEF not carried over: stdout writes JSON. Use output type syslog or file with message: cef.` });
  }

  // Settings with no bridge equivalent.
  if (d.logFilepath) {
    notes.push({
      text:
        `${d.logFilepath.key} (${d.logFilepath.value}) not carried over: the bridge writes its own logs as JSON lines on stderr. ` +
        'Redirect stderr (2>>/var/log/duo-log-bridge.log), or let systemd/journald or the container runtime keep them.',
    });
  }
  const dir = d.checkpointing.directory ?? (form === 'dls' ? '/tmp' : undefined);
  // Old DLS wrote its checkpoint files whether or not recoverFromCheckpoint was on.
  const cpOn = form === 'dls-legacy' ? !!dir : (d.checkpointing.enabled ?? true);
  if (cpOn) m.dlsCheckpointDir = dir;
  notes.push({
    at: 'checkpoint_dir',
    checkpointHint: true,
    text:
      `${d.checkpointing.directoryKey}${dir ? ` (${dir})` : ''} not carried over: DLS's <log>_checkpoint_data.txt files are not the bridge's format, and the bridge ` +
      'always keeps its own checkpoint (one JSON file per log, written after delivery) in checkpoint_dir. ' +
      (form === 'dls-legacy' && d.checkpointing.enabled === false ? `Old DLS wrote those files even with ${d.checkpointing.enabledKey} False. ` : '') +
      (cpOn && dir
        ? `To continue exactly where DLS stopped, add --import-checkpoints ${dir} --checkpoint-dir DIR to migrate-config.`
        : `${d.checkpointing.enabledKey} was off, so DLS kept no position to import; the bridge starts at the configured start.`),
  });

  if (d.proxy.server) {
    const hasScheme = /^[a-z]+:\/\//i.test(d.proxy.server);
    const url = (hasScheme ? d.proxy.server : `http://${d.proxy.server}`) + (d.proxy.port ? `:${d.proxy.port}` : '');
    if (/^http:\/\//i.test(url)) {
      m.proxy = url;
      notes.push({ at: 'api.proxy', text: 'from dls_settings.proxy.proxy_server and proxy_port (an HTTP CONNECT proxy, as DLS used it).' });
    } else {
      notes.push({ text: `dls_settings.proxy.proxy_server ${JSON.stringify(d.proxy.server)} not carried over: the bridge takes an http:// proxy URL in api.proxy.` });
    }
  }

  const acct = d.keys.ikey.replace(/\.ikey$/, '');
  const blocked = (d.blockList ?? []).map((x) => text(x)).filter((x): x is string => !!x);
  if (d.isMsp) {
    m.msp = { exclude: blocked };
    notes.push({
      at: 'msp',
      text:
        `from ${acct}.is_msp True: the bridge lists the child accounts with these Accounts API credentials and pulls each one, ` +
        "calling it at the child's own api_hostname (DLS sent every call to the parent host) with a checkpoint per child and log. " +
        'Every record gets child_account_id, as in DLS.',
    });
    if (blocked.length) {
      notes.push({
        at: 'msp.exclude_accounts',
        text: `from ${acct}.block_list. DLS never applied its block_list (its code leaves it a TODO) and pulled these children anyway; the bridge skips them. Remove this key to keep pulling them.`,
      });
    }
  } else if (blocked.length) {
    notes.push({ at: 'credentials', text: `${acct}.block_list not carried over: DLS never applied it, and this is not an MSP account.` });
  }
  if (d.extraAccounts) {
    notes.push({ at: 'credentials', text: `accounts lists ${d.extraAccounts + 1} accounts; only the first is carried over (DLS reads one). Run one bridge per account with its own checkpoint_dir.` });
  }
  for (const k of d.unknown) notes.push({ text: `${k} not carried over: not a setting DLS reads.` });
  return m;
}
