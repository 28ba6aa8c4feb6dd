// /metrics, /healthz and /readyz scraped from the real CLI while it backfills from the simulator
// with injected faults; every number is checked against what the run produced (the simulator's
// own request counts, the NDJSON lines on stdout, the checkpoint files).
import t from 'tap';
import { mkdtempSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startSimulator } from '../../src/sim/server.js';
import { parseMetrics, renderMetrics, readiness, watchSink } from '../../src/obs/metrics.js';
import { newLogStats } from '../../src/pipeline/stats.js';
import { byLog, logLines, spawnBridge, writeConfig } from '../helpers/bridge.js';

const LOGS = ['authentication', 'administrator', 'telephony'] as const;
const PATH = { authentication: '/admin/v2/logs/authentication', administrator: '/admin/v1/logs/administrator', telephony: '/admin/v2/logs/telephony' };
const tmp = () => mkdtempSync(path.join(os.tmpdir(), 'dlb-metrics-'));

async function waitFor<T>(what: string, fn: () => Promise<T | undefined> | T | undefined, tries = 600): Promise<T> {
  for (let i = 0; i < tries; i++) {
    const v = await fn();
    if (v !== undefined) return v;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out waiting for ${what}`);
}

function portOf(stderr: () => string): Promise<number> {
  return waitFor('the metrics endpoint', () => {
    const l = logLines(stderr()).find((x) => x.msg === 'Metrics and health endpoint listening.');
    return l ? Number(l.port) : undefined;
  });
}

async function get(port: number, p: string): Promise<{ status: number; text: string; type: string | null }> {
  const r = await fetch(`http://127.0.0.1:${port}${p}`);
  return { status: r.status, text: await r.text(), type: r.headers.get('content-type') };
}

t.test('metrics during a real backfill match the run: delivered = lines written, requests by status = what the simulator served', async (t) => {
  const sim = await startSimulator({ events: { authentication: 4000, administrator: 3000, telephony: 2500 } });
  t.teardown(() => sim.close());
  sim.injectFaults(['429', '429', '500', 'truncated', 'html', '429'], PATH.authentication);
  sim.injectFaults(['429', '503'], PATH.telephony);
  const dir = tmp();
  // A long poll interval: after the first drain the bridge sleeps, so the counts stop moving.
  const config = writeConfig(dir, sim, { poll_interval_secs: 3600 });
  let stderr = '';
  const child = spawnBridge(['run', '--config', config, '--metrics-port', '0']);
  child.stderr!.on('data', (d: string) => (stderr += d));
  t.teardown(() => child.kill('SIGKILL'));
  const port = await portOf(() => stderr);

  const health = await get(port, '/healthz');
  t.equal(health.status, 200, '/healthz answers while the bridge runs');
  t.equal(health.text, 'ok\n');

  // Caught up: every log's last progress line set its estimate to 0.
  const m = await waitFor('every log to catch up', async () => {
    const text = (await get(port, '/metrics')).text;
    const mm = parseMetrics(text);
    return LOGS.every((log) => mm.get(`duo_log_bridge_catch_up_eta_seconds{log="${log}",account="127.0.0.1"}`) === 0) ? { mm, text } : undefined;
  });
  const mm = m.mm;
  t.match(m.text, /^# HELP duo_log_bridge_delivered_events_total /m, 'HELP and TYPE lines');
  t.match(m.text, /^# TYPE duo_log_bridge_delivered_events_total counter$/m);
  for (const line of m.text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    t.match(line, /^duo_log_bridge_[a-z_]+(\{[a-z_]+="[^"]*"(,[a-z_]+="[^"]*")*\})? -?[0-9.e+]+$/, `well-formed sample: ${line}`);
    for (const label of line.matchAll(/([a-z_]+)="/g)) t.ok(['log', 'account', 'endpoint', 'status', 'sink'].includes(label[1]!), `label ${label[1]} is from the fixed set`);
  }

  const ready = await get(port, '/readyz');
  t.equal(ready.status, 200, '/readyz: credentials accepted and the output reachable');
  t.same(JSON.parse(ready.text), { ready: true, reasons: [] });
  t.equal(mm.get('duo_log_bridge_ready'), 1);
  t.equal(mm.get('duo_log_bridge_sink_up{sink="stdout"}'), 1);

  // The simulator's view of the requests, read while the bridge sleeps.
  for (const log of LOGS) {
    const served = sim.counts[PATH[log]] ?? {};
    const seen: Record<string, number> = {};
    for (const [k, v] of mm) {
      const x = new RegExp(`^duo_log_bridge_api_requests_total\\{log="${log}",endpoint="${PATH[log].replace(/\//g, '\\/')}",status="(\\d+)"\\}$`).exec(k);
      if (x) seen[x[1]!] = v;
    }
    t.same(seen, Object.fromEntries(Object.entries(served).map(([s, n]) => [s, n])), `${log}: requests by status = what the simulator served ${JSON.stringify(served)}`);
    t.equal(mm.get(`duo_log_bridge_api_rate_limited_requests_total{log="${log}",endpoint="${PATH[log]}"}`), served[429] ?? 0, `${log}: 429s counted apart`);
    const failures = Object.entries(served).filter(([s]) => s !== '200').reduce((a, [, n]) => a + n, 0);
    const badBodies = log === 'authentication' ? 2 : 0; // truncated and html came with a 200 status
    t.equal(mm.get(`duo_log_bridge_api_retries_total{log="${log}",endpoint="${PATH[log]}"}`), failures + badBodies, `${log}: every failed request was retried`);
    t.equal(mm.get(`duo_log_bridge_in_flight_events{log="${log}",account="127.0.0.1"}`), 0, `${log}: nothing in flight when caught up`);
    t.ok(mm.has(`duo_log_bridge_checkpoint_age_seconds{log="${log}",account="127.0.0.1"}`), `${log}: checkpoint age reported`);
    const cp = JSON.parse(readFileSync(path.join(dir, 'state', `127.0.0.1.${log}.json`), 'utf8'));
    const posMs = cp.unit === 's' ? cp.position.time * 1000 : cp.position.time;
    const lag = mm.get(`duo_log_bridge_lag_seconds{log="${log}",account="127.0.0.1"}`)!;
    const expectLag = (Date.now() - posMs) / 1000;
    t.ok(lag <= expectLag && lag > expectLag - 120, `${log}: lag ${lag}s is measured from the checkpoint position (${expectLag.toFixed(0)}s now)`);
  }
  t.equal(sim.counts[PATH.authentication]![429], 3, 'the three injected 429s reached the bridge');

  const deliveredBefore = Object.fromEntries(LOGS.map((log) => [log, mm.get(`duo_log_bridge_delivered_events_total{log="${log}",account="127.0.0.1"}`)]));
  const fetched = Object.fromEntries(LOGS.map((log) => [log, mm.get(`duo_log_bridge_fetched_events_total{log="${log}",account="127.0.0.1"}`)!]));
  child.kill('SIGTERM');
  const r = await child.result;
  t.equal(r.code, 0);
  const out = byLog(r.stdout);
  for (const log of LOGS) {
    const expected = sim.expectedLines(log);
    t.equal(deliveredBefore[log], expected.length, `${log}: delivered_events_total = ${expected.length} expected lines`);
    t.equal(out[log]?.length, expected.length, `${log}: and = the lines on stdout`);
    t.ok(fetched[log]! >= expected.length, `${log}: fetched (${fetched[log]}) >= delivered`);
  }
  await t.rejects(fetch(`http://127.0.0.1:${port}/metrics`), 'the endpoint closes with the bridge');
});

t.test('/readyz is 503 while Duo refuses the credentials, and the 401s are counted', async (t) => {
  const sim = await startSimulator({ events: { authentication: 100, administrator: 100, telephony: 100 } });
  t.teardown(() => sim.close());
  const dir = tmp();
  const config = writeConfig(dir, { ...sim, skey: 'x'.repeat(40) }, { services: { authentication: {} } });
  let stderr = '';
  const child = spawnBridge(['run', '--config', config, '--metrics-port', '0']);
  child.stderr!.on('data', (d: string) => (stderr += d));
  t.teardown(() => child.kill('SIGKILL'));
  const port = await portOf(() => stderr);
  await waitFor('the refusal', () => (/Duo refused this log/.test(stderr) ? true : undefined));
  const ready = await get(port, '/readyz');
  t.equal(ready.status, 503);
  t.match(JSON.parse(ready.text).reasons.join(' '), /credentials not confirmed/);
  const mm = parseMetrics((await get(port, '/metrics')).text);
  t.equal(mm.get(`duo_log_bridge_api_requests_total{log="authentication",endpoint="${PATH.authentication}",status="401"}`), sim.counts[PATH.authentication]![401]);
  t.ok(sim.counts[PATH.authentication]![401]! >= 1);
  t.equal(mm.get('duo_log_bridge_ready'), 0);
  t.equal((await get(port, '/nope')).status, 404);
  t.equal((await fetch(`http://127.0.0.1:${port}/metrics`, { method: 'POST' })).status, 405);
  child.kill('SIGTERM');
  t.equal((await child.result).code, 0);
});

t.test('/readyz is 503 while the output is not reachable (Vector down); Duo already accepted', async (t) => {
  const sim = await startSimulator({ events: { authentication: 100, administrator: 100, telephony: 100 } });
  t.teardown(() => sim.close());
  const net = await import('node:net');
  const closed = net.createServer().listen(0, '127.0.0.1');
  await new Promise((r) => closed.once('listening', r));
  const deadPort = (closed.address() as { port: number }).port;
  await new Promise((r) => closed.close(r)); // nothing listens there now
  const config = writeConfig(tmp(), sim, { output: { type: 'vector', address: `127.0.0.1:${deadPort}` } });
  let stderr = '';
  const child = spawnBridge(['run', '--config', config, '--metrics-port', '0']);
  child.stderr!.on('data', (d: string) => (stderr += d));
  t.teardown(() => child.kill('SIGKILL'));
  const port = await portOf(() => stderr);
  const ready = await get(port, '/readyz');
  t.equal(ready.status, 503);
  t.match(JSON.parse(ready.text).reasons.join(' | '), /the vector output has not started \(destination not reachable yet\)/);
  const mm = parseMetrics((await get(port, '/metrics')).text);
  t.equal(mm.get('duo_log_bridge_sink_up{sink="vector"}'), 0);
  t.equal(mm.get('duo_log_bridge_ready'), 0);
  t.equal((await get(port, '/healthz')).status, 200, 'alive all the same');
  child.kill('SIGTERM');
  await child.result;
});

t.test('the endpoint listens on loopback by default; a port in use is a clear exit 1', async (t) => {
  const sim = await startSimulator({ events: { authentication: 10, administrator: 10, telephony: 10 } });
  t.teardown(() => sim.close());
  const net = await import('node:net');
  const busy = net.createServer().listen(0, '127.0.0.1');
  await new Promise((r) => busy.once('listening', r));
  t.teardown(() => busy.close());
  const busyPort = (busy.address() as { port: number }).port;
  const dir = tmp();
  const config = writeConfig(dir, sim, { metrics: { port: busyPort } });
  const r = await spawnBridge(['run', '--config', config, '--once']).result;
  t.equal(r.code, 1);
  t.match(r.stderr, new RegExp(`cannot serve metrics on 127\\.0\\.0\\.1:${busyPort}: EADDRINUSE`));
});

t.test('renderMetrics and readiness on hand-made stats', async (t) => {
  const s = newLogStats('telephony', 'api-x.duosecurity.com');
  s.responses = { '200': 3, '429': 2 };
  s.rateLimited = 2;
  s.eventsDelivered = 10;
  s.position = { time: 1_000_000, ids: [] }; // telephony positions are in ms
  s.checkpointAt = 1_500_000;
  const inner = { type: 'x', start: async () => {}, send: async () => { throw Object.assign(new Error('no'), { code: 'DLB_SINK_REJECTED', retryable: false }); }, close: async () => {}, reconnects: 4 };
  const { sink, health } = watchSink(inner);
  t.same(readiness([s], health).ready, false);
  await sink.start();
  t.same(readiness([s], health).reasons, ['no Duo request has succeeded yet (credentials not confirmed)']);
  s.okRequests = 1;
  t.same(readiness([s], health), { ready: true, reasons: [] });
  await t.rejects(sink.send({ logType: 'telephony', account: 'a', events: [] }, new AbortController().signal));
  t.equal(readiness([s], health).ready, false, 'a non-retryable output error makes it unready');
  const mm = parseMetrics(renderMetrics({ stats: [s], sink: health, now: 2_000_000 }));
  t.equal(mm.get('duo_log_bridge_lag_seconds{log="telephony",account="api-x.duosecurity.com"}'), 1000);
  t.equal(mm.get('duo_log_bridge_checkpoint_age_seconds{log="telephony",account="api-x.duosecurity.com"}'), 500);
  t.equal(mm.get('duo_log_bridge_api_requests_total{log="telephony",endpoint="/admin/v2/logs/telephony",status="429"}'), 2);
  t.equal(mm.get('duo_log_bridge_sink_reconnects_total{sink="x"}'), 4, 'a sink that reports reconnects has them exported');
  t.equal(mm.get('duo_log_bridge_sink_up{sink="x"}'), 0);
});
