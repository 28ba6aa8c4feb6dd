// The signed client against the simulator over real HTTP and TLS sockets: signatures,
// Duo's error codes turned into actionable typed errors, timeouts, proxy, CA handling.
import t from 'tap';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { mkdtempSync, readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { DuoClient, parseEndpoint } from '../../src/duo/client.js';
import { DuoApiError } from '../../src/errors.js';
import { startSimulator } from '../../src/sim/server.js';
import { makeTestCerts } from '../helpers/certs.js';
import { rejected } from '../helpers/rejected.js';

const UA = 'duo-log-bridge/test';
const now = () => Date.now();
const authParams = () => ({ mintime: String(now() - 3_600_000 * 7), maxtime: String(now() - 120_000), limit: '1000', sort: 'ts:asc' });

const failure = (p: Promise<unknown>): Promise<DuoApiError> => rejected(p, DuoApiError);

t.test('endpoint parsing: ports, schemes, and no plain http off loopback', async (t) => {
  t.same(parseEndpoint('api-XXXX.duosecurity.com'), { scheme: 'https', signHost: 'api-xxxx.duosecurity.com', host: 'api-XXXX.duosecurity.com', port: 443 });
  t.same(parseEndpoint('127.0.0.1:8443'), { scheme: 'https', signHost: '127.0.0.1', host: '127.0.0.1', port: 8443 });
  t.same(parseEndpoint('http://[::1]:9000/'), { scheme: 'http', signHost: '::1', host: '::1', port: 9000 });
  t.throws(() => parseEndpoint('http://api-x.duosecurity.com'), /loopback/);
});

t.test('v5, v2-SHA512 and v2-SHA1 signatures are all accepted; every page is the response value', async (t) => {
  const sim = await startSimulator({ events: { authentication: 50 } });
  t.teardown(() => sim.close());
  for (const [sigVersion, digest] of [[5, 'sha512'], [2, 'sha512'], [2, 'sha1']] as const) {
    const c = new DuoClient({ ikey: sim.ikey, skey: sim.skey, hostname: sim.hostname, sigVersion, digest, userAgent: UA });
    const r = (await c.get('/admin/v2/logs/authentication', authParams())) as { authlogs: unknown[] };
    t.equal(r.authlogs.length, 50, `v${sigVersion}/${digest}`);
    c.close();
  }
});

t.test("Duo's error codes become typed errors with advice, never with the secret", async (t) => {
  const sim = await startSimulator({ events: { authentication: 10 }, rateLimit: { requests: 2, windowMs: 60_000 } });
  t.teardown(() => sim.close());
  const wrongKey = 'X'.repeat(40);
  const bad = new DuoClient({ ikey: sim.ikey, skey: wrongKey, hostname: sim.hostname, userAgent: UA });
  const e1 = await failure(bad.get('/admin/v2/logs/authentication', authParams()));
  t.match(e1, { code: 'DLB_DUO_AUTH', duoCode: 40103, httpStatus: 401, isAuth: true, retryable: false });
  t.match(e1.message, /check credentials\.secret_key/);
  t.notMatch(e1.message, wrongKey);
  const unknown = new DuoClient({ ikey: 'DIXXXXXXXXXXXXXXXXXX', skey: sim.skey, hostname: sim.hostname, userAgent: UA });
  t.match(await failure(unknown.get('/admin/v2/logs/authentication', authParams())), { duoCode: 40102, message: /integration_key/ });
  const skewed = new DuoClient({ ikey: sim.ikey, skey: sim.skey, hostname: sim.hostname, userAgent: UA, now: () => Date.now() - 3_600_000 });
  t.match(await failure(skewed.get('/admin/v2/logs/authentication', authParams())), { code: 'DLB_DUO_CLOCK_SKEW', duoCode: 40105, retryable: true, message: /clock/ });

  const c = new DuoClient({ ikey: sim.ikey, skey: sim.skey, hostname: sim.hostname, userAgent: UA });
  const old = { ...authParams(), mintime: String(now() - 181 * 86_400_000) };
  t.match(await failure(c.get('/admin/v2/logs/authentication', old)), { duoCode: 40002, httpStatus: 400, retryable: false, message: /180 days/ });
  sim.injectFaults(['40301']);
  t.match(await failure(c.get('/admin/v2/logs/authentication', authParams())), { duoCode: 40301, isAuth: true, message: /Grant read log/ });
  // 2 requests in the window so far on this path reached the limiter; the next is 429.
  const e429 = await failure(c.get('/admin/v2/logs/authentication', authParams()));
  t.match(e429, { code: 'DLB_DUO_RATE_LIMITED', duoCode: 42901, httpStatus: 429, retryable: true });
  c.close();
});

t.test('garbage answers are retryable errors that say what came back', async (t) => {
  const sim = await startSimulator({ events: { authentication: 10 }, slowMs: 1500 });
  t.teardown(() => sim.close());
  const c = new DuoClient({ ikey: sim.ikey, skey: sim.skey, hostname: sim.hostname, userAgent: UA, timeoutMs: 300 });
  const cases: [Parameters<typeof sim.injectFaults>[0][0], RegExp, string][] = [
    ['truncated', /not valid JSON/, 'DLB_DUO_BAD_RESPONSE'],
    ['html', /HTML page/, 'DLB_DUO_BAD_RESPONSE'],
    ['503', /503 with an HTML page/, 'DLB_DUO_BAD_RESPONSE'],
    ['500', /50001/, 'DLB_DUO_SERVER'],
    ['reset', /ECONNRESET|socket hang up/, 'DLB_DUO_NETWORK'],
    ['slow', /no answer from Duo within/, 'DLB_DUO_TIMEOUT'],
  ];
  for (const [fault, msg, code] of cases) {
    sim.injectFaults([fault]);
    const e = await failure(c.get('/admin/v2/logs/authentication', authParams()));
    t.match(e, { code, retryable: true }, fault);
    t.match(e.message, msg, fault);
  }
  c.close();
});

t.test('the simulator hides the newest two minutes', async (t) => {
  // Events run until 5 minutes in the future; only those older than now-120s may be served.
  const sim = await startSimulator({ events: { authentication: 500 }, spanMs: 3_600_000, endAgoMs: -300_000 });
  t.teardown(() => sim.close());
  const c = new DuoClient({ ikey: sim.ikey, skey: sim.skey, hostname: sim.hostname, userAgent: UA });
  const r = (await c.get('/admin/v2/logs/authentication', { ...authParams(), maxtime: String(now()) })) as { authlogs: { isotimestamp: string }[] };
  const newest = Date.parse(r.authlogs.at(-1)!.isotimestamp);
  t.ok(r.authlogs.length > 0 && r.authlogs.length < 500, `${r.authlogs.length} of 500 visible`);
  t.ok(newest <= Date.now() - 119_000, 'nothing newer than two minutes');
  c.close();
});

t.test('TLS: a private CA via ca_file works; without it the error says how to trust it', async (t) => {
  const certs = makeTestCerts(mkdtempSync(path.join(os.tmpdir(), 'dlb-tls-')));
  const sim = await startSimulator({ events: { authentication: 20 }, tls: { cert: readFileSync(certs.serverCert), key: readFileSync(certs.serverKey) } });
  t.teardown(() => sim.close());
  t.match(sim.hostname, /^https:\/\/127\.0\.0\.1:\d+$/);
  const hostname = sim.hostname.replace('https://', '');
  const ok = new DuoClient({ ikey: sim.ikey, skey: sim.skey, hostname, caFile: certs.caCert, userAgent: UA });
  t.equal(((await ok.get('/admin/v2/logs/authentication', authParams())) as { authlogs: unknown[] }).authlogs.length, 20);
  ok.close();
  const untrusted = new DuoClient({ ikey: sim.ikey, skey: sim.skey, hostname, userAgent: UA });
  const e = await failure(untrusted.get('/admin/v2/logs/authentication', authParams()));
  t.match(e, { code: 'DLB_DUO_NETWORK', retryable: true });
  t.match(e.message, /NODE_EXTRA_CA_CERTS|ca_file/);
  const wrong = new DuoClient({ ikey: sim.ikey, skey: sim.skey, hostname, caFile: certs.otherCaCert, userAgent: UA });
  t.match(await failure(wrong.get('/admin/v2/logs/authentication', authParams())), { code: 'DLB_DUO_NETWORK' });
  untrusted.close();
  wrong.close();
});

t.test('HTTPS through an HTTP CONNECT proxy', async (t) => {
  const certs = makeTestCerts(mkdtempSync(path.join(os.tmpdir(), 'dlb-proxy-')));
  const sim = await startSimulator({ events: { authentication: 5 }, tls: { cert: readFileSync(certs.serverCert), key: readFileSync(certs.serverKey) } });
  const tunnels: string[] = [];
  const proxy = http.createServer();
  proxy.on('connect', (req, client, head) => {
    tunnels.push(req.url!);
    const [h, p] = req.url!.split(':');
    const up = net.connect(Number(p), h, () => {
      client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
      up.write(head);
      up.pipe(client);
      client.pipe(up);
    });
    up.on('error', () => client.destroy());
    client.on('error', () => up.destroy());
  });
  await new Promise<void>((r) => proxy.listen(0, '127.0.0.1', r));
  t.teardown(async () => {
    proxy.closeAllConnections();
    proxy.close();
    await sim.close();
  });
  const c = new DuoClient({
    ikey: sim.ikey,
    skey: sim.skey,
    hostname: sim.hostname.replace('https://', ''),
    caFile: certs.caCert,
    proxy: `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`,
    userAgent: UA,
  });
  t.equal(((await c.get('/admin/v2/logs/authentication', authParams())) as { authlogs: unknown[] }).authlogs.length, 5);
  t.same(tunnels, [`127.0.0.1:${sim.port}`], 'the request went through the tunnel');
  c.close();
});
