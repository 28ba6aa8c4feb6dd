/**
 * The forward sink against the test receiver on loopback: real sockets, real TLS (certs made
 * with openssl), the real shared-key handshake. DuoEvents are built by hand; the pipeline is
 * not involved.
 */
import t, { type Test } from 'tap';
import { readFileSync } from 'node:fs';
import { parseDocument, LineCounter } from 'yaml';
import { DuoEvent } from '../../src/format/event.js';
import { SinkError, type ConfigProblem } from '../../src/errors.js';
import { createLogger, type Logger } from '../../src/obs/log.js';
import { ConfigReader } from '../../src/config/reader.js';
import { parseForwardConfig, type ForwardConfig } from '../../src/sinks/forward/config.js';
import { ForwardSink } from '../../src/sinks/forward/sink.js';
import { forwardSink } from '../../src/sinks/forward/index.js';
import type { Batch } from '../../src/sinks/types.js';
import { ForwardReceiver, makeTestCerts, type TestCerts } from '../helpers/forward-receiver.js';

// ---------- helpers ----------

function parse(yamlText: string): { cfg: ForwardConfig; problems: ConfigProblem[] } {
  const lines = new LineCounter();
  const doc = parseDocument(yamlText, { lineCounter: lines });
  const problems: ConfigProblem[] = [];
  const root = ConfigReader.root(doc.toJS(), { doc, lines, file: 'cfg.yaml', problems });
  const out = root.obj('output', { required: true })!;
  out.str('type');
  const cfg = parseForwardConfig(out, () => 'bridgehost');
  out.finish();
  return { cfg, problems };
}

function config(port: number, extra: Partial<ForwardConfig> = {}): ForwardConfig {
  const { cfg, problems } = parse(`output:\n  type: forward\n  port: ${port}\n`);
  if (problems.length) throw new Error(JSON.stringify(problems));
  return { ...cfg, reconnect: { initialDelayMs: 50, maxDelayMs: 200 }, ...extra };
}

function capture(): { log: Logger; lines: () => Array<Record<string, unknown>>; text: () => string } {
  const out: string[] = [];
  return {
    log: createLogger({ level: 'debug', write: (l) => void out.push(l) }),
    lines: () => out.map((l) => JSON.parse(l) as Record<string, unknown>),
    text: () => out.join(''),
  };
}

let seq = 0;
/** `n` events of `logType` with distinct µs times (sub-second parts set) and ordered keys. */
function batch(logType: string, n: number, account = 'api-test.duosecurity.com'): Batch {
  const events: DuoEvent[] = [];
  for (let i = 0; i < n; i++) {
    const id = `${logType}-${++seq}`;
    const timeUs = 1_700_000_000_000_000 + seq * 1_234_567 + 89;
    events.push(new DuoEvent(logType, timeUs, id, { zeta: i, alpha: id, nested: { b: 1, a: [1, 'x', null] }, ratio: 0.25, eventtype: logType, host: account }));
  }
  return { logType, account, events };
}

async function rejectsWith(t: Test, p: Promise<unknown>, check: (e: SinkError) => void): Promise<SinkError> {
  try {
    await p;
  } catch (err) {
    t.type(err, SinkError, `a SinkError: ${(err as Error).message}`);
    check(err as SinkError);
    return err as SinkError;
  }
  t.fail('expected a rejection');
  throw new Error('unreachable');
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** Wait for a condition without asserting on time; fails the test only if it never happens. */
async function until(pred: () => boolean, what: string, ms = 20_000): Promise<void> {
  const end = Date.now() + ms;
  while (!pred()) {
    if (Date.now() > end) throw new Error(`never happened: ${what}`);
    await sleep(10);
  }
}

let certs: TestCerts;
t.before(() => {
  certs = makeTestCerts(t.testdir());
});

// ---------- config ----------

t.test('config: defaults, registry, secrets', async (t) => {
  const { cfg, problems } = parse('output:\n  type: forward\n');
  t.same(problems, []);
  t.match(cfg, { host: '127.0.0.1', port: 24224, tagPrefix: 'duo', ackTimeoutMs: 60_000, chunkMaxEvents: 1000, maxEventsInFlight: 10_000, compress: 'none', tls: undefined, security: undefined });
  t.equal(forwardSink.type, 'forward', 'output.type forward');
  t.same(forwardSink.secretKeys, ['sharedKey', 'password']);

  const dir = t.testdir({ 'key.txt': 'file-shared-key-123\n' });
  const r = parse(`output:\n  type: forward\n  security:\n    shared_key_file: ${dir}/key.txt\n    username: u\n    password: pass-word-9876\n`);
  t.same(r.problems, []);
  t.equal(r.cfg.sharedKey, 'file-shared-key-123', 'trailing newline of the key file dropped');
  t.equal(r.cfg.security?.selfHostname, 'duo-log-bridge.bridgehost', 'self_hostname differs from the pod hostname Fluentd uses');
  const c = capture();
  c.log.info('x', { detail: 'key file-shared-key-123 and pass-word-9876' });
  t.notMatch(c.text(), /file-shared-key-123|pass-word-9876/, 'both secrets are registered for redaction');
});

t.test('config: every problem names its key and line', async (t) => {
  const { problems } = parse(
    [
      'output:',
      '  type: forward',
      '  port: 70000',
      '  ack_timout_secs: 5',
      '  compress: zip',
      '  tls:',
      '    ca_file: /nonexistent/ca.pem',
      `    cert_file: ${certs.clientCert}`,
      '  security:',
      '    username: bob',
      '  reconnect:',
      '    initial_delay_secs: 5',
      '    max_delay_secs: 1',
      '',
    ].join('\n'),
  );
  const byKey = Object.fromEntries(problems.map((p) => [p.key, p]));
  t.match(byKey['output.port'], { message: /between 1 and 65535/, line: 3 });
  t.match(byKey['output.ack_timout_secs'], { message: /did you mean "ack_timeout_secs"/, line: 4 });
  t.match(byKey['output.compress'], { message: /none, gzip/ });
  t.match(byKey['output.tls.ca_file'], { message: /file not found/, line: 7 });
  t.match(byKey['output.tls.key_file'], { message: /required when cert_file/ });
  t.match(byKey['output.security.shared_key'], { message: /required/ });
  t.match(byKey['output.security.password'], { message: /go together/ });
  t.match(byKey['output.reconnect.max_delay_secs'], { message: /at least initial_delay_secs/ });
});

// ---------- delivery ----------

t.test('delivers PackedForward chunks with tags, EventTime and records; resolves only after every ack', async (t) => {
  const rx = await ForwardReceiver.start();
  t.teardown(() => rx.close());
  const sink = new ForwardSink(config(rx.port), { log: capture().log });
  t.teardown(() => sink.close(0));
  await sink.start();

  rx.holdAcks();
  const b = batch('authentication', 2500);
  let settled = false;
  const p = sink.send(b).finally(() => (settled = true));
  await rx.waitFor(() => rx.receivedCount === 2500, 10_000, 'all events');
  t.equal(rx.chunksReceived, 3, '2500 events with chunk_max_events 1000 -> 3 chunks');
  await sleep(100);
  t.equal(settled, false, 'send is pending while acks are held');
  rx.releaseAcks();
  await p;
  t.equal(rx.ackedCount, 2500);

  const got = rx.eventsFor('duo.authentication');
  t.equal(got.length, 2500);
  t.equal(new Set(got.map((e) => e.chunk)).size, 3, 'one chunk id per chunk');
  t.ok(got.every((e) => e.mode === 'PackedForward' && !e.intTime));
  for (const [i, e] of got.entries()) {
    const src = b.events[i]!;
    if (JSON.stringify(e.record) !== src.json) {
      t.fail(`record ${i} differs: ${JSON.stringify(e.record)} vs ${src.json}`);
      break;
    }
    const us = e.time.sec * 1e6 + e.time.nsec / 1000;
    if (us !== src.timeUs || e.time.nsec % 1000 !== 0) {
      t.fail(`time ${i}: ${JSON.stringify(e.time)} vs ${src.timeUs}`);
      break;
    }
  }
  t.same(Object.keys(got[0]!.record), ['zeta', 'alpha', 'nested', 'ratio', 'eventtype', 'host'], 'key order kept');
  t.not(got[0]!.time.nsec, 0, 'sub-second precision');

  // Three logs at once, custom prefix, gzip.
  await sink.close(0);
  const sink2 = new ForwardSink(config(rx.port, { tagPrefix: 'sec.duo', compress: 'gzip' }), { log: capture().log });
  t.teardown(() => sink2.close(0));
  await sink2.start();
  await Promise.all([sink2.send(batch('authentication', 10)), sink2.send(batch('administrator', 20)), sink2.send(batch('telephony', 30))]);
  t.equal(rx.acked.get('sec.duo.authentication'), 10);
  t.equal(rx.acked.get('sec.duo.administrator'), 20);
  t.equal(rx.acked.get('sec.duo.telephony'), 30);
  t.ok(rx.eventsFor('sec.duo.telephony').every((e) => e.mode === 'CompressedPackedForward'));
  t.same(rx.errors, [], 'no protocol errors at the receiver');
});

t.test('ack withheld: retryable ack timeout, reconnect, resend delivers', async (t) => {
  const rx = await ForwardReceiver.start();
  t.teardown(() => rx.close());
  const c = capture();
  const sink = new ForwardSink(config(rx.port, { ackTimeoutMs: 1000 }), { log: c.log });
  t.teardown(() => sink.close(0));
  await sink.start();
  rx.holdAcks();
  const b = batch('administrator', 50);
  const err = await rejectsWith(t, sink.send(b), (e) => {
    t.equal(e.code, 'DLB_SINK_FORWARD_ACK_TIMEOUT');
    t.equal(e.retryable, true);
    t.match(e.message, /did not acknowledge administrator events within 1 s/);
  });
  t.ok(err);
  t.equal(sink.connection.stats.recycled, 1, 'a suspect connection is replaced');
  t.equal(sink.inFlightEvents, 0, 'nothing counted in flight after the rejection');
  rx.dropHeldAcks();
  // Resend as the pipeline would (a very slow machine could time out a healthy ack: retry then).
  for (let i = 0; ; i++) {
    try {
      await sink.send(b);
      break;
    } catch (e) {
      if (i >= 3 || (e as SinkError).code !== 'DLB_SINK_FORWARD_ACK_TIMEOUT') throw e;
    }
  }
  t.ok((rx.received.get('duo.administrator') ?? 0) >= 100, 'the batch arrived at least twice (at least once)');
  t.equal(rx.acked.get('duo.administrator'), 50);

  // Late acks (below the timeout) are just slow.
  const sink2 = new ForwardSink(config(rx.port, { ackTimeoutMs: 5000 }), { log: capture().log });
  t.teardown(() => sink2.close(0));
  await sink2.start();
  rx.ackDelayMs = 400;
  await sink2.send(batch('telephony', 5));
  t.equal(rx.acked.get('duo.telephony'), 5);
});

t.test('connection closed mid-chunk: rejected at once (not after the ack timeout), resend delivers', async (t) => {
  const rx = await ForwardReceiver.start();
  t.teardown(() => rx.close());
  const c = capture();
  // An ack timeout far beyond the test's own timeout: only the close can end the send.
  const sink = new ForwardSink(config(rx.port, { ackTimeoutMs: 3_600_000 }), { log: c.log });
  t.teardown(() => sink.close(0));
  await sink.start();
  rx.closeMidChunk(1);
  const b = batch('authentication', 1000);
  await rejectsWith(t, sink.send(b), (e) => {
    t.equal(e.code, 'DLB_SINK_FORWARD_DISCONNECTED');
    t.equal(e.retryable, true);
  });
  t.equal(rx.ackedCount, 0);
  await sink.send(b);
  t.equal(rx.acked.get('duo.authentication'), 1000);
  t.ok(c.lines().some((l) => l.msg === 'The connection to Fluentd was lost; reconnecting.'), 'the loss is logged');
});

t.test('receiver refusing connections: start returns, send waits and logs, then delivers', async (t) => {
  const rx = await ForwardReceiver.start();
  t.teardown(() => rx.close());
  await rx.stop();
  const c = capture();
  const sink = new ForwardSink(config(rx.port), { log: c.log });
  t.teardown(() => sink.close(0));
  await sink.start(); // first attempt refused: start does not fail
  let done = false;
  const p = sink.send(batch('telephony', 100)).then(() => (done = true));
  await until(() => sink.connection.stats.failedAttempts >= 3, 'several refused attempts');
  t.equal(done, false, 'send waits while Fluentd is down');
  const waitLog = c.lines().find((l) => l.msg === 'Cannot reach Fluentd; waiting for it.');
  t.match(waitLog, { level: 'warn', endpoint: `127.0.0.1:${rx.port}`, error: /ECONNREFUSED/ }, 'the wait is visible in the log');
  await rx.listen(rx.port);
  await p;
  t.equal(rx.acked.get('duo.telephony'), 100);
  t.match(
    c.lines().find((l) => l.msg === 'Connected to Fluentd again.'),
    { attempts: Number },
    'the recovery is logged',
  );

  // Restart with acks in flight: retryable, then delivered.
  rx.holdAcks();
  const b = batch('telephony', 10);
  const q = sink.send(b);
  await rx.waitFor(() => rx.received.get('duo.telephony') === 110, 10_000, 'the batch');
  rx.dropHeldAcks();
  await rx.restart();
  await rejectsWith(t, q, (e) => t.equal(e.retryable, true));
  await sink.send(b);
  t.equal(rx.acked.get('duo.telephony'), 110);
});

t.test('in-flight cap: a send that does not fit waits for acks (back pressure)', async (t) => {
  const rx = await ForwardReceiver.start();
  t.teardown(() => rx.close());
  const sink = new ForwardSink(config(rx.port, { maxEventsInFlight: 1000 }), { log: capture().log });
  t.teardown(() => sink.close(0));
  await sink.start();
  rx.holdAcks();
  const a = sink.send(batch('authentication', 800));
  const b = sink.send(batch('administrator', 800));
  await rx.waitFor(() => rx.receivedCount === 800, 10_000, 'first batch');
  await sleep(200);
  t.equal(rx.receivedCount, 800, 'the second batch is not emitted while the first is unacked');
  t.equal(sink.inFlightEvents, 800);
  rx.releaseAcks();
  await a;
  await rx.waitFor(() => rx.receivedCount === 1600, 10_000, 'second batch');
  rx.releaseAcks();
  await b;
  t.equal(rx.ackedCount, 1600);
  // A batch bigger than the cap still goes (alone).
  await sink.send(batch('telephony', 2500));
  t.equal(rx.acked.get('duo.telephony'), 2500);
});

t.test('an unexpected server reply (FATAL client) is answered by a new client, logged', async (t) => {
  const rx = await ForwardReceiver.start();
  t.teardown(() => rx.close());
  const c = capture();
  const sink = new ForwardSink(config(rx.port), { log: c.log });
  t.teardown(() => sink.close(0));
  await sink.start();
  await sink.send(batch('authentication', 3));
  rx.sendUnexpected();
  await until(() => sink.connection.stats.recreatedAfterFatal === 1, 'client recreated');
  t.match(
    c.lines().find((l) => l.msg === 'The forward client entered a state it never leaves; recreating it.'),
    { level: 'warn', reason: /reply the forward protocol does not allow/ },
  );
  await sink.send(batch('authentication', 3));
  t.equal(rx.acked.get('duo.authentication'), 6);
  t.equal(rx.connectionsAccepted, 2);
});

t.test('close() ends a send waiting for a Fluentd that is down', async (t) => {
  const rx = await ForwardReceiver.start();
  await rx.close();
  const sink = new ForwardSink(config(rx.port), { log: capture().log });
  await sink.start();
  const p = sink.send(batch('telephony', 1));
  await until(() => sink.connection.stats.failedAttempts >= 1, 'an attempt');
  await sink.close(0);
  await rejectsWith(t, p, (e) => t.equal(e.retryable, true));
  await sink.close(0); // twice is fine
});

// ---------- TLS ----------

function tlsReceiver(requestCert = false): Promise<ForwardReceiver> {
  return ForwardReceiver.start({ tls: { key: readFileSync(certs.serverKey), cert: readFileSync(certs.serverCert), ca: readFileSync(certs.caCert), requestCert } });
}
const tlsCfg = (o: Partial<NonNullable<ForwardConfig['tls']>>) => ({ caFile: undefined, certFile: undefined, keyFile: undefined, verify: true, servername: undefined, ...o });

t.test('TLS with the right CA delivers; the certificate is checked against the host', async (t) => {
  const rx = await tlsReceiver();
  t.teardown(() => rx.close());
  const sink = new ForwardSink(config(rx.port, { tls: tlsCfg({ caFile: certs.caCert }) }), { log: capture().log });
  t.teardown(() => sink.close(0));
  await sink.start();
  await sink.send(batch('authentication', 200));
  t.equal(rx.acked.get('duo.authentication'), 200);

  // Same CA, but a name the certificate does not carry.
  const bad = new ForwardSink(config(rx.port, { tls: tlsCfg({ caFile: certs.caCert, servername: 'fluentd.example' }) }), { log: capture().log });
  t.teardown(() => bad.close(0));
  await rejectsWith(t, bad.start(), (e) => {
    t.equal(e.code, 'DLB_SINK_FORWARD_TLS_VERIFY');
    t.equal(e.retryable, false);
    t.match(e.message, /does not name the host.*servername/);
  });
});

t.test('TLS with a wrong CA is refused with a clear, non-retryable error', async (t) => {
  const rx = await tlsReceiver();
  t.teardown(() => rx.close());
  const c = capture();
  const sink = new ForwardSink(config(rx.port, { tls: tlsCfg({ caFile: certs.otherCaCert }) }), { log: c.log });
  t.teardown(() => sink.close(0));
  await rejectsWith(t, sink.start(), (e) => {
    t.equal(e.code, 'DLB_SINK_FORWARD_TLS_VERIFY');
    t.equal(e.retryable, false);
    t.match(e.message, `is not trusted by output.tls.ca_file (${certs.otherCaCert})`);
    t.match(e.message, /(UNABLE_TO_VERIFY_LEAF_SIGNATURE|SELF_SIGNED_CERT_IN_CHAIN): /);
  });
  await rejectsWith(t, sink.send(batch('authentication', 1)), (e) => t.equal(e.retryable, false, 'send fails the same way (the bridge exits 1)'));
  t.equal(rx.receivedCount, 0);
  t.ok(c.lines().some((l) => l.level === 'error' && /not trusted/.test(String(l.error))), 'logged as an error');
});

t.test('mutual TLS: client certificate accepted; missing client certificate refused', async (t) => {
  const rx = await tlsReceiver(true);
  t.teardown(() => rx.close());
  const ok = new ForwardSink(config(rx.port, { tls: tlsCfg({ caFile: certs.caCert, certFile: certs.clientCert, keyFile: certs.clientKey }) }), { log: capture().log });
  t.teardown(() => ok.close(0));
  await ok.start();
  await ok.send(batch('administrator', 7));
  t.equal(rx.acked.get('duo.administrator'), 7);

  const noCert = new ForwardSink(config(rx.port, { tls: tlsCfg({ caFile: certs.caCert }), connectTimeoutMs: 2000 }), { log: capture().log });
  t.teardown(() => noCert.close(0));
  await noCert.start().catch(() => {});
  const p = noCert.send(batch('administrator', 1));
  p.catch(() => {});
  // TLS 1.3: the handshake completes on our side, then the server's alert arrives on the first read.
  await rejectsWith(t, p, (e) => {
    t.equal(e.code, 'DLB_SINK_FORWARD_TLS_REJECTED');
    t.equal(e.retryable, false);
    t.match(e.message, /rejected our client certificate/);
  });
  t.equal(rx.acked.get('duo.administrator'), 7, 'nothing from the client without a certificate');
});

// ---------- shared key ----------

t.test('shared key: right key (and user) delivers; wrong key refused, non-retryable, key not in messages', async (t) => {
  const rx = await ForwardReceiver.start({ security: { sharedKey: 'right-shared-key-42', users: { fluent: 'user-pass-77' } } });
  t.teardown(() => rx.close());
  const sec = (selfHostname = 'bridge-test') => ({ selfHostname, username: 'fluent' });
  const ok = new ForwardSink(config(rx.port, { security: sec(), sharedKey: 'right-shared-key-42', password: 'user-pass-77' }), { log: capture().log });
  t.teardown(() => ok.close(0));
  await ok.start();
  await ok.send(batch('telephony', 40));
  t.equal(rx.acked.get('duo.telephony'), 40);

  const c = capture();
  const bad = new ForwardSink(config(rx.port, { security: sec(), sharedKey: 'wrong-shared-key-13', password: 'user-pass-77' }), { log: c.log });
  t.teardown(() => bad.close(0));
  const e = await rejectsWith(t, bad.start(), (e) => {
    t.equal(e.code, 'DLB_SINK_FORWARD_SHARED_KEY');
    t.equal(e.retryable, false);
    t.match(e.message, /rejected the shared key.*output\.security\.shared_key/);
  });
  t.notMatch(e.message + c.text(), /wrong-shared-key-13|right-shared-key-42/, 'no key in the error or the log');
  await rejectsWith(t, bad.send(batch('telephony', 1)), (e) => t.equal(e.code, 'DLB_SINK_FORWARD_SHARED_KEY'));

  const badUser = new ForwardSink(config(rx.port, { security: sec(), sharedKey: 'right-shared-key-42', password: 'nope-nope' }), { log: capture().log });
  t.teardown(() => badUser.close(0));
  await rejectsWith(t, badUser.start(), (e) => {
    t.equal(e.code, 'DLB_SINK_FORWARD_AUTH');
    t.match(e.message, /username\/password mismatch/);
  });

  // Without security the client cannot know before Fluentd's HELO arrives: start() may pass, the send fails.
  const none = new ForwardSink(config(rx.port), { log: capture().log });
  t.teardown(() => none.close(0));
  await none.start().catch(() => {});
  await rejectsWith(t, none.send(batch('telephony', 1)), (e) => {
    t.equal(e.code, 'DLB_SINK_FORWARD_AUTH_REQUIRED');
    t.match(e.message, /output\.security is not set/);
  });

  const same = new ForwardSink(config(rx.port, { security: sec('test-fluentd'), sharedKey: 'right-shared-key-42', password: 'user-pass-77' }), { log: capture().log });
  t.teardown(() => same.close(0));
  await rejectsWith(t, same.start(), (e) => t.equal(e.retryable, false));
  t.equal(rx.acked.get('duo.telephony'), 40, 'nothing delivered by refused clients');
});

t.test('shared key over TLS', async (t) => {
  const rx = await ForwardReceiver.start({
    tls: { key: readFileSync(certs.serverKey), cert: readFileSync(certs.serverCert) },
    security: { sharedKey: 'tls-and-key-5150' },
  });
  t.teardown(() => rx.close());
  const sink = new ForwardSink(config(rx.port, { tls: tlsCfg({ caFile: certs.caCert }), security: { selfHostname: 'b', username: undefined }, sharedKey: 'tls-and-key-5150' }), { log: capture().log });
  t.teardown(() => sink.close(0));
  await sink.start();
  await sink.send(batch('authentication', 1500));
  t.equal(rx.acked.get('duo.authentication'), 1500);
});


t.test('the entry encoders are byte-identical to the library packing', async (t) => {
  const { libraryPackEntry, sharedEntryEncoder, fastEntryEncoder } = await import('../../src/sinks/forward/client-internals.js');
  const { EventTime } = await import('@fluent-org/logger');
  const { eventTime } = await import('../../src/sinks/forward/sink.js');
  const b = batch('authentication', 50);
  const str = (n: number, c = 'a') => c.repeat(n);
  const ints = [0, 1, 127, 128, 255, 256, 65535, 65536, 2 ** 32 - 1, 2 ** 32, 2 ** 53 - 1, -1, -32, -33, -128, -129, -32768, -32769, -(2 ** 31), -(2 ** 31) - 1, -(2 ** 53 - 1)];
  const floats = [0.5, -0.25, 1e300, -1e-300, 2 ** 53, -(2 ** 60), Number.NaN, Infinity, -Infinity, -0];
  const strings = [
    '', 'x', str(31), str(32), str(255), str(256), str(65535), str(65536),
    str(10, 'é'), str(11, 'é'), str(15, 'é'), str(16, 'é'), str(127, 'é'), str(128, 'é'), 'zoë.müller@example.com', '✓ ünïcødé 😀', str(20, '😀'), 'tab\tnew\nline"quote\\',
  ];
  const map = (n: number) => Object.fromEntries(Array.from({ length: n }, (_, i) => [`k${i}`, i]));
  const nullProto = Object.assign(Object.create(null) as Record<string, unknown>, { a: 1, b: 'two' });
  const records: unknown[] = [
    { ints, floats, strings },
    map(15), map(16), map(65536),
    { a: Array.from({ length: 15 }, (_, i) => i), b: Array.from({ length: 16 }, (_, i) => i), c: Array.from({ length: 70000 }, () => null) },
    { nested: { deeper: { deepest: [{ x: [[[]]] }, {}, []] } }, t: true, f: false, n: null, u: undefined },
    nullProto,
    { when: new Date(1_700_000_000_123), bin: new Uint8Array([1, 2, 3]) }, // the general encoder's job
    { big: str(100_000, 'ß') },
  ];
  const entries: unknown[] = [
    ...b.events.map((e) => [eventTime(e), e.record]),
    ...records.map((r) => [new EventTime(1_700_000_000, 999_999_999), r]),
    [new EventTime(0, 0), {}],
    [new EventTime(2 ** 32 - 1, 0), { a: 1 }],
    [1_700_000_000, { a: 1 }],
  ];
  let deep: unknown = 'leaf';
  for (let i = 0; i < 150; i++) deep = [deep];
  for (const [name, pack] of [['shared', sharedEntryEncoder()], ['fast', fastEntryEncoder()]] as const) {
    let same = 0;
    for (const [i, entry] of entries.entries()) {
      if (Buffer.compare(Buffer.from(pack(entry)), Buffer.from(libraryPackEntry(entry))) === 0) same++;
      else t.fail(`${name}: entry ${i} differs`);
    }
    t.equal(same, entries.length, `${name}: ${entries.length} entries byte-identical`);
    const first = pack(entries[0]);
    const copy = Buffer.from(first);
    pack(entries[1]);
    t.same(Buffer.from(first), copy, `${name}: an earlier result is not overwritten by the next encode`);
    t.throws(() => pack([0, deep]), `${name}: too deep is refused like the library does`);
  }
  t.throws(() => libraryPackEntry([0, deep]));

  // Whole packets: PackedForward with a ~0.5 MiB payload, PING, and the same with the shared encoder.
  const { libraryEncodeMessage } = await import('../../src/sinks/forward/client-internals.js');
  const msgs: unknown[] = [
    ['duo.authentication', Buffer.concat(entries.slice(0, 50).map((e) => Buffer.from(libraryPackEntry(e)))), { size: 50, chunk: 'q83vEjRWeJq83vEjRWeJqw==' }],
    ['duo.telephony', Buffer.alloc(600_000, 7), { size: 1, chunk: 'x', compressed: 'gzip' }],
    ['PING', 'host', 'salt', 'f'.repeat(128), '', ''],
  ];
  const shared = sharedEntryEncoder(1024 * 1024);
  for (const [i, m] of msgs.entries()) t.same(Buffer.from(shared(m)), Buffer.from(libraryEncodeMessage(m)), `message ${i} byte-identical`);
});

t.test('a handshake that never completes times out and is retried, visibly', async (t) => {
  // The bridge is configured for <security>, the server is plain: no HELO ever comes.
  const rx = await ForwardReceiver.start();
  t.teardown(() => rx.close());
  const c = capture();
  const sink = new ForwardSink(config(rx.port, { connectTimeoutMs: 200, security: { selfHostname: 'b', username: undefined }, sharedKey: 'some-key-1234' }), { log: c.log });
  t.teardown(() => sink.close(0));
  await sink.start();
  const p = sink.send(batch('telephony', 1));
  p.catch(() => {});
  await until(() => sink.connection.stats.failedAttempts >= 2, 'two timed-out handshakes');
  t.match(c.lines().find((l) => l.msg === 'Cannot reach Fluentd; waiting for it.'), { error: /shared-key handshake not completed within 0.2 s/ });
  t.equal(rx.receivedCount, 0, 'no event sent before the handshake');
  t.ok(rx.connectionsAccepted >= 2, 'each attempt is a new connection');
  await sink.close(0);
  await rejectsWith(t, p, (e) => t.equal(e.retryable, true));
});

t.test('IPv6 loopback', async (t) => {
  let rx: ForwardReceiver;
  try {
    rx = await ForwardReceiver.start({ host: '::1' });
  } catch {
    t.pass('no ::1 on this machine: skipped');
    return;
  }
  t.teardown(() => rx.close());
  const sink = new ForwardSink({ ...config(rx.port), host: '::1' }, { log: capture().log });
  t.teardown(() => sink.close(0));
  await sink.start();
  await sink.send(batch('administrator', 10));
  t.equal(rx.acked.get('duo.administrator'), 10);
});
