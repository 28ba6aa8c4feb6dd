/**
 * The `http` output against real node:http(s) servers on loopback (test/helpers/http-ndjson-server.ts),
 * TLS with certificates made by openssl, and the core's config loader for redaction.
 */
import t from 'tap';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DuoEvent } from '../../src/format/event.js';
import { ConfigReader } from '../../src/config/reader.js';
import { loadConfigText, redactedConfig } from '../../src/config/load.js';
import type { ConfigProblem } from '../../src/errors.js';
import { SinkError } from '../../src/errors.js';
import { createLogger, redact } from '../../src/obs/log.js';
import { parseHttpSinkConfig, type HttpSinkConfig } from '../../src/sinks/http/config.js';
import { HttpSink, retryAfterMs } from '../../src/sinks/http/sink.js';
import { httpSink } from '../../src/sinks/http/index.js';
import { SINKS } from '../../src/sinks/registry.js';
import { startHttpServer } from '../helpers/http-ndjson-server.js';
import { makeTestCerts } from '../helpers/certs.js';
import { rejected } from '../helpers/rejected.js';

function parse(output: Record<string, unknown>): { cfg: HttpSinkConfig; problems: ConfigProblem[] } {
  const source = { problems: [] as ConfigProblem[] };
  const r = ConfigReader.root(output, source);
  const cfg = parseHttpSinkConfig(r);
  r.raw('type');
  r.finish();
  return { cfg, problems: source.problems };
}

const log = createLogger({ write: () => {} });
const never = new AbortController().signal;

function events(n: number, logType = 'authentication'): DuoEvent[] {
  return Array.from({ length: n }, (_, i) => new DuoEvent(logType, 1_700_000_000_000_000 + i, `tx${i}`, { txid: `tx${i}`, result: 'success', n: i, user: { name: `üser${i}` } }));
}
const batch = (evs: DuoEvent[]) => ({ logType: evs[0]!.logType, account: 'api-test.duosecurity.com', events: evs });

async function sinkFor(output: Record<string, unknown>): Promise<HttpSink> {
  const { cfg, problems } = parse(output);
  t.same(problems, [], 'config is valid');
  const sink = new HttpSink(cfg, { log });
  await sink.start();
  return sink;
}

const rejection = (p: Promise<unknown>): Promise<SinkError> => rejected(p, SinkError);

t.test('config: defaults and problems, each naming its key', async (t) => {
  const ok = parse({ url: 'http://127.0.0.1:8080/duo' });
  t.same(ok.problems, []);
  t.match(ok.cfg, { url: 'http://127.0.0.1:8080/duo', compression: 'none', timeoutSecs: 60, batchMaxBytes: 10_000_000, headers: [] });
  const bad = parse({
    url: 'ftp://x/',
    compression: 'zstd',
    batch_max_bytes: 10,
    headers: { 'Bad Header': 'x', 'Content-Length': '3', 'X-Ok': 'a\nb' },
    auth: { strategy: 'basic', token: 'abc' },
    tls: { ca_file: '/x' },
    extra: true,
  }).problems.map((p) => `${p.key}: ${p.message}`);
  t.match(bad, [
    /^url: must start with http:\/\/ or https:\/\//,
    /^compression: must be one of none, gzip/,
    /^batch_max_bytes: must be between 1024 and/,
    /^headers.Bad Header: is not a valid HTTP header name/,
    /^headers.Content-Length: is set by the bridge itself/,
    /^headers.X-Ok: must not contain line breaks/,
    /^auth.user: is required for strategy basic/,
    /^auth.password: give exactly one of password or password_file/,
    /^auth.token: is only for strategy bearer/,
    /^tls: is only used with an https:\/\/ url/,
    /^extra: is not a known setting/,
  ]);
  t.match(parse({ url: 'https://u:p@host/' }).problems, [{ key: 'url', message: /put credentials under output.auth/ }]);
  t.match(parse({ url: 'http://h/', auth: { strategy: 'bearer' } }).problems, [{ key: 'auth.token', message: /exactly one of token or token_file/ }]);
  t.match(parse({ url: 'http://h/', auth: { strategy: 'bearer', token: 'zz-top-secret-1' }, headers: { Authorization: 'x' } }).problems, [{ key: 'headers.Authorization', message: /conflicts with output.auth/ }]);
  t.equal(SINKS.http, httpSink, 'registered as output.type http');
});

t.test('secrets: registered for redaction and hidden by check-config', async (t) => {
  const text = `
credentials: {integration_key: DIXXXXXXXXXXXXXXXXXX, secret_key: abcdefabcdefabcdefabcdefabcdefabcdefabcd, hostname: api-test.duosecurity.com}
checkpoint_dir: /tmp/x
output:
  type: http
  url: https://vector.example:8080/
  headers: {X-Api-Key: key-canary-7781, X-Source: duo}
  auth: {strategy: basic, user: duo, password: pw-canary-5512}
`;
  const cfg = loadConfigText(text, 'c.yaml');
  const printed = JSON.stringify(redactedConfig(cfg));
  t.notMatch(printed, /pw-canary-5512/, 'password not printed');
  t.notMatch(printed, /key-canary-7781/, 'secret header not printed');
  t.match(printed, /X-Source/);
  t.equal(redact('x pw-canary-5512 y key-canary-7781'), 'x [REDACTED] y [REDACTED]', 'both registered with the logger');
});

t.test('a batch is one NDJSON POST; 2xx commits', async (t) => {
  const server = await startHttpServer({ path: '/duo' });
  t.teardown(() => server.close());
  const sink = await sinkFor({ url: server.url, headers: { 'X-Source': 'duo' } });
  t.teardown(() => sink.close(100));
  const evs = events(2500);
  await sink.send(batch(evs), never);
  t.equal(server.requests.length, 1);
  const r = server.requests[0]!;
  t.same(r.lines, evs.map((e) => e.json), 'body is event.json + newline per event, in order');
  t.equal(r.headers['content-type'], 'application/x-ndjson');
  t.equal(r.headers['x-source'], 'duo');
  t.equal(r.headers['content-encoding'], undefined);
  t.equal(r.path, '/duo');
});

t.test('batch_max_bytes splits a batch into several requests, in order', async (t) => {
  const server = await startHttpServer();
  t.teardown(() => server.close());
  const sink = await sinkFor({ url: server.url, batch_max_bytes: 4096 });
  t.teardown(() => sink.close(100));
  const evs = events(300);
  await sink.send(batch(evs), never);
  t.ok(server.requests.length > 5, `${server.requests.length} requests`);
  t.ok(server.requests.every((r) => r.bodyBytes <= 4096), 'each body within the limit');
  t.same(server.acked(), evs.map((e) => e.json));
  // A later request failing fails the batch; earlier ones stay delivered (resend = duplicates, no loss).
  const before = server.requests.length;
  let seen = 0;
  server.onRequest = () => {
    if (++seen === 3) server.failNext(1, 503);
  };
  const err = await rejection(sink.send(batch(evs), never));
  t.equal(err.retryable, true);
  t.equal(server.requests.length - before, 3, 'stops at the failed request');
});

t.test('gzip: Content-Encoding gzip, body compressed', async (t) => {
  const server = await startHttpServer();
  t.teardown(() => server.close());
  const sink = await sinkFor({ url: server.url, compression: 'gzip' });
  t.teardown(() => sink.close(100));
  const evs = events(1000);
  await sink.send(batch(evs), never);
  const r = server.requests[0]!;
  t.equal(r.headers['content-encoding'], 'gzip');
  t.same(r.lines, evs.map((e) => e.json));
  const plain = Buffer.byteLength(evs.map((e) => e.json + '\n').join(''));
  t.ok(r.bodyBytes * 4 < plain, `compressed ${r.bodyBytes} vs ${plain} bytes`);
});

t.test('statuses: 5xx/408/429 retry, other 4xx and 3xx stop with status and a short redacted excerpt', async (t) => {
  const server = await startHttpServer();
  t.teardown(() => server.close());
  const sink = await sinkFor({ url: `${server.url}?token=q-canary-3321`, auth: { strategy: 'basic', user: 'duo', password: 'pw-canary-9917' } });
  t.teardown(() => sink.close(100));
  const cases: [number, string, boolean][] = [
    [500, 'DLB_SINK_HTTP_UNAVAILABLE', true],
    [502, 'DLB_SINK_HTTP_UNAVAILABLE', true],
    [408, 'DLB_SINK_HTTP_UNAVAILABLE', true],
    [429, 'DLB_SINK_HTTP_UNAVAILABLE', true],
    [400, 'DLB_SINK_HTTP_REFUSED', false],
    [401, 'DLB_SINK_HTTP_REFUSED', false],
    [404, 'DLB_SINK_HTTP_REFUSED', false],
    [413, 'DLB_SINK_HTTP_REFUSED', false],
    [302, 'DLB_SINK_HTTP_REDIRECT', false],
  ];
  for (const [status, code, retryable] of cases) {
    server.failNext(1, status, `status ${status} body`);
    const err = await rejection(sink.send(batch(events(5)), never));
    t.equal(err.code, code, `${status} -> ${code}`);
    t.equal(err.retryable, retryable, `${status} retryable=${retryable}`);
    t.match(err.message, new RegExp(`answered ${status}`));
  }
  server.failNext(1, 400, `Rejected: pw-canary-9917 ${'z'.repeat(500)}\n\u0001end`);
  const err = await rejection(sink.send(batch(events(5)), never));
  t.match(err.message, /^HTTP output http:\/\/127\.0\.0\.1:\d+\/: POST of 5 events answered 400 Bad Request: "Rejected: \[REDACTED\] z+…"/);
  t.match(err.message, /sink behind it rejected the events/);
  t.notMatch(err.message, /pw-canary-9917|q-canary-3321|token=/, 'no credentials, no query string');
  t.ok(err.message.length < 600, 'excerpt is short');
  server.failNext(1, 503, 'busy', { 'retry-after': '7' });
  t.equal((await rejection(sink.send(batch(events(1)), never))).retryAfterMs, 7000, 'Retry-After is passed on');
  t.equal(retryAfterMs(new Date(Date.now() + 30_000).toUTCString())! > 20_000, true, 'Retry-After as a date');
  t.equal(server.ackedCount(), 0);
  await sink.send(batch(events(5)), never);
  t.equal(server.ackedCount(), 5);
});

t.test('network errors, resets and timeouts are retryable; the server coming back delivers', async (t) => {
  const server = await startHttpServer();
  t.teardown(() => server.close());
  const sink = await sinkFor({ url: server.url, timeout_secs: 0.3 });
  t.teardown(() => sink.close(100));
  await server.stop();
  const refused = await rejection(sink.send(batch(events(5)), never));
  t.match(refused, { code: 'DLB_SINK_HTTP_NETWORK', retryable: true });
  t.match(refused.message, /ECONNREFUSED; will retry/);
  await server.restart();
  server.resetNext(1);
  t.match(await rejection(sink.send(batch(events(5)), never)), { code: 'DLB_SINK_HTTP_NETWORK', retryable: true });
  server.delayMs = 1500;
  t.match(await rejection(sink.send(batch(events(5)), never)), { code: 'DLB_SINK_HTTP_TIMEOUT', retryable: true });
  server.delayMs = 0;
  server.unavailableFor(60_000);
  t.match(await rejection(sink.send(batch(events(5)), never)), { code: 'DLB_SINK_HTTP_UNAVAILABLE', retryable: true });
  server.unavailableFor(0);
  await sink.send(batch(events(5)), never);
  t.equal(server.ackedCount(), 5, 'only the final request was acknowledged');
});

t.test('auth: basic from a password file, bearer token; wrong credentials stop without leaking them', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'dlb-http-auth-'));
  writeFileSync(join(dir, 'pw'), 'file-pw-canary-4410\n');
  const server = await startHttpServer();
  t.teardown(() => server.close());
  server.auth = `Basic ${Buffer.from('duo:file-pw-canary-4410').toString('base64')}`;
  const basic = await sinkFor({ url: server.url, auth: { strategy: 'basic', user: 'duo', password_file: join(dir, 'pw') } });
  await basic.send(batch(events(3)), never);
  await basic.close(100);
  t.equal(server.ackedCount(), 3, 'basic auth from a file (trailing newline dropped)');
  t.equal(redact('file-pw-canary-4410'), '[REDACTED]', 'a password read from a file is registered too');

  server.auth = 'Bearer tok-canary-6620';
  const bearer = await sinkFor({ url: server.url, auth: { strategy: 'bearer', token: 'tok-canary-6620' } });
  await bearer.send(batch(events(2)), never);
  await bearer.close(100);
  t.equal(server.ackedCount(), 5);

  const wrong = await sinkFor({ url: server.url, auth: { strategy: 'bearer', token: 'tok-wrong-canary-1' } });
  const err = await rejection(wrong.send(batch(events(2)), never));
  await wrong.close(100);
  t.match(err, { code: 'DLB_SINK_HTTP_REFUSED', retryable: false });
  t.match(err.message, /answered 401 Unauthorized: "Unauthorized: bad or missing credentials" \(check output.auth\)/);
  t.notMatch(err.message, /canary/);

  const missing = new HttpSink(parse({ url: server.url, auth: { strategy: 'bearer', token_file: join(dir, 'nope') } }).cfg, { log });
  const e2 = await rejection(missing.start());
  t.match(e2.message, /output\.auth\.token_file: cannot read .*nope \(ENOENT\)/);
});

t.test('TLS: CA, client certificate, wrong CA stops (not retried), verify: false', async (t) => {
  const c = makeTestCerts(mkdtempSync(join(tmpdir(), 'dlb-http-tls-')));
  const server = await startHttpServer({ tls: { cert: readFileSync(c.serverCert), key: readFileSync(c.serverKey), clientCa: readFileSync(c.caCert) } });
  t.teardown(() => server.close());
  t.match(server.url, /^https:/);
  const good = await sinkFor({ url: server.url, tls: { ca_file: c.caCert, cert_file: c.clientCert, key_file: c.clientKey } });
  await good.send(batch(events(4)), never);
  await good.close(100);
  t.equal(server.ackedCount(), 4, 'delivered over mutual TLS');

  const wrongCa = await sinkFor({ url: server.url, tls: { ca_file: c.otherCaCert, cert_file: c.clientCert, key_file: c.clientKey } });
  const err = await rejection(wrongCa.send(batch(events(4)), never));
  await wrongCa.close(100);
  t.match(err, { code: 'DLB_SINK_HTTP_TLS', retryable: false });
  t.match(err.message, /certificate was not accepted \((UNABLE_TO_VERIFY_LEAF_SIGNATURE|UNABLE_TO_GET_ISSUER_CERT_LOCALLY|SELF_SIGNED_CERT_IN_CHAIN)\); check output\.tls/);

  const noClientCert = await sinkFor({ url: server.url, tls: { ca_file: c.caCert } });
  const e2 = await rejection(noClientCert.send(batch(events(4)), never));
  await noClientCert.close(100);
  t.equal(e2.code, 'DLB_SINK_HTTP_NETWORK', 'the server dropping the handshake is a network error (retried)');

  const lax = await sinkFor({ url: server.url, tls: { ca_file: c.otherCaCert, cert_file: c.clientCert, key_file: c.clientKey, verify: false } });
  await lax.send(batch(events(1)), never);
  await lax.close(100);
  t.equal(server.ackedCount(), 5, 'verify: false accepts the unknown CA');
});

t.test('close waits for the request in flight; abort is retryable', async (t) => {
  const server = await startHttpServer();
  t.teardown(() => server.close());
  server.delayMs = 300;
  const sink = await sinkFor({ url: server.url });
  const p = sink.send(batch(events(10)), never);
  await new Promise((r) => setTimeout(r, 50));
  await sink.close(5000);
  await p;
  t.equal(server.ackedCount(), 10);
  t.match(await rejection(sink.send(batch(events(1)), never)), { code: 'DLB_SINK_CLOSED' });

  const s2 = await sinkFor({ url: server.url });
  const ac = new AbortController();
  const p2 = s2.send(batch(events(10)), ac.signal);
  await new Promise((r) => setTimeout(r, 50));
  ac.abort();
  t.match(await rejection(p2), { code: 'DLB_SINK_ABORTED', retryable: true });
  await s2.close(100);
});
