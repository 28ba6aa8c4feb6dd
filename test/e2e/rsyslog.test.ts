/**
 * The syslog output against a real rsyslogd (Debian's), started here with its own config on
 * loopback ports: UDP (imudp), TCP (imtcp) and TLS (imtcp + gtls, client certificate required).
 * For every transport and header format: rsyslog parses our hostname, app-name, msgid and a
 * timestamp equal to the event's own time; the message arrives whole (an 8 KB authentication
 * event included); the classic Duo regexes match the message as rsyslog wrote it; CEF lines
 * parse back with a strict CEF parser.
 */
import t from 'tap';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigReader } from '../../src/config/reader.js';
import type { Test } from 'tap';
import type { ConfigProblem } from '../../src/errors.js';
import type { DuoEvent } from '../../src/format/event.js';
import { silentLogger } from '../../src/obs/log.js';
import { syslogSink, type SyslogSink } from '../../src/sinks/syslog/index.js';
import { adminEvent, authEvent, classicPatterns, makeCerts, parseCef, RSYSLOGD, startRsyslog, telephonyEvent, type Received } from '../helpers/rsyslog.js';

if (!RSYSLOGD) {
  t.fail('rsyslogd is not installed: .ci/run installs rsyslog and rsyslog-gnutls');
  process.exit(1);
}

const dir = mkdtempSync(join(tmpdir(), 'dlb-rsyslog-'));
const certs = makeCerts(join(dir, 'certs'));
const rs = await startRsyslog(join(dir, 'rsyslog'), { certs, tlsAuth: 'x509/certvalid', maxMessageSize: '64k' });
t.teardown(() => rs.stop());
const classic = classicPatterns();
t.comment(`classic patterns from: ${classic.source}`);

// Recent whole-second-plus-µs times: RFC 3164 has no year, rsyslog guesses the current one.
const base = (Math.floor(Date.now() / 1000) - 3600) * 1_000_000 + 123_456;
const HOST = 'bridge-01.example.net';
const never = new AbortController().signal;

function makeSink(output: Record<string, unknown>): SyslogSink {
  const source = { problems: [] as ConfigProblem[] };
  const r = new ConfigReader(output, ['output'], source);
  const c = syslogSink.parse(r);
  r.finish();
  if (source.problems.length) throw new Error(JSON.stringify(source.problems));
  return syslogSink.create(c, { log: silentLogger, hostname: 'unused', stateDir: dir }) as SyslogSink;
}

function events(n: number): DuoEvent[] {
  const out: DuoEvent[] = [];
  for (let i = 0; i < n; i++) {
    out.push(authEvent(base + i * 1000, i), adminEvent(base + i * 1000 + 1, i), telephonyEvent(base + i * 1000 + 2, i));
  }
  out.push(authEvent(base + 999_999, 999, { padGroupsTo: 8192 }));
  return out;
}

async function sendAll(s: SyslogSink, evs: DuoEvent[]): Promise<void> {
  await s.start();
  // One batch per log, as the pipeline sends them.
  for (const logType of ['authentication', 'administrator', 'telephony']) {
    await s.send({ logType, account: 'a', events: evs.filter((e) => e.logType === logType) }, never);
  }
  await s.close(2000);
}

function rfc3339ToUs(s: string): number {
  const m = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d{1,6}))?(Z|[+-]\d\d:\d\d)$/.exec(s);
  if (!m) throw new Error(`not RFC 3339: ${s}`);
  return Date.parse(m[1]! + (m[3] === 'Z' ? 'Z' : m[3]!)) * 1000 + Number((m[2] ?? '').padEnd(6, '0'));
}

function check(t: Test, name: string, got: Received[], sent: DuoEvent[], format: 'rfc5424' | 'rfc3164', appName: string): void {
  t.equal(got.length, sent.length, `${name}: every message arrived (${sent.length})`);
  const byJson = new Map(got.map((r) => [format === 'rfc3164' ? r.msg.replace(/^ /, '') : r.msg, r]));
  let classicHits = 0;
  for (const e of sent) {
    const r = byJson.get(e.json);
    if (!r) {
      t.fail(`${name}: ${e.logType} ${e.id} (${e.json.length} bytes) did not arrive whole`);
      continue;
    }
    t.equal(r.hostname, HOST, `${name}: hostname`);
    t.equal(r.appName, appName, `${name}: app-name`);
    const want = format === 'rfc5424' ? e.timeUs : Math.floor(e.timeUs / 1e6) * 1e6; // 3164: whole seconds
    t.equal(rfc3339ToUs(r.time), want, `${name}: timestamp = event time (${r.time})`);
    if (format === 'rfc5424') {
      t.equal(r.msgId, e.logType, `${name}: msgid = log type`);
      t.equal(r.procId, String(process.pid), `${name}: procid`);
      t.equal(r.msg, e.json, `${name}: the message is the JSON line, byte for byte`);
    }
    t.equal(r.facility, 'auth');
    const m = classic.patterns[e.logType]!.exec(r.msg);
    if (m) classicHits++;
    else t.fail(`${name}: classic ${e.logType} regex did not match what rsyslog wrote: ${r.msg.slice(0, 200)}`);
  }
  t.equal(classicHits, sent.length, `${name}: the classic regexes match all ${sent.length} messages as rsyslog wrote them`);
  const big = got.find((r) => r.msg.length > 8192);
  t.ok(big, `${name}: the ${sent.at(-1)!.json.length}-byte authentication event arrived whole`);
}

const cases: { name: string; output: Record<string, unknown>; format: 'rfc5424' | 'rfc3164' }[] = [
  { name: 'udp rfc5424 (datagram limit raised)', format: 'rfc5424', output: { protocol: 'udp', port: rs.udpPort, udp_max_bytes: 65000, udp_oversize: 'refuse' } },
  { name: 'udp rfc3164, 8 KB event over the TLS fallback', format: 'rfc3164', output: { protocol: 'udp', port: rs.udpPort, udp_oversize: 'tls', udp_fallback_port: rs.tlsPort, tls: { ca_file: certs.ca, cert_file: certs.clientCert, key_file: certs.clientKey } } },
  { name: 'tcp rfc5424 lf', format: 'rfc5424', output: { protocol: 'tcp', port: rs.tcpPort, framing: 'lf' } },
  { name: 'tcp rfc5424 octet-counting', format: 'rfc5424', output: { protocol: 'tcp', port: rs.tcpPort, framing: 'octet-counting' } },
  { name: 'tcp rfc3164 lf', format: 'rfc3164', output: { protocol: 'tcp', port: rs.tcpPort, framing: 'lf' } },
  { name: 'tls rfc5424 (RFC 5425, client certificate)', format: 'rfc5424', output: { protocol: 'tls', port: rs.tlsPort, tls: { ca_file: certs.ca, cert_file: certs.clientCert, key_file: certs.clientKey } } },
  { name: 'tls rfc3164 lf', format: 'rfc3164', output: { protocol: 'tls', port: rs.tlsPort, framing: 'lf', tls: { ca_file: certs.ca, cert_file: certs.clientCert, key_file: certs.clientKey } } },
];

let k = 0;
for (const c of cases) {
  await t.test(c.name, async (t) => {
    const appName = `dlb-case-${k++}`;
    const evs = events(c.name.startsWith('udp') ? 5 : 40);
    const s = makeSink({ host: '127.0.0.1', hostname: HOST, app_name: appName, format: c.format, ...c.output });
    await sendAll(s, evs);
    const got = await rs.waitFor(evs.length, appName);
    check(t, c.name, got, evs, c.format, appName);
    if (c.output.udp_oversize === 'tls') t.equal(s.stats.udpOversizeFallbacks, 1, 'the 8 KB event went over TLS');
  });
}

await t.test('tls without the client certificate is rejected by rsyslog (x509/certvalid)', async (t) => {
  const appName = 'dlb-nocert';
  const s = makeSink({ host: '127.0.0.1', hostname: HOST, app_name: appName, protocol: 'tls', port: rs.tlsPort, tls: { ca_file: certs.ca }, write_timeout_secs: 5 });
  const err = await sendAll(s, [authEvent(base, 1)]).catch((e) => e);
  await new Promise((r) => setTimeout(r, 500));
  t.equal(rs.received(appName).length, 0, 'nothing accepted without a client certificate');
  // TLS 1.3 finishes the client's handshake before the server checks the client certificate;
  // the sink waits for the server's verdict before writing, so this is an error, not a silent loss.
  t.ok(err, 'the sender saw the refusal');
  t.match(err?.message, /client certificate missing or refused/);
  t.equal(err?.retryable, true);
});

await t.test('cef over tcp: rsyslog stores a CEF line that parses back to the original values', async (t) => {
  const appName = 'dlb-cef';
  const a = authEvent(base, 1);
  (a.record as any).user.name = 'x|y=z\\w\nv';
  const evs = [a, adminEvent(base + 1, 2), telephonyEvent(base + 2, 3)];
  const s = makeSink({ host: '127.0.0.1', hostname: HOST, app_name: appName, protocol: 'tcp', port: rs.tcpPort, framing: 'octet-counting', message: 'cef' });
  await sendAll(s, evs);
  const got = await rs.waitFor(3, appName);
  t.equal(got.length, 3);
  const auth = got.find((r) => r.msgId === 'authentication')!;
  const p = parseCef(auth.msg);
  t.equal(p.ext.duser, 'x|y=z\\w\nv', 'value with | = \\ and a newline survives rsyslog');
  t.equal(p.ext.rt, String(Math.floor(base / 1000)));
  for (const r of got) t.equal(Number(parseCef(r.msg).ext.rt) * 1000, Math.floor(rfc3339ToUs(r.time) / 1000) * 1000, `${r.msgId}: rt = header time (ms)`);
});

await t.test('rsyslog restarted: the TCP and TLS outputs notice, back off, reconnect on the same port, and count nothing sent to a dead receiver', async (t) => {
  const rdir = join(dir, 'restart');
  const current = { rs: await startRsyslog(rdir, { certs }) };
  const ports = { udp: current.rs.udpPort, tcp: current.rs.tcpPort, tls: current.rs.tlsPort! };
  t.teardown(() => current.rs.stop());
  for (const proto of ['tcp', 'tls'] as const) {
    const appName = `dlb-restart-${proto}`;
    const s = makeSink({
      host: '127.0.0.1', hostname: HOST, app_name: appName, protocol: proto, port: proto === 'tcp' ? ports.tcp : ports.tls,
      tls: proto === 'tls' ? { ca_file: certs.ca } : undefined, reconnect: { min_secs: 0.1, max_secs: 0.5 },
    });
    await s.start();
    const before = authEvent(base, 10);
    await s.send({ logType: 'authentication', account: 'a', events: [before] }, never);
    await current.rs.waitFor(1, appName);
    // The receiver goes away, and comes back on the same port 0.7 s later.
    await current.rs.stop();
    const restart = new Promise<void>((resolve) =>
      setTimeout(async () => {
        current.rs = await startRsyslog(rdir, { certs, ports });
        resolve();
      }, 700),
    );
    const batch = [authEvent(base + 2, 11), authEvent(base + 3, 12)];
    let failures = 0;
    for (;;) {
      try {
        await s.send({ logType: 'authentication', account: 'a', events: batch }, never);
        break;
      } catch (err) {
        failures++;
        t.equal((err as { retryable?: boolean }).retryable, true, `${proto}: retryable while the receiver is down`);
        if (failures > 50) throw err;
      }
    }
    await restart;
    await s.close(1000);
    const got = await current.rs.waitFor(3, appName);
    t.ok(failures >= 1, `${proto}: sends failed (${failures}) while rsyslog was down, none counted as delivered`);
    t.same(got.map((r) => r.msg), [before, ...batch].map((e) => e.json), `${proto}: the batch sent after the restart arrived whole on a new connection`);
  }
});
