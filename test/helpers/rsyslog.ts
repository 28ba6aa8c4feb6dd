/**
 * Test helpers for the syslog and file outputs: a real rsyslogd started with its own config
 * (own work directory, loopback ports, TLS through its gtls driver with certificates made by
 * `openssl`), never the system's rsyslog; sample Duo events; and the classic Duo regexes.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import dgram from 'node:dgram';
import { existsSync, readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import net from 'node:net';
import { join } from 'node:path';
import { DuoEvent } from '../../src/format/event.js';

export const RSYSLOGD = ['/usr/sbin/rsyslogd', '/sbin/rsyslogd'].find((p) => existsSync(p));

/** A port free right now on 127.0.0.1 (TCP and UDP both), for daemons that cannot take port 0. */
export async function freePort(): Promise<number> {
  for (;;) {
    const port = await new Promise<number>((resolve, reject) => {
      const s = net.createServer();
      s.once('error', reject);
      s.listen(0, '127.0.0.1', () => {
        const p = (s.address() as net.AddressInfo).port;
        s.close(() => resolve(p));
      });
    });
    const udpFree = await new Promise<boolean>((resolve) => {
      const u = dgram.createSocket('udp4');
      u.once('error', () => resolve(false));
      u.bind(port, '127.0.0.1', () => u.close(() => resolve(true)));
    });
    if (udpFree) return port;
  }
}

export interface Certs {
  ca: string;
  serverCert: string;
  serverKey: string;
  clientCert: string;
  clientKey: string;
  /** A CA that signed nothing here: verifying against it must fail. */
  otherCa: string;
}

/** A CA, a server certificate for localhost/127.0.0.1 and a client certificate, made with openssl. */
export function makeCerts(dir: string): Certs {
  mkdirSync(dir, { recursive: true });
  const f = (n: string): string => join(dir, n);
  const ossl = (...args: string[]): void => void execFileSync('openssl', args, { stdio: 'pipe' });
  ossl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', f('ca.key'), '-out', f('ca.pem'), '-days', '2', '-subj', '/CN=duo-log-bridge test CA');
  ossl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', f('other-ca.key'), '-out', f('other-ca.pem'), '-days', '2', '-subj', '/CN=some other CA');
  for (const [name, cn, ext] of [
    ['server', 'localhost', 'subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n'],
    ['client', 'duo-log-bridge', 'basicConstraints=CA:FALSE\nextendedKeyUsage=clientAuth\n'],
  ] as const) {
    writeFileSync(f(`${name}.ext`), ext);
    ossl('req', '-newkey', 'rsa:2048', '-nodes', '-keyout', f(`${name}.key`), '-out', f(`${name}.csr`), '-subj', `/CN=${cn}`);
    ossl('x509', '-req', '-in', f(`${name}.csr`), '-CA', f('ca.pem'), '-CAkey', f('ca.key'), '-CAcreateserial', '-out', f(`${name}.pem`), '-days', '2', '-extfile', f(`${name}.ext`));
  }
  return { ca: f('ca.pem'), serverCert: f('server.pem'), serverKey: f('server.key'), clientCert: f('client.pem'), clientKey: f('client.key'), otherCa: f('other-ca.pem') };
}

/** One message as rsyslog parsed it (our template writes these fields tab-separated). */
export interface Received {
  hostname: string;
  appName: string;
  procId: string;
  msgId: string;
  /** rsyslog's `timereported`, RFC 3339. */
  time: string;
  facility: string;
  severity: string;
  input: string;
  /** The message as rsyslog stored it (`msg` property). */
  msg: string;
}

export interface Rsyslog {
  udpPort: number;
  tcpPort: number;
  tlsPort?: number;
  outFile: string;
  proc: ChildProcess;
  /** Parsed lines written so far whose app-name is `appName` (rsyslog's own notes are left out). */
  received(appName?: string): Received[];
  /** Wait until at least n messages from `appName` arrived. */
  waitFor(n: number, appName?: string, timeoutMs?: number): Promise<Received[]>;
  stop(): Promise<void>;
}

/**
 * Start rsyslogd in the foreground with its own config: imudp and imtcp on loopback, plus an
 * imtcp input using the gtls driver when `certs` is given (`tlsAuth` x509/certvalid asks the
 * client for a certificate). `maxMessageSize` is raised (default 64k) so 8 KB events fit.
 */
export async function startRsyslog(
  dir: string,
  opts: { certs?: Certs; tlsAuth?: 'anon' | 'x509/certvalid'; maxMessageSize?: string; ports?: { udp: number; tcp: number; tls?: number } } = {},
): Promise<Rsyslog> {
  if (!RSYSLOGD) throw new Error('rsyslogd is not installed (apt-get install rsyslog rsyslog-gnutls)');
  mkdirSync(join(dir, 'work'), { recursive: true });
  // Fixed ports let a test restart "the same" receiver.
  const udpPort = opts.ports?.udp ?? (await freePort());
  const tcpPort = opts.ports?.tcp ?? (await freePort());
  const tlsPort = opts.certs ? (opts.ports?.tls ?? (await freePort())) : undefined;
  const outFile = join(dir, 'received.log');
  const conf = join(dir, 'rsyslog.conf');
  const c = opts.certs;
  const tlsGlobal = c ? ` defaultNetstreamDriverCAFile="${c.ca}" defaultNetstreamDriverCertFile="${c.serverCert}" defaultNetstreamDriverKeyFile="${c.serverKey}"` : '';
  writeFileSync(
    conf,
    [
      `global(workDirectory="${join(dir, 'work')}" maxMessageSize="${opts.maxMessageSize ?? '64k'}"${tlsGlobal})`,
      'module(load="imudp")',
      'module(load="imtcp" maxSessions="50")',
      `input(type="imudp" address="127.0.0.1" port="${udpPort}" name="udp")`,
      `input(type="imtcp" address="127.0.0.1" port="${tcpPort}" name="tcp")`,
      tlsPort
        ? `input(type="imtcp" address="127.0.0.1" port="${tlsPort}" name="tls" streamDriver.name="gtls" streamDriver.mode="1" streamDriver.authMode="${opts.tlsAuth ?? 'anon'}")`
        : '',
      'template(name="fields" type="list") {',
      '  property(name="hostname") constant(value="\\t") property(name="app-name") constant(value="\\t")',
      '  property(name="procid") constant(value="\\t") property(name="msgid") constant(value="\\t")',
      '  property(name="timereported" dateFormat="rfc3339") constant(value="\\t")',
      '  property(name="syslogfacility-text") constant(value="\\t") property(name="syslogseverity-text") constant(value="\\t")',
      '  property(name="inputname") constant(value="\\t") property(name="msg") constant(value="\\n")',
      '}',
      `action(type="omfile" file="${outFile}" template="fields")`,
      '',
    ].join('\n'),
  );
  // TZ=UTC: rsyslog reads an RFC 3164 timestamp (no zone) as its local time.
  const proc = spawn(RSYSLOGD, ['-n', '-f', conf, '-i', join(dir, 'rsyslogd.pid')], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, TZ: 'UTC' } });
  let stderr = '';
  proc.stdout!.on('data', (d) => (stderr += d));
  proc.stderr!.on('data', (d) => (stderr += d));
  const exited = new Promise<void>((r) => proc.once('exit', () => r()));
  // Ready when its TCP listeners accept (all inputs start together).
  for (const port of [tcpPort, tlsPort].filter((p): p is number => p !== undefined)) {
    const until = Date.now() + 15_000;
    for (;;) {
      if (proc.exitCode !== null) throw new Error(`rsyslogd exited: ${stderr}`);
      const ok = await new Promise<boolean>((resolve) => {
        const s = net.connect(port, '127.0.0.1', () => {
          s.destroy();
          resolve(true);
        });
        s.once('error', () => resolve(false));
      });
      if (ok) break;
      if (Date.now() > until) throw new Error(`rsyslogd did not listen on ${port}: ${stderr}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  const received = (appName = 'duo-log-bridge'): Received[] => {
    if (!existsSync(outFile)) return [];
    return readFileSync(outFile, 'utf8')
      .split('\n')
      .filter((l) => l !== '')
      .map((l) => {
        const [hostname, app, procId, msgId, time, facility, severity, input, ...rest] = l.split('\t');
        return { hostname: hostname!, appName: app!, procId: procId!, msgId: msgId!, time: time!, facility: facility!, severity: severity!, input: input!, msg: rest.join('\t') };
      })
      .filter((r) => r.appName === appName);
  };
  return {
    udpPort, tcpPort, tlsPort, outFile, proc,
    received,
    async waitFor(n, appName, timeoutMs = 20_000) {
      const until = Date.now() + timeoutMs;
      for (;;) {
        const got = received(appName);
        if (got.length >= n || Date.now() > until) return got;
        await new Promise((r) => setTimeout(r, 100));
      }
    },
    async stop() {
      if (proc.exitCode === null) {
        proc.kill('SIGTERM');
        await Promise.race([exited, new Promise((r) => setTimeout(r, 5000))]);
        if (proc.exitCode === null) proc.kill('SIGKILL');
      }
    },
  };
}

// ---- sample events (Duo's key order, then eventtype and host, as the bridge shapes them) ----

const HOST = 'api-12345678.duosecurity.com';
const iso = (us: number): string => new Date(Math.floor(us / 1000)).toISOString().replace('Z', '+00:00');

/** An authentication v2 event; `padGroupsTo` grows user.groups until the JSON is that many bytes. */
export function authEvent(timeUs: number, n = 0, opts: { padGroupsTo?: number; result?: string; ip?: string } = {}): DuoEvent {
  const groups = ['Duo Users', 'CorpHQ Users'];
  const record: Record<string, unknown> = {
    access_device: {
      browser: 'Chrome', browser_version: '67.0.3396.99', flash_version: 'uninstalled', hostname: null, ip: opts.ip ?? '89.160.20.156',
      is_encryption_enabled: true, is_firewall_enabled: true, is_password_set: true, java_version: 'uninstalled',
      location: { city: 'Ann Arbor', country: 'United States', state: 'Michigan' }, os: 'Mac OS X', os_version: '10.14.1', security_agents: [],
    },
    alias: '',
    application: { key: 'DIY231J8BR23QK4UKBY8', name: 'Microsoft Azure Active Directory' },
    auth_device: { ip: '192.168.225.254', location: { city: 'Ann Arbor', country: 'United States', state: 'Michigan' }, name: 'My iPhone X (734-555-2342)' },
    email: `user${n}@example.com`,
    event_type: 'authentication',
    factor: 'duo_push',
    isotimestamp: iso(timeUs),
    ood_software: null,
    reason: 'user_approved',
    result: opts.result ?? 'success',
    timestamp: Math.floor(timeUs / 1e6),
    trusted_endpoint_status: 'not trusted',
    txid: `340a23e3-23f3-23c1-87dc-${String(n).padStart(12, '0')}`,
    user: { groups, key: 'DU3KC77WJ06Y5HIV7XKQ', name: `user${n}@example.com` },
    eventtype: 'authentication',
    host: HOST,
  };
  const e = new DuoEvent('authentication', timeUs, record.txid as string, record);
  if (!opts.padGroupsTo) return e;
  let i = 0;
  while (JSON.stringify(record).length < opts.padGroupsTo) groups.push(`Group number ${i++} of the Ann Arbor office`);
  return new DuoEvent('authentication', timeUs, record.txid as string, record);
}

export function adminEvent(timeUs: number, n = 0, description?: string): DuoEvent {
  const record = {
    action: 'user_update',
    description: description ?? JSON.stringify({ notes: `Joe asked for nickname ${n}.`, realname: 'Joe Smith' }).replace(/,"/g, ', "').replace(/":/g, '": '),
    isotimestamp: iso(timeUs).replace(/\.\d+/, ''),
    object: `jsmith${n}`,
    timestamp: Math.floor(timeUs / 1e6),
    username: 'admin',
    eventtype: 'administrator',
    host: HOST,
  };
  return new DuoEvent('administrator', timeUs, `admin-${n}`, record);
}

export function telephonyEvent(timeUs: number, n = 0): DuoEvent {
  const record = {
    context: 'authentication',
    credits: 1,
    isotimestamp: iso(timeUs).replace(/\.\d+/, ''),
    phone: `+1503555${String(n % 10000).padStart(4, '0')}`,
    timestamp: Math.floor(timeUs / 1e6),
    type: 'sms',
    eventtype: 'telephony',
    host: HOST,
  };
  return new DuoEvent('telephony', timeUs, `tel-${n}`, record);
}

// ---- the classic regexes (regex/ owns them; a copy is used until regex/duo-regex.json exists) ----

const CLASSIC_COPY: Record<string, string> = {
  authentication: String.raw`{"access_device":{"browser":"?([^",]+)"?,.+hostname":"?([^",]+)"?,"ip":"?([^",]+)"?,.+location":{"city":"?([^",]+)"?,"country":"?([^",]+)"?,"state":"?([^",]+)"?},"os":"?([^",]+)"?,.+name":"?([^",]+)"?},"auth_device":{"ip":"?([^",]+)"?,"location":{"city":"?([^",]+)"?,"country":"?([^",]+)"?,"state":"?([^",]+)"?},"name":"?([^}"]+)"*},\s*"email":"?([^",]+)?"?,"event_type":"?([^",]+)"?,"factor":"?([^",]+)"?,"isotimestamp":"?([^",\+\.]+).+"?,"reason":"?([^",]+)"?,"result":"?([^",]+)"?.+user":{"groups":\["?([^\]]+)?"?\],"key":"?([^",]+)"?,"name":"?([^",]+)"?.+`,
  administrator: String.raw`{"action":"?([^",]+)"?,"description":"{(.+)?}","isotimestamp":"?([^",\+]+).+"?,"object":"?([^",]+)"?.+username":"?([^",]+)"?,"eventtype":"?([^",]+)"?.+`,
  telephony: String.raw`{"context":"?([^",]+)"?,.+isotimestamp":"?([^",\+]+).+"?,"phone":"?([^",]+)"?.+"type":"?([^",]+)"?,"eventtype":"?([^",]+)"?.+`,
};

/** The three classic patterns as JS RegExps, and where they came from. */
export function classicPatterns(): { source: string; patterns: Record<string, RegExp> } {
  const file = new URL('../../regex/duo-regex.json', import.meta.url);
  if (existsSync(file)) {
    try {
      const j = JSON.parse(readFileSync(file, 'utf8')) as { patterns: { family: string; log: string; published: string; dialects?: { ecmascript?: string } }[] };
      const out: Record<string, RegExp> = {};
      for (const p of j.patterns) if (p.family === 'classic') out[p.log] = new RegExp(p.dialects?.ecmascript ?? p.published);
      if (out.authentication && out.administrator && out.telephony) return { source: 'regex/duo-regex.json', patterns: out };
    } catch {
      // fall through to the copy
    }
  }
  return { source: 'copy of the published patterns (issue 5)', patterns: Object.fromEntries(Object.entries(CLASSIC_COPY).map(([k, v]) => [k, new RegExp(v)])) };
}

// ---- a strict CEF parser, to read our CEF lines back ----

/**
 * A strict CEF parser (ArcSight CEF rev 25): exactly 7 unescaped `|` before the extension; in the
 * header only `\\` and `\|` escapes; in the extension only `\\`, `\=`, `\n`, `\r`; an unescaped
 * `=` must end a key (letters, digits, `_`) that follows a space; no raw CR/LF; no duplicate keys.
 */
export function parseCef(line: string): { header: string[]; ext: Record<string, string> } {
  if (/[\r\n]/.test(line)) throw new Error('raw CR or LF in a CEF line');
  if (!line.startsWith('CEF:')) throw new Error('no CEF: prefix');
  const header: string[] = [];
  let cur = '';
  let i = 4;
  for (; i < line.length && header.length < 7; i++) {
    const c = line[i]!;
    if (c === '\\') {
      const n = line[++i];
      if (n !== '\\' && n !== '|') throw new Error(`bad header escape \\${n} at ${i}`);
      cur += n;
    } else if (c === '|') {
      header.push(cur);
      cur = '';
    } else cur += c;
  }
  if (header.length !== 7) throw new Error(`expected 7 header fields, got ${header.length}`);
  if (!/^(0|[1-9]\d?|10)$/.test(header[6]!)) throw new Error(`bad severity ${header[6]}`);
  const ext: Record<string, string> = {};
  const rest = line.slice(i);
  if (rest === '') return { header, ext };
  const km = /^([A-Za-z0-9_]+)=/.exec(rest);
  if (!km) throw new Error('extension does not start with key=');
  let key = km[1]!;
  let val = '';
  let lastSpace = -1; // index in val of the last unescaped space
  const put = (k: string, v: string): void => {
    if (k in ext) throw new Error(`duplicate key ${k}`);
    ext[k] = v;
  };
  for (let j = km[0].length; j < rest.length; j++) {
    const c = rest[j]!;
    if (c === '\\') {
      const n = rest[++j];
      const dec = n === '\\' ? '\\' : n === '=' ? '=' : n === 'n' ? '\n' : n === 'r' ? '\r' : undefined;
      if (dec === undefined) throw new Error(`bad extension escape \\${n}`);
      val += dec;
    } else if (c === '=') {
      if (lastSpace < 0) throw new Error(`unescaped = inside the value of ${key}`);
      const nextKey = val.slice(lastSpace + 1);
      if (!/^[A-Za-z0-9_]+$/.test(nextKey)) throw new Error(`unescaped = after "${nextKey}" in the value of ${key}`);
      put(key, val.slice(0, lastSpace));
      key = nextKey;
      val = '';
      lastSpace = -1;
    } else {
      if (c === ' ') lastSpace = val.length;
      val += c;
    }
  }
  put(key, val);
  return { header, ext };
}

