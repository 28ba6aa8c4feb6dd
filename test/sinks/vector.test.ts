/**
 * The `vector` output against real gRPC servers on loopback: the test Vector server
 * (grpc-js, repo protos), a raw HTTP/2 server that checks gzip framing byte by byte,
 * and TLS with certificates made by openssl.
 */
import t from 'tap';
import http2 from 'node:http2';
import { gunzipSync } from 'node:zlib';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { DuoEvent } from '../../src/format/event.js';
import { ConfigReader } from '../../src/config/reader.js';
import type { ConfigProblem } from '../../src/errors.js';
import { SinkError } from '../../src/errors.js';
import { createLogger } from '../../src/obs/log.js';
import { parseVectorSinkConfig, type VectorSinkConfig } from '../../src/sinks/vector/config.js';
import { VectorSink } from '../../src/sinks/vector/sink.js';
import { vectorSink } from '../../src/sinks/vector/index.js';
import { SINKS } from '../../src/sinks/registry.js';
import { decodePushEventsRequest, startVectorServer, toJs, type VectorTestServer } from '../helpers/vector-grpc-server.js';
import { makeTestCerts } from '../helpers/certs.js';
import { rejected } from '../helpers/rejected.js';

function parse(output: Record<string, unknown>): { cfg: VectorSinkConfig; problems: ConfigProblem[] } {
  const source = { problems: [] as ConfigProblem[] };
  const r = ConfigReader.root(output, source);
  const cfg = parseVectorSinkConfig(r);
  r.raw('type');
  r.finish();
  return { cfg, problems: source.problems };
}

function memLog(): { lines: Record<string, unknown>[]; log: ReturnType<typeof createLogger> } {
  const lines: Record<string, unknown>[] = [];
  return { lines, log: createLogger({ level: 'debug', write: (l) => lines.push(JSON.parse(l)) }) };
}

function events(n: number, logType = 'authentication', from = 0): DuoEvent[] {
  return Array.from({ length: n }, (_, i) => {
    const k = from + i;
    return new DuoEvent(logType, 1_700_000_000_000_000 + k * 1001, `tx${k}`, { txid: `tx${k}`, result: 'success', n: k, score: k + 0.5, ok: k % 2 === 0, extra: null, user: { name: `user${k}` } });
  });
}

const batch = (evs: DuoEvent[]) => ({ logType: evs[0]!.logType, account: 'api-test.duosecurity.com', events: evs });
const never = new AbortController().signal;

async function sinkFor(server: { address: string }, extra: Partial<VectorSinkConfig> = {}, log = memLog().log): Promise<VectorSink> {
  const { cfg } = parse({ address: server.address });
  const sink = new VectorSink({ ...cfg, ...extra }, { log });
  await sink.start();
  return sink;
}

function txids(s: VectorTestServer): string[] {
  return s.acked().map((w) => (toJs(w.log!.value) as { txid: string }).txid);
}

const rejection = (p: Promise<unknown>): Promise<SinkError> => rejected(p, SinkError);

t.test('config: defaults, and every problem names its key', async (t) => {
  const ok = parse({ address: '127.0.0.1:6000' });
  t.same(ok.problems, []);
  t.match(ok.cfg, { address: '127.0.0.1:6000', batchSize: 1000, maxInFlight: 4, compression: 'none', timeoutSecs: 60, timestampKey: 'timestamp', includeMessage: false });
  t.equal(ok.cfg.tls, undefined);
  t.same(parse({ address: '[::1]:6000', compression: 'gzip', tls: { ca_file: '/ca.pem' } }).problems, []);
  const bad = parse({
    address: 'http://127.0.0.1:6000',
    batch_size: 0,
    max_in_flight: 'many',
    compression: 'gzp',
    tls: { cert_file: '/c.pem', verfy: false },
    bogus: 1,
  }).problems.map((p) => `${p.key}: ${p.message}`);
  t.match(bad, [
    /^address: must be host:port without a scheme/,
    /^batch_size: must be between 1 and 100000 events/,
    /^max_in_flight: must be a number/,
    /^compression: must be one of none, gzip.*did you mean "gzip"/,
    /^tls.key_file: cert_file and key_file go together/,
    /^tls.verfy: is not a known setting \(did you mean "verify"\?\)/,
    /^bogus: is not a known setting/,
  ]);
  t.match(parse({ address: '127.0.0.1:70000' }).problems, [{ key: 'address', message: /port from 1 to 65535/ }]);
  t.match(parse({}).problems, [{ key: 'address', message: 'is required' }]);
  t.match(parse({ address: 'h:1', include_message: true, timestamp_key: 'message' }).problems, [{ key: 'timestamp_key', message: /cannot be "message"/ }]);
  t.equal(SINKS.vector, vectorSink, 'registered as output.type vector');
});

t.test('a batch is split into calls of batch_size, all acknowledged before send resolves', async (t) => {
  const server = await startVectorServer();
  t.teardown(() => server.close());
  const sink = await sinkFor(server, { batchSize: 1000, maxInFlight: 2 });
  t.teardown(() => sink.close(1000));
  t.equal(server.healthChecks, 1, 'HealthCheck at start');
  const evs = events(2500);
  await sink.send(batch(evs), never);
  t.same(server.calls.map((c) => [c.events.length, c.answer]), [[1000, 'OK'], [1000, 'OK'], [500, 'OK']]);
  t.same(txids(server).sort(), evs.map((e) => e.id).sort(), 'every event acknowledged once');
  const first = toJs(server.calls[0]!.events[0]!.log!.value) as Record<string, unknown>;
  t.match(first, { txid: 'tx0', result: 'success', n: 0, score: 0.5, ok: true, extra: null, user: { name: 'user0' } });
});

t.test('calls run concurrently, never more than max_in_flight over all logs', async (t) => {
  const server = await startVectorServer();
  t.teardown(() => server.close());
  server.delayMs = 150;
  let active = 0;
  let peak = 0;
  server.onCall = () => {
    peak = Math.max(peak, ++active);
    setTimeout(() => active--, 150);
  };
  const sink = await sinkFor(server, { batchSize: 100, maxInFlight: 3 });
  t.teardown(() => sink.close(1000));
  await Promise.all([sink.send(batch(events(500, 'authentication')), never), sink.send(batch(events(400, 'telephony')), never)]);
  t.equal(server.ackedCount(), 900);
  t.ok(peak <= 3, `peak in flight ${peak} <= 3`);
  t.ok(peak >= 2, `calls overlapped (peak ${peak})`);
});

t.test('one failed call fails the batch; no new call of that batch starts after it', async (t) => {
  const server = await startVectorServer();
  t.teardown(() => server.close());
  const sink = await sinkFor(server, { batchSize: 10, maxInFlight: 1 });
  t.teardown(() => sink.close(1000));
  server.calls.length = 0;
  server.failNext(0, grpc.status.OK);
  let n = 0;
  server.onCall = () => {
    if (++n === 2) server.failNext(1, grpc.status.INTERNAL, 'Delivery error');
  };
  const err = await rejection(sink.send(batch(events(30)), never));
  t.equal(err.code, 'DLB_SINK_VECTOR_DELIVERY_ERROR');
  t.equal(err.retryable, true);
  t.match(err.message, /INTERNAL \(Delivery error\)/);
  t.same(server.calls.map((c) => c.answer), ['OK', 'INTERNAL'], 'the third call was not sent');
  server.onCall = undefined;
  await sink.send(batch(events(30)), never);
  t.equal(server.calls.length, 5, 'the resend goes through');
});

t.test('status codes: retryable ones vs DATA_LOSS and other permanent ones', async (t) => {
  const server = await startVectorServer();
  t.teardown(() => server.close());
  const { lines, log } = memLog();
  const sink = await sinkFor(server, { batchSize: 50 }, log);
  t.teardown(() => sink.close(1000));
  const cases: [grpc.status, string, boolean][] = [
    [grpc.status.UNAVAILABLE, 'DLB_SINK_VECTOR_UNAVAILABLE', true],
    [grpc.status.INTERNAL, 'DLB_SINK_VECTOR_DELIVERY_ERROR', true],
    [grpc.status.RESOURCE_EXHAUSTED, 'DLB_SINK_VECTOR_BUSY', true],
    [grpc.status.ABORTED, 'DLB_SINK_VECTOR_FAILED', true],
    [grpc.status.DATA_LOSS, 'DLB_SINK_VECTOR_REJECTED', false],
    [grpc.status.INVALID_ARGUMENT, 'DLB_SINK_VECTOR_REFUSED', false],
    [grpc.status.UNIMPLEMENTED, 'DLB_SINK_VECTOR_REFUSED', false],
    [grpc.status.UNAUTHENTICATED, 'DLB_SINK_VECTOR_REFUSED', false],
  ];
  for (const [code, want, retryable] of cases) {
    server.failNext(1, code, 'Delivery failed');
    const err = await rejection(sink.send(batch(events(20)), never));
    t.equal(err.code, want, grpc.status[code]);
    t.equal(err.retryable, retryable, `${grpc.status[code]} retryable=${retryable}`);
  }
  server.failNext(1, grpc.status.DATA_LOSS, 'Delivery failed');
  const loss = await rejection(sink.send(batch(events(20)), never));
  t.match(loss.message, /DATA_LOSS \(Delivery failed\)\. Vector REJECTED these events.*checkpoint before this batch/);
  t.ok(lines.some((l) => l.level === 'error' && /Vector refused a batch/.test(String(l.msg)) && /REJECTED/.test(String(l.error))), 'logged loudly at error level');
  t.equal(server.ackedCount(), 0, 'nothing acknowledged in all of this');
});

t.test('DEADLINE_EXCEEDED on a slow Vector is retryable', async (t) => {
  const server = await startVectorServer();
  t.teardown(() => server.close());
  const sink = await sinkFor(server, { timeoutSecs: 0.3 });
  t.teardown(() => sink.close(100));
  server.delayMs = 1500;
  const err = await rejection(sink.send(batch(events(5)), never));
  t.equal(err.code, 'DLB_SINK_VECTOR_TIMEOUT');
  t.equal(err.retryable, true);
  t.match(err.message, /timeout_secs \(0\.3\)/);
  server.delayMs = 0;
  await sink.send(batch(events(5)), never);
});

t.test('Vector down, then back on the same port: retryable, then delivered', async (t) => {
  const server = await startVectorServer();
  t.teardown(() => server.close());
  const sink = await sinkFor(server);
  t.teardown(() => sink.close(100));
  await server.stop();
  const err = await rejection(sink.send(batch(events(10)), never));
  t.equal(err.code, 'DLB_SINK_VECTOR_UNAVAILABLE');
  t.equal(err.retryable, true);
  await server.restart();
  let delivered = false;
  for (let i = 0; i < 100 && !delivered; i++) {
    try {
      await sink.send(batch(events(10)), never);
      delivered = true;
    } catch (e) {
      t.equal((e as SinkError).retryable, true);
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  t.ok(delivered);
  t.equal(server.ackedCount(), 10);
  t.equal(sink.reconnects, 1, 'one reconnection counted (for metrics)');
  server.unavailableFor(60_000);
  t.equal((await rejection(sink.send(batch(events(10)), never))).code, 'DLB_SINK_VECTOR_UNAVAILABLE', 'injected UNAVAILABLE');
});

t.test('start waits while Vector is down or NOT_SERVING, and fails fast on a non-Vector gRPC server', async (t) => {
  const server = await startVectorServer();
  t.teardown(() => server.close());
  server.health = 'NOT_SERVING';
  const { lines, log } = memLog();
  const sink = new VectorSink(parse({ address: server.address }).cfg, { log });
  t.teardown(() => sink.close(100));
  let started = false;
  const p = sink.start().then(() => (started = true));
  while (server.healthChecks < 2) await new Promise((r) => setTimeout(r, 20));
  t.equal(started, false, 'not started while NOT_SERVING');
  t.ok(lines.some((l) => l.level === 'warn' && l.health === 'status NOT_SERVING'));
  server.health = 'SERVING';
  await p;
  t.ok(started);

  // Down at start, up later.
  const later = await startVectorServer();
  const port = later.port;
  await later.stop();
  const s2 = new VectorSink(parse({ address: `127.0.0.1:${port}` }).cfg, { log });
  t.teardown(() => s2.close(100));
  const p2 = s2.start();
  while (!lines.some((l) => l.level === 'warn' && /UNAVAILABLE/.test(String(l.health)) && String(l.address).endsWith(`:${port}`))) await new Promise((r) => setTimeout(r, 20));
  await later.restart();
  t.teardown(() => later.close());
  await p2;
  await s2.send(batch(events(3)), never);
  t.equal(later.ackedCount(), 3);

  // A gRPC server without vector.Vector: UNIMPLEMENTED is permanent.
  const other = new grpc.Server();
  const otherPort = await new Promise<number>((res, rej) => other.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (e, p) => (e ? rej(e) : res(p))));
  t.teardown(() => other.forceShutdown());
  const s3 = new VectorSink(parse({ address: `127.0.0.1:${otherPort}` }).cfg, { log });
  const err = await rejection(s3.start());
  t.equal(err.retryable, false);
  t.match(err.message, /HealthCheck failed with UNIMPLEMENTED.*is 127\.0\.0\.1:\d+ a Vector `vector` source/);
  await s3.close(100);

  // close() during the wait ends start() instead of hanging.
  const s4 = new VectorSink(parse({ address: `127.0.0.1:${port + 0}` }).cfg, { log });
  await later.stop();
  const p4 = s4.start();
  await new Promise((r) => setTimeout(r, 50));
  await s4.close(100);
  t.equal((await rejection(p4)).code, 'DLB_SINK_CLOSED');
});

t.test('TLS: CA and client certificate; wrong CA or missing client cert never delivers', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'dlb-vector-tls-'));
  const c = makeTestCerts(dir);
  const server = await startVectorServer({ tls: { cert: readFileSync(c.serverCert), key: readFileSync(c.serverKey), clientCa: readFileSync(c.caCert) } });
  t.teardown(() => server.close());
  const good = parse({ address: server.address, tls: { ca_file: c.caCert, cert_file: c.clientCert, key_file: c.clientKey } });
  t.same(good.problems, []);
  const sink = new VectorSink(good.cfg, { log: memLog().log });
  await sink.start();
  await sink.send(batch(events(25)), never);
  await sink.close(100);
  t.equal(server.ackedCount(), 25, 'delivered over mutual TLS');

  const waitsWithWarning = async (tls: Record<string, unknown>, why: string): Promise<void> => {
    const { lines, log } = memLog();
    const s = new VectorSink(parse({ address: server.address, tls }).cfg, { log });
    const p = s.start();
    while (!lines.some((l) => l.level === 'warn')) await new Promise((r) => setTimeout(r, 20));
    await s.close(100);
    t.equal((await rejection(p)).code, 'DLB_SINK_CLOSED', why);
    t.match(String(lines.find((l) => l.level === 'warn')!.health), /UNAVAILABLE/, `${why}: the warning says why`);
  };
  await waitsWithWarning({ ca_file: c.otherCaCert, cert_file: c.clientCert, key_file: c.clientKey }, 'server cert from an untrusted CA');
  await waitsWithWarning({ ca_file: c.caCert }, 'no client certificate');
  t.equal(server.ackedCount(), 25);

  const lax = new VectorSink(parse({ address: server.address, tls: { ca_file: c.otherCaCert, cert_file: c.clientCert, key_file: c.clientKey, verify: false } }).cfg, { log: memLog().log });
  await lax.start();
  await lax.send(batch(events(5)), never);
  await lax.close(100);
  t.equal(server.ackedCount(), 30, 'verify: false accepts the unknown CA');

  const missing = new VectorSink(parse({ address: server.address, tls: { ca_file: join(dir, 'nope.pem') } }).cfg, { log: memLog().log });
  const err = await rejection(missing.start());
  t.equal(err.code, 'DLB_SINK_TLS_FILE');
  t.match(err.message, /output\.tls\.ca_file: cannot read .*nope\.pem \(ENOENT\)/);
});

/** A raw HTTP/2 endpoint speaking just enough gRPC to check the framing of each PushEvents call. */
async function rawGrpcServer(): Promise<{ port: number; seen: { encoding: string | undefined; flag: number; wireBytes: number; events: number }[]; close(): void }> {
  const seen: { encoding: string | undefined; flag: number; wireBytes: number; events: number }[] = [];
  const server = http2.createServer();
  server.on('stream', (stream, headers) => {
    const chunks: Buffer[] = [];
    stream.on('data', (c: Buffer) => chunks.push(c));
    stream.on('end', () => {
      const body = Buffer.concat(chunks);
      let status = 0;
      if (headers[':path'] === '/vector.Vector/PushEvents') {
        const flag = body[0]!;
        const len = body.readUInt32BE(1);
        let msg = body.subarray(5, 5 + len);
        if (flag === 1) msg = gunzipSync(msg);
        const req = decodePushEventsRequest(msg);
        seen.push({ encoding: headers['grpc-encoding'] as string | undefined, flag, wireBytes: len, events: req.events?.length ?? 0 });
      } else if (headers[':path'] !== '/vector.Vector/HealthCheck') {
        status = 12;
      }
      stream.respond({ ':status': 200, 'content-type': 'application/grpc' }, { waitForTrailers: true });
      stream.on('wantTrailers', () => stream.sendTrailers({ 'grpc-status': String(status) }));
      // HealthCheck: an empty HealthCheckResponse (status SERVING = 0 is the default).
      stream.end(Buffer.from([0, 0, 0, 0, 0]));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { port: (server.address() as { port: number }).port, seen, close: () => server.close() };
}

t.test('compression: gzip is gRPC message compression (grpc-encoding + compressed flag); none is plain', async (t) => {
  const raw = await rawGrpcServer();
  t.teardown(() => raw.close());
  const evs = events(300);
  for (const compression of ['gzip', 'none'] as const) {
    const sink = new VectorSink({ ...parse({ address: `127.0.0.1:${raw.port}` }).cfg, compression }, { log: memLog().log });
    await sink.start();
    await sink.send(batch(evs), never);
    await sink.close(100);
  }
  t.equal(raw.seen.length, 2);
  const [gz, plain] = raw.seen;
  t.match(gz, { encoding: 'gzip', flag: 1, events: 300 });
  t.match(plain, { flag: 0, events: 300 });
  t.not(plain!.encoding, 'gzip');
  t.ok(gz!.wireBytes * 3 < plain!.wireBytes, `gzip shrinks the call (${gz!.wireBytes} vs ${plain!.wireBytes} bytes)`);
});

t.test('close waits for calls in flight within the deadline; abort cancels', async (t) => {
  const server = await startVectorServer();
  t.teardown(() => server.close());
  server.delayMs = 300;
  const sink = await sinkFor(server);
  const sending = sink.send(batch(events(10)), never);
  await new Promise((r) => setTimeout(r, 50));
  await sink.close(5000);
  await sending;
  t.equal(server.ackedCount(), 10, 'the call in flight finished before close returned');
  t.equal((await rejection(sink.send(batch(events(1)), never))).code, 'DLB_SINK_CLOSED');
  await sink.close(10); // twice is fine

  server.delayMs = 2000;
  const s2 = await sinkFor(server);
  const ac = new AbortController();
  const p = s2.send(batch(events(10)), ac.signal);
  await new Promise((r) => setTimeout(r, 50));
  ac.abort();
  const err = await rejection(p);
  t.equal(err.retryable, true, 'aborted sends are retryable');
  const s3 = await sinkFor(server);
  const p3 = s3.send(batch(events(10)), never);
  await new Promise((r) => setTimeout(r, 50));
  await s3.close(50);
  t.equal((await rejection(p3)).retryable, true, 'close past its deadline cancels; the batch stays un-acknowledged');
  await s2.close(10);
  await new Promise((r) => setTimeout(r, 2100));
  t.equal(server.ackedCount(), 10, 'cancelled calls were not acknowledged');
});
