/**
 * End to end through the CLI: the real bridge process (`output.type: http`) backfills 10,000
 * events per log from the Duo simulator into the HTTP test server (Vector `http_server` with
 * acknowledgements), which fails midway (500 = Vector Errored, 503 + Retry-After, 429, a reset
 * connection, a real outage of the port, answers slower than timeout_secs), and the bridge is
 * SIGKILLed once and restarted. Proven: every line acknowledged at least once and byte-identical
 * to the expected NDJSON, no checkpoint ever ahead of an acknowledged request (checked while it
 * runs). Then a 400 (Vector Rejected): exit 1, loudly, checkpoint before the batch; a rerun completes.
 */
import t from 'tap';
import { mkdtempSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startSimulator } from '../../src/sim/server.js';
import { logLines, runBridge, spawnBridge, writeConfig } from '../helpers/bridge.js';
import { startHttpServer, type HttpTestServer } from '../helpers/http-ndjson-server.js';
import { AckLedger, killWhenAcked } from '../helpers/vector-grpc-server.js';

const LOGS = ['authentication', 'administrator', 'telephony'] as const;

function ingester(server: HttpTestServer, ledger: AckLedger): () => void {
  let done = 0;
  return () => {
    for (; done < server.requests.length; done++) {
      const r = server.requests[done]!;
      if (r.status < 200 || r.status >= 300) continue;
      for (const line of r.lines) ledger.add((JSON.parse(line) as { eventtype: string }).eventtype, line);
    }
  };
}

function logOf(r: { lines: string[] }): string | undefined {
  return r.lines.length ? (JSON.parse(r.lines[0]!) as { eventtype: string }).eventtype : undefined;
}

t.test('HTTP backfill, 10,000 events per log, failures midway and a SIGKILL: nothing lost, checkpoint never ahead of a 2xx', async (t) => {
  const N = 10_000;
  const sim = await startSimulator({ events: { authentication: N, administrator: N, telephony: N }, seed: 21 });
  t.teardown(() => sim.close());
  const server = await startHttpServer({ path: '/duo' });
  t.teardown(() => server.close());
  server.auth = 'Bearer e2e-token-canary-5150';
  const dir = mkdtempSync(path.join(os.tmpdir(), 'dlb-e2e-http-'));
  const config = writeConfig(dir, sim, {
    output: { type: 'http', url: server.url, compression: 'gzip', timeout_secs: 1, batch_max_bytes: 200_000, auth: { strategy: 'bearer', token: 'e2e-token-canary-5150' } },
  });
  const expected = Object.fromEntries(LOGS.map((l) => [l, sim.expectedLines(l)]));
  const total = LOGS.reduce((n, l) => n + expected[l]!.length, 0);
  const ledger = new AckLedger(expected, path.join(dir, 'state'));
  const ingest = ingester(server, ledger);

  server.delayMs = 10;
  let reqs = 0;
  server.onRequest = () => {
    reqs++;
    if (reqs === 5) server.failNext(3, 500, 'Delivery error');
    if (reqs === 10) server.failNext(1, 503, 'busy', { 'retry-after': '0.2' });
    if (reqs === 13) server.failNext(1, 429, 'slow down');
    if (reqs === 16) server.resetNext(1);
    if (reqs === 20) {
      setImmediate(async () => {
        await server.stop();
        setTimeout(() => void server.restart(), 700);
      });
    }
    if (reqs === 28) {
      server.delayMs = 1500; // beyond timeout_secs
      setTimeout(() => (server.delayMs = 10), 1200);
    }
  };

  const child = spawnBridge(['run', '--config', config, '--once']);
  const stopWatching = killWhenAcked(child, ledger, ingest, total);
  t.teardown(stopWatching);
  const r1 = await child.result;
  t.equal(r1.signal, 'SIGKILL', 'run 1 was SIGKILLed midway', { stderr: r1.stderr.slice(-1500) });
  t.ok(reqs > 28, `the failures were injected during run 1 (${reqs} requests)`);

  const r2 = await runBridge(['run', '--config', config, '--once']);
  t.equal(r2.code, 0, 'run 2 drains and exits 0');
  stopWatching();
  ingest();
  ledger.check();

  const statuses = new Set(server.requests.map((r) => r.status));
  for (const s of [200, 500, 503, 429, 0]) t.ok(statuses.has(s), `the server answered ${s === 0 ? 'with a reset' : s}`);
  const codes = new Set(logLines(r1.stderr + r2.stderr).filter((l) => l.msg === 'The sink did not take the batch; resending it.').map((l) => l.error_code));
  for (const c of ['DLB_SINK_HTTP_UNAVAILABLE', 'DLB_SINK_HTTP_NETWORK', 'DLB_SINK_HTTP_TIMEOUT']) t.ok(codes.has(c), `the bridge retried after ${c}`);
  t.notMatch(r1.stderr + r2.stderr, /e2e-token-canary-5150/, 'the token never reaches the logs');
  t.ok(server.requests.every((r) => r.headers['content-encoding'] === 'gzip' && r.headers['content-type'] === 'application/x-ndjson'), 'gzip NDJSON');

  t.same(ledger.violations, [], 'no checkpoint was ever ahead of an acknowledged request');
  t.ok(ledger.checkpointsSeen >= 20, `${ledger.checkpointsSeen} checkpoints observed and checked while running`);
  for (const log of LOGS) {
    t.ok(expected[log]!.length >= N - 1, `${log}: ${expected[log]!.length} events served`);
    t.equal(ledger.missing(log), 0, `${log}: nothing lost`);
    t.equal(ledger.unexpected(log), 0, `${log}: every acknowledged line is byte-identical to an expected one`);
    const failed = server.requests.filter((r) => (r.status < 200 || r.status >= 300) && logOf(r) === log).length;
    const dup = ledger.total(log) - expected[log]!.length;
    t.ok(dup >= 0 && dup <= 1000 * (failed + 2), `${log}: ${dup} duplicates, within ${failed} failed requests' pages + 2 pages at the kill`);
    const cp = JSON.parse(readFileSync(path.join(dir, 'state', `127.0.0.1.${log}.json`), 'utf8'));
    t.equal(cp.events_delivered, expected[log]!.length, `${log}: final checkpoint covers every event`);
  }
});

t.test('400 (Vector rejected the events): exit 1 with status and excerpt, checkpoint before the batch, a rerun completes', async (t) => {
  const N = 3000;
  const sim = await startSimulator({ events: { authentication: N, administrator: N, telephony: N }, seed: 22 });
  t.teardown(() => sim.close());
  const server = await startHttpServer();
  t.teardown(() => server.close());
  const dir = mkdtempSync(path.join(os.tmpdir(), 'dlb-e2e-http-400-'));
  const config = writeConfig(dir, sim, { output: { type: 'http', url: server.url } });
  const expected = Object.fromEntries(LOGS.map((l) => [l, sim.expectedLines(l)]));
  const ledger = new AckLedger(expected, path.join(dir, 'state'));
  const ingest = ingester(server, ledger);
  let reqs = 0;
  server.onRequest = () => {
    if (++reqs === 4) server.failNext(1, 400, 'Rejected by sink "siem"');
  };
  const watch = setInterval(() => {
    ingest();
    ledger.check();
  }, 5);
  t.teardown(() => clearInterval(watch));
  const r1 = await runBridge(['run', '--config', config, '--once']);
  t.equal(r1.code, 1, 'exit 1: retrying cannot help');
  t.ok(
    logLines(r1.stderr).some((l) => l.level === 'error' && l.error_code === 'DLB_SINK_HTTP_REFUSED' && /answered 400 Bad Request: "Rejected by sink "siem""/.test(String((l.error as { message?: string })?.message))),
    'the error names the status and quotes the body',
  );
  ingest();
  ledger.check();
  t.ok(LOGS.some((l) => ledger.missing(l) > 0), 'the stop left something undelivered');
  const r2 = await runBridge(['run', '--config', config, '--once']);
  t.equal(r2.code, 0);
  clearInterval(watch);
  ingest();
  ledger.check();
  t.same(ledger.violations, [], 'no checkpoint ahead of a 2xx, the rejected request included');
  for (const log of LOGS) t.equal(ledger.missing(log), 0, `${log}: nothing lost after the rerun`);
});
