/**
 * The bridge CLI (dist/cli.js) against the Duo API simulator, with `output: {type: syslog}`
 * into a real rsyslogd: every event the simulator serves reaches rsyslog, in Duo's order per
 * log, with our header (hostname, app-name, msgid = log type, the event's own time), and the
 * classic regexes match what rsyslog stored. Then over TLS with a SIGKILL mid-run: nothing
 * lost (syslog has no ack, so a resent batch may repeat lines).
 */
import t from 'tap';
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { startSimulator } from '../../src/sim/server.js';
import { headerField } from '../../src/format/syslog.js';
import { runBridge, spawnBridge, writeConfig } from '../helpers/bridge.js';
import { classicPatterns, makeCerts, RSYSLOGD, startRsyslog, type Received } from '../helpers/rsyslog.js';

const LOGS = ['authentication', 'administrator', 'telephony'] as const;
const N = 3000;

if (!RSYSLOGD) {
  t.fail('rsyslogd is not installed: .ci/run installs rsyslog and rsyslog-gnutls');
  process.exit(1);
}

const dir = mkdtempSync(join(os.tmpdir(), 'dlb-rsyslog-cli-'));
const certs = makeCerts(join(dir, 'certs'));
const rs = await startRsyslog(join(dir, 'rsyslog'), { certs, maxMessageSize: '64k' });
t.teardown(() => rs.stop());

function usOf(rfc3339: string): number {
  const m = /^(.{19})(?:\.(\d{1,6}))?(Z|[+-]\d\d:\d\d)$/.exec(rfc3339)!;
  return Date.parse(m[1]! + (m[3] === 'Z' ? 'Z' : m[3]!)) * 1000 + Number((m[2] ?? '').padEnd(6, '0'));
}

/** The event's own time as written in its JSON, in µs (isotimestamp or ts; timestamp seconds). */
function jsonTimeUs(line: string): number {
  const r = JSON.parse(line) as { isotimestamp?: string; ts?: string; timestamp?: number };
  const iso = r.isotimestamp ?? r.ts;
  if (iso) return usOf(iso.replace(/(\.\d{6})\d+/, '$1'));
  return r.timestamp! * 1e6;
}

t.test('run --once into rsyslog over TCP (RFC 5424, octet counting): everything, in order, parsed right', async (t) => {
  const sim = await startSimulator({ events: { authentication: N, administrator: N, telephony: N }, seed: 71 });
  t.teardown(() => sim.close());
  const app = 'duo-log-bridge';
  const config = writeConfig(join(dir, 'tcp'), sim, { output: { type: 'syslog', host: '127.0.0.1', port: rs.tcpPort, protocol: 'tcp', framing: 'octet-counting' } });
  const r = await runBridge(['run', '--config', config, '--once']);
  t.equal(r.code, 0, 'the bridge drained and exited 0');
  if (r.code !== 0) t.comment(r.stderr.slice(-2000));
  const total = LOGS.reduce((n, l) => n + sim.expectedLines(l).length, 0);
  const got = await rs.waitFor(total, app, 60_000);
  t.equal(got.length, total, `rsyslog stored all ${total} messages`);
  const { patterns, source } = classicPatterns();
  t.comment(`classic patterns from ${source}`);
  const host = headerField(os.hostname(), 255);
  for (const log of LOGS) {
    const mine = got.filter((m) => m.msgId === log);
    const want = sim.expectedLines(log);
    t.same(mine.map((m) => m.msg), want, `${log}: the ${want.length} JSON lines, whole, in Duo's order`);
    const bad = (pred: (m: Received) => boolean) => mine.filter((m) => !pred(m)).length;
    t.equal(bad((m) => m.hostname === host), 0, `${log}: hostname = this host (${host})`);
    t.equal(bad((m) => m.facility === 'auth' && m.severity === 'info'), 0, `${log}: facility auth, severity info`);
    t.equal(bad((m) => Math.floor(usOf(m.time) / 1000) === Math.floor(jsonTimeUs(m.msg) / 1000)), 0, `${log}: header time = the event's own time (to the ms)`);
    // The published patterns cannot match some real events at all (null or absent fields; see
    // regex/README.md). What matters here: rsyslog's copy matches exactly where the original does.
    const onOriginal = want.map((l) => patterns[log]!.test(l));
    const onStored = mine.map((m) => patterns[log]!.test(m.msg));
    t.same(onStored, onOriginal, `${log}: the classic regex matches rsyslog's copy wherever it matches the original line`);
    const hits = onStored.filter(Boolean).length;
    t.ok(hits > want.length / 2, `${log}: classic regex matched ${hits} of ${want.length} as rsyslog stored them`);
    t.comment(`${log}: classic regex matched ${hits}/${want.length} stored messages`);
  }
});

t.test('over TLS with a SIGKILL mid-run, then --once: no event lost', async (t) => {
  const sim = await startSimulator({ events: { authentication: N, administrator: N, telephony: N }, seed: 72 });
  t.teardown(() => sim.close());
  const app = 'duo-tls-kill';
  const config = writeConfig(join(dir, 'tls'), sim, {
    output: { type: 'syslog', host: '127.0.0.1', port: rs.tlsPort, protocol: 'tls', app_name: app, tls: { ca_file: certs.ca } },
  });
  const child = spawnBridge(['run', '--config', config, '--once']);
  let killed = false;
  for (let i = 0; i < 600 && child.exitCode === null; i++) {
    if (rs.received(app).length >= N) {
      child.kill('SIGKILL');
      killed = true;
      break;
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  await child.result;
  t.ok(killed, 'killed mid-run');
  const second = await runBridge(['run', '--config', config, '--once']);
  t.equal(second.code, 0, 'the next run finishes');
  const total = LOGS.reduce((n, l) => n + sim.expectedLines(l).length, 0);
  const got = await rs.waitFor(total, app, 60_000);
  let dups = 0;
  for (const log of LOGS) {
    const lines = got.filter((m) => m.msgId === log).map((m) => m.msg);
    const seen = new Set<string>();
    const firstSeen = lines.filter((l) => (seen.has(l) ? (dups++, false) : (seen.add(l), true)));
    const want = sim.expectedLines(log);
    t.equal(want.filter((l) => !seen.has(l)).length, 0, `${log}: none of ${want.length} lost`);
    t.same(firstSeen, [...new Set(want)], `${log}: in Duo's order (first occurrences)`);
  }
  t.comment(`lines repeated after the SIGKILL (resent unacknowledged batches): ${dups}`);
});

t.test('check-config refuses UDP without an oversize policy, naming the key and line', async (t) => {
  const sim = { hostname: 'api-12345678.duosecurity.com', ikey: 'DIXXXXXXXXXXXXXXXXXX', skey: 'a'.repeat(40) };
  const config = writeConfig(join(dir, 'udp-bad'), sim, { output: { type: 'syslog', host: '127.0.0.1', port: rs.udpPort, protocol: 'udp' } });
  const r = await runBridge(['check-config', '--config', config]);
  t.equal(r.code, 2, 'exit 2: bad config');
  t.match(r.stderr + r.stdout, /config\.yaml:\d+: output\.udp_oversize: is required with protocol udp/);
  const ok = writeConfig(join(dir, 'udp-ok'), sim, { output: { type: 'syslog', host: '127.0.0.1', port: rs.udpPort, protocol: 'udp', udp_oversize: 'tcp' } });
  t.equal((await runBridge(['check-config', '--config', ok])).code, 0, 'with udp_oversize: tcp it is valid');
});
