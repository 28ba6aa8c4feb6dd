import t from 'tap';
import dgram from 'node:dgram';
import { mkdtempSync } from 'node:fs';
import net from 'node:net';
import tls from 'node:tls';
import { readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LineCounter, parseDocument } from 'yaml';
import { ConfigReader } from '../../src/config/reader.js';
import type { ConfigProblem } from '../../src/errors.js';
import { SinkError } from '../../src/errors.js';
import { silentLogger } from '../../src/obs/log.js';
import { syslogSink, SyslogSink, type SyslogConfig } from '../../src/sinks/syslog/index.js';
import type { Batch } from '../../src/sinks/types.js';
import { adminEvent, authEvent, makeCerts, telephonyEvent } from '../helpers/rsyslog.js';

const T = 1581620180351346;
const ctx = { log: silentLogger, hostname: 'bridge-host', stateDir: tmpdir() };
const never = new AbortController().signal;

function parse(output: Record<string, unknown>): { c: SyslogConfig; problems: ConfigProblem[] } {
  const source = { problems: [] as ConfigProblem[] };
  const r = new ConfigReader(output, ['output'], source);
  const c = syslogSink.parse(r);
  r.finish();
  return { c, problems: source.problems };
}
function sink(output: Record<string, unknown>): SyslogSink {
  const { c, problems } = parse(output);
  if (problems.length) throw new Error(JSON.stringify(problems));
  return syslogSink.create(c, ctx) as SyslogSink;
}
const batch = (events: Batch['events']): Batch => ({ logType: events[0]!.logType, account: 'a', events });

/** A TCP (or TLS) receiver that records the bytes of every connection. */
async function receiver(opts: { tls?: tls.TlsOptions } = {}) {
  const conns: { data: Buffer[]; sock: net.Socket }[] = [];
  const onConn = (sock: net.Socket): void => {
    const c = { data: [] as Buffer[], sock };
    conns.push(c);
    sock.on('data', (d) => c.data.push(d));
    sock.on('error', () => {});
  };
  const server = opts.tls ? tls.createServer(opts.tls, onConn) : net.createServer(onConn);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const port = (server.address() as net.AddressInfo).port;
  const text = (): string => Buffer.concat(conns.flatMap((c) => c.data)).toString('utf8');
  const waitText = async (pred: (s: string) => boolean): Promise<string> => {
    for (let i = 0; i < 200 && !pred(text()); i++) await new Promise((r) => setTimeout(r, 25));
    return text();
  };
  return { server, port, conns, text, waitText, close: () => new Promise<void>((r) => { for (const c of conns) c.sock.destroy(); server.close(() => r()); }) };
}

t.test('config: every problem names its key; unsafe combinations are refused at start', async (t) => {
  t.same(parse({ host: 'h', protocol: 'udp' }).problems.map((p) => p.key), ['output.udp_oversize'], 'udp needs an oversize policy');
  t.match(parse({ host: 'h', protocol: 'udp' }).problems[0]!.message, /cannot be sent whole/);
  t.same(parse({ host: 'h', protocol: 'udp', udp_oversize: 'refuse', framing: 'lf' }).problems.map((p) => p.key), ['output.framing']);
  t.same(parse({ host: 'h', protocol: 'udp', udp_oversize: 'tcp', framing: 'octet-counting' }).problems, [], 'framing is fine for the stream fallback');
  t.same(parse({ host: 'h', protocol: 'udp', udp_oversize: 'refuse', udp_max_bytes: 70000 }).problems.map((p) => p.key), ['output.udp_max_bytes']);
  t.same(parse({ host: 'h', protocol: 'tcp', udp_oversize: 'tcp' }).problems.map((p) => p.key), ['output.udp_oversize']);
  t.same(parse({ host: 'h', protocol: 'tcp', tls: { ca_file: '/x' } }).problems.map((p) => p.key), ['output.tls']);
  t.same(parse({ host: 'h', protocol: 'tls', tls: { cert_file: '/x' } }).problems.map((p) => p.key), ['output.tls.key_file']);
  t.same(parse({ host: 'h', facility: 'nope', severity: 9 }).problems.map((p) => p.key), ['output.facility', 'output.severity']);
  t.same(parse({ port: 514 }).problems.map((p) => p.key), ['output.host']);
  t.match(parse({ host: 'h', protocl: 'tcp' }).problems[0], { key: 'output.protocl', message: /did you mean "protocol"/ });
  const d = parse({ host: 'h' }).c;
  t.match(d, { protocol: 'tcp', port: 514, format: 'rfc5424', framing: 'lf', message: 'json', facility: 4, severity: 6, appName: 'duo-log-bridge' });
  t.match(parse({ host: 'h', protocol: 'tls' }).c, { port: 6514, framing: 'octet-counting', tls: { verify: true } }, 'TLS defaults to RFC 5425');
  t.match(parse({ host: 'h', protocol: 'udp', udp_oversize: 'tcp' }).c, { udpMaxBytes: 2048 }, 'RFC 5426: receivers SHOULD take 2048');

  // Lines come from the YAML document.
  const lines = new LineCounter();
  const doc = parseDocument('output:\n  type: syslog\n  host: h\n  protocol: udp\n  facility: nowhere\n', { lineCounter: lines });
  const source = { doc, lines, file: 'bridge.yaml', problems: [] as ConfigProblem[] };
  const root = ConfigReader.root(doc.toJS(), source);
  const out = root.obj('output')!;
  out.raw('type');
  syslogSink.parse(out);
  t.same(source.problems.map((p) => [p.key, p.line]), [['output.facility', 5], ['output.udp_oversize', 1]], 'a missing key points at its mapping');
});

t.test('tcp: framed messages with the event time arrive; send resolves after the write', async (t) => {
  for (const framing of ['lf', 'octet-counting'] as const) {
    const rx = await receiver();
    const s = sink({ host: '127.0.0.1', port: rx.port, protocol: 'tcp', framing, hostname: 'bridge01' });
    await s.start();
    const evs = [authEvent(T, 1), authEvent(T + 1, 2)];
    await s.send(batch(evs), never);
    const msgs = evs.map((e) => s.encode(e));
    t.match(msgs[0], new RegExp(`^<38>1 2020-02-13T18:56:20\\.351346Z bridge01 duo-log-bridge ${process.pid} authentication - \\{`));
    t.match(msgs[1], /^<38>1 2020-02-13T18:56:20\.351347Z /);
    t.ok(msgs[0]!.endsWith(evs[0]!.json), 'the message is the JSON line, whole');
    const want = framing === 'lf' ? msgs.map((m) => m + '\n').join('') : msgs.map((m) => `${Buffer.byteLength(m)} ${m}`).join('');
    t.equal(await rx.waitText((x) => x.length >= want.length), want, `${framing} framing`);
    await s.close(1000);
    await rx.close();
  }
});

t.test('tcp: a receiver that closes the connection gets the next batch on a new one', async (t) => {
  const rx = await receiver();
  const s = sink({ host: '127.0.0.1', port: rx.port, protocol: 'tcp', reconnect: { min_secs: 0.05, max_secs: 0.2 } });
  await s.start();
  await s.send(batch([adminEvent(T, 1)]), never);
  await rx.waitText((x) => x.includes('jsmith1'));
  rx.conns[0]!.sock.end(); // receiver restarts / idle timeout
  await new Promise((r) => setTimeout(r, 100));
  await s.send(batch([adminEvent(T, 2)]), never);
  const text = await rx.waitText((x) => x.includes('jsmith2'));
  t.match(text, /jsmith1[\s\S]*jsmith2/);
  t.equal(rx.conns.length, 2, 'a second connection carried the second batch');
  t.equal(rx.conns[1]!.data.join('').includes('jsmith2'), true);
  await s.close(1000);
  await rx.close();
});

t.test('tcp: receiver down -> retryable rejection, then delivery once it is up (backoff)', async (t) => {
  const probe = await receiver();
  const port = probe.port;
  await probe.close();
  const s = sink({ host: '127.0.0.1', port, protocol: 'tcp', reconnect: { min_secs: 0.05, max_secs: 0.1 } });
  await s.start(); // must not throw: the peer may just be down
  const err = await s.send(batch([telephonyEvent(T, 1)]), never).catch((e) => e);
  t.ok(err instanceof SinkError && err.retryable, 'retryable');
  t.match(err.message, /ECONNREFUSED/);
  const rx = net.createServer((sock) => sock.on('data', (d) => got.push(d)));
  const got: Buffer[] = [];
  await new Promise<void>((r) => rx.listen(port, '127.0.0.1', () => r()));
  let ok = false;
  for (let i = 0; i < 20 && !ok; i++) {
    ok = await s.send(batch([telephonyEvent(T, 1)]), never).then(() => true, () => false);
    if (!ok) await new Promise((r) => setTimeout(r, 100));
  }
  t.ok(ok, 'delivered after the receiver came up');
  await s.close(1000);
  await new Promise((r) => setTimeout(r, 50));
  t.match(Buffer.concat(got).toString(), /"phone":"\+15035550001"/);
  rx.close();
});

t.test('tcp: a receiver that stops reading makes send reject (retryable) instead of hanging', async (t) => {
  const rx = await receiver();
  const s = sink({ host: '127.0.0.1', port: rx.port, protocol: 'tcp', write_timeout_secs: 1 });
  await s.start();
  await new Promise((r) => setTimeout(r, 50));
  rx.conns[0]!.sock.pause();
  const big = Array.from({ length: 12000 }, (_, i) => authEvent(T, i, { padGroupsTo: 4000 })); // ~48 MB, beyond any socket buffer
  const err = await s.send(batch(big), never).catch((e) => e);
  t.ok(err instanceof SinkError && err.retryable);
  t.match(err.message, /not flushed within 1000 ms/);
  await s.close(500);
  await rx.close();
});

t.test('tls: verified connection with octet counting; a wrong CA is refused at start', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'dlb-syslog-tls-'));
  const certs = makeCerts(dir);
  const rx = await receiver({ tls: { cert: readFileSync(certs.serverCert), key: readFileSync(certs.serverKey) } });
  const s = sink({ host: '127.0.0.1', port: rx.port, protocol: 'tls', tls: { ca_file: certs.ca } });
  await s.start();
  const e = authEvent(T, 5);
  await s.send(batch([e]), never);
  const m = s.encode(e);
  t.equal(await rx.waitText((x) => x.length >= Buffer.byteLength(m)), `${Buffer.byteLength(m)} ${m}`);
  await s.close(1000);

  const bad = sink({ host: '127.0.0.1', port: rx.port, protocol: 'tls', tls: { ca_file: certs.otherCa } });
  const err = await bad.start().catch((x) => x);
  t.ok(err instanceof SinkError && !err.retryable, 'non-retryable at start');
  t.match(err.message, /failed verification/);
  const wrongName = sink({ host: '127.0.0.1', port: rx.port, protocol: 'tls', tls: { ca_file: certs.ca, servername: 'siem.example.com' } });
  t.match(await wrongName.start().catch((x) => x), { retryable: false, message: /siem\.example\.com|altnames/i });
  const missing = sink({ host: '127.0.0.1', port: rx.port, protocol: 'tls', tls: { ca_file: join(dir, 'nope.pem') } });
  t.match(await missing.start().catch((x) => x), { code: 'DLB_SINK_SYSLOG_TLS_FILE', retryable: false, message: /output\.tls\.ca_file/ });
  await rx.close();
});

t.test('udp: one datagram per event; oversize goes over the TCP fallback, never truncated', async (t) => {
  const udp = dgram.createSocket('udp4');
  const dgrams: string[] = [];
  udp.on('message', (m) => dgrams.push(m.toString('utf8')));
  await new Promise<void>((r) => udp.bind(0, '127.0.0.1', () => r()));
  const port = udp.address().port;
  const tcp = net.createServer((sock) => sock.on('data', (d) => tcpData.push(d)));
  const tcpData: Buffer[] = [];
  await new Promise<void>((r) => tcp.listen(0, '127.0.0.1', () => r()));
  const tcpPort = (tcp.address() as net.AddressInfo).port;

  const s = sink({ host: '127.0.0.1', port, protocol: 'udp', udp_oversize: 'tcp', udp_fallback_port: tcpPort, framing: 'octet-counting', format: 'rfc3164' });
  await s.start();
  const small = [authEvent(T, 1), authEvent(T, 2)];
  const large = authEvent(T, 3, { padGroupsTo: 8192 });
  await s.send(batch([small[0]!, large, small[1]!]), never);
  for (let i = 0; i < 100 && (dgrams.length < 2 || Buffer.concat(tcpData).length === 0); i++) await new Promise((r) => setTimeout(r, 20));
  t.same(dgrams.sort(), small.map((e) => s.encode(e)).sort(), 'small events as whole datagrams');
  const lm = s.encode(large);
  t.ok(Buffer.byteLength(lm) > 2048);
  for (let i = 0; i < 100 && Buffer.concat(tcpData).length < Buffer.byteLength(lm); i++) await new Promise((r) => setTimeout(r, 20));
  t.equal(Buffer.concat(tcpData).toString('utf8'), `${Buffer.byteLength(lm)} ${lm}`, 'the 8 KB event whole over TCP');
  t.match(s.stats, { udpDatagrams: 2, udpOversizeFallbacks: 1 });
  await s.close(1000);

  const r = sink({ host: '127.0.0.1', port, protocol: 'udp', udp_oversize: 'refuse' });
  await r.start();
  const err = await r.send(batch([large]), never).catch((e) => e);
  t.ok(err instanceof SinkError && !err.retryable, 'refuse stops the bridge');
  t.match(err.message, new RegExp(`authentication event ${(large.record as any).txid} is \\d+ bytes`));
  await r.close(1000);
  udp.close();
  tcp.close();
});

t.test('message: cef and severity: auto', async (t) => {
  const s = sink({ host: '127.0.0.1', message: 'cef', severity: 'auto', facility: 'local3' });
  const denied = s.encode(authEvent(T, 1, { result: 'denied' }));
  t.match(denied, /^<157>1 2020-02-13T18:56:20\.351346Z bridge-host duo-log-bridge \d+ authentication - CEF:0\|Duo Security\|duo-log-bridge\|/);
  t.match(s.encode(authEvent(T, 1, { result: 'fraud' })), /^<156>1 /);
  t.match(s.encode(authEvent(T, 1)), /^<158>1 /);
});
