/**
 * End to end through the CLI: the real bridge process (`output.type: vector`) backfills 10,000
 * events per log from the Duo simulator into the gRPC test Vector server, which fails midway
 * (INTERNAL, UNAVAILABLE, a real outage of the port, answers slower than timeout_secs,
 * RESOURCE_EXHAUSTED), and the bridge is SIGKILLed once and restarted.
 * Proven: every event acknowledged at least once, nothing unexpected, every field and the
 * µs timestamp intact, and no checkpoint ever ahead of an acknowledged PushEvents call
 * (checked continuously while the bridge runs). Then DATA_LOSS: the bridge stops (exit 1),
 * loudly, without checkpointing the rejected batch, and a rerun completes.
 */
import t from 'tap';
import { mkdtempSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { startSimulator } from '../../src/sim/server.js';
import { logLines, runBridge, spawnBridge, writeConfig } from '../helpers/bridge.js';
import { AckLedger, killWhenAcked, startVectorServer, toJs, VectorTimestamp, type VectorTestServer } from '../helpers/vector-grpc-server.js';

const LOGS = ['authentication', 'administrator', 'telephony'] as const;

function sortKeys(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(sortKeys);
  if (v && typeof v === 'object') return Object.fromEntries(Object.keys(v).sort().map((k) => [k, sortKeys((v as Record<string, unknown>)[k])]));
  return v;
}

/** µs since the epoch from an ISO time with up to 6 fraction digits. */
function isoMicros(iso: string): number {
  const frac = (/\.(\d+)/.exec(iso)?.[1] ?? '').padEnd(6, '0').slice(0, 6);
  return Date.parse(iso.replace(/\.\d+/, '')) * 1000 + Number(frac);
}

/** Feed the server's acknowledged calls into the ledger, checking each event's fields against its NDJSON line. */
function ingester(server: VectorTestServer, ledger: AckLedger): { run(): void; fieldErrors: string[] } {
  let done = 0;
  const fieldErrors: string[] = [];
  return {
    fieldErrors,
    run() {
      for (; done < server.calls.length; done++) {
        const call = server.calls[done]!;
        if (call.answer !== 'OK') continue;
        for (const w of call.events) {
          const obj = toJs(w.log!.value) as Record<string, unknown>;
          const { message, timestamp, ...fields } = obj;
          const line = message as string;
          const rec = JSON.parse(line) as Record<string, unknown>;
          ledger.add(String(obj.eventtype), line);
          const { timestamp: duoTs, ...recRest } = rec;
          if (JSON.stringify(sortKeys(fields)) !== JSON.stringify(sortKeys(recRest))) fieldErrors.push(`fields differ: ${line.slice(0, 80)}`);
          const us = (timestamp as VectorTimestamp).micros;
          const okTime = (typeof rec.isotimestamp === 'string' && isoMicros(rec.isotimestamp) === us) || (typeof duoTs === 'number' && duoTs * 1e6 === us);
          if (!(timestamp instanceof VectorTimestamp) || !okTime) fieldErrors.push(`timestamp ${us} does not match ${line.slice(0, 120)}`);
        }
      }
    },
  };
}

t.test('gRPC backfill, 10,000 events per log, failures midway and a SIGKILL: nothing lost, checkpoint never ahead of an ack', async (t) => {
  const N = 10_000;
  const sim = await startSimulator({ events: { authentication: N, administrator: N, telephony: N }, seed: 11 });
  t.teardown(() => sim.close());
  const server = await startVectorServer();
  t.teardown(() => server.close());
  const dir = mkdtempSync(path.join(os.tmpdir(), 'dlb-e2e-vector-'));
  const config = writeConfig(dir, sim, {
    output: { type: 'vector', address: server.address, batch_size: 200, max_in_flight: 3, compression: 'gzip', timeout_secs: 1, include_message: true },
  });
  const expected = Object.fromEntries(LOGS.map((l) => [l, sim.expectedLines(l)]));
  const total = LOGS.reduce((n, l) => n + expected[l]!.length, 0);
  const ledger = new AckLedger(expected, path.join(dir, 'state'));
  const ingest = ingester(server, ledger);

  server.delayMs = 10;
  let calls = 0;
  server.onCall = () => {
    calls++;
    if (calls === 15) server.failNext(3, grpc.status.INTERNAL, 'Delivery error');
    if (calls === 30) server.unavailableFor(400);
    if (calls === 45) {
      setImmediate(async () => {
        await server.stop();
        setTimeout(() => void server.restart(), 700);
      });
    }
    if (calls === 60) {
      server.delayMs = 1500; // beyond timeout_secs: DEADLINE_EXCEEDED
      setTimeout(() => (server.delayMs = 10), 1200);
    }
    if (calls === 75) server.failNext(2, grpc.status.RESOURCE_EXHAUSTED, 'too busy');
  };

  // Run 1: SIGKILL once 45% of all events were acknowledged.
  const child = spawnBridge(['run', '--config', config, '--once']);
  const stopWatching = killWhenAcked(child, ledger, () => ingest.run(), total);
  t.teardown(stopWatching);
  const r1 = await child.result;
  t.equal(r1.signal, 'SIGKILL', 'run 1 was SIGKILLed midway', { stderr: r1.stderr.slice(-1500) });
  t.ok(calls > 60, `the failures were injected during run 1 (${calls} calls)`);

  // Run 2: restart, drain, exit 0.
  const r2 = await runBridge(['run', '--config', config, '--once']);
  t.equal(r2.code, 0, 'run 2 drains and exits 0');
  stopWatching();
  ingest.run();
  ledger.check();

  const answers = new Set(server.calls.map((c) => c.answer));
  for (const a of ['OK', 'INTERNAL', 'UNAVAILABLE', 'RESOURCE_EXHAUSTED']) t.ok(answers.has(a), `the server answered ${a}`);
  const codes = new Set(logLines(r1.stderr + r2.stderr).filter((l) => l.msg === 'The sink did not take the batch; resending it.').map((l) => l.error_code));
  for (const c of ['DLB_SINK_VECTOR_DELIVERY_ERROR', 'DLB_SINK_VECTOR_UNAVAILABLE', 'DLB_SINK_VECTOR_TIMEOUT', 'DLB_SINK_VECTOR_BUSY']) t.ok(codes.has(c), `the bridge retried after ${c}`);

  t.same(ledger.violations, [], 'no checkpoint was ever ahead of an acknowledged call');
  t.ok(ledger.checkpointsSeen >= 20, `${ledger.checkpointsSeen} checkpoints observed and checked while running`);
  t.same(ingest.fieldErrors.slice(0, 5), [], 'every acknowledged event has the fields of its NDJSON line and its exact µs time');
  for (const log of LOGS) {
    t.ok(expected[log]!.length >= N - 1, `${log}: ${expected[log]!.length} events served`);
    t.equal(ledger.missing(log), 0, `${log}: nothing lost`);
    t.equal(ledger.unexpected(log), 0, `${log}: nothing unexpected`);
    // A failed call makes the pipeline resend its whole page (1000 events); the kill can repeat the page in flight
    // and one acknowledged page whose checkpoint was not written yet.
    const failed = server.calls.filter((c) => c.answer !== 'OK' && c.events.length && (toJs(c.events[0]!.log!.value) as { eventtype: string }).eventtype === log).length;
    const dup = ledger.total(log) - expected[log]!.length;
    t.ok(dup >= 0 && dup <= 1000 * (failed + 2), `${log}: ${dup} duplicates, within ${failed} failed calls' pages + 2 pages at the kill`);
    const cp = JSON.parse(readFileSync(path.join(dir, 'state', `127.0.0.1.${log}.json`), 'utf8'));
    t.equal(cp.events_delivered, expected[log]!.length, `${log}: final checkpoint covers every event`);
  }
});

t.test('DATA_LOSS (Vector rejected the events): the bridge stops loudly, the checkpoint stays before the batch, a rerun completes', async (t) => {
  const N = 3000;
  const sim = await startSimulator({ events: { authentication: N, administrator: N, telephony: N }, seed: 12 });
  t.teardown(() => sim.close());
  const server = await startVectorServer();
  t.teardown(() => server.close());
  const dir = mkdtempSync(path.join(os.tmpdir(), 'dlb-e2e-vector-loss-'));
  const config = writeConfig(dir, sim, { output: { type: 'vector', address: server.address, batch_size: 250, include_message: true } });
  const expected = Object.fromEntries(LOGS.map((l) => [l, sim.expectedLines(l)]));
  const ledger = new AckLedger(expected, path.join(dir, 'state'));
  const ingest = ingester(server, ledger);
  let calls = 0;
  server.onCall = () => {
    if (++calls === 6) server.failNext(1, grpc.status.DATA_LOSS, 'Delivery failed');
  };
  const watch = setInterval(() => {
    ingest.run();
    ledger.check();
  }, 5);
  t.teardown(() => clearInterval(watch));
  const r1 = await runBridge(['run', '--config', config, '--once']);
  t.equal(r1.code, 1, 'exit 1: retrying cannot help');
  const errors = logLines(r1.stderr).filter((l) => l.level === 'error');
  t.ok(errors.some((l) => /Vector refused a batch/.test(String(l.msg)) && l.error_code === 'DLB_SINK_VECTOR_REJECTED'), 'the sink logs the rejection at error level');
  t.ok(errors.some((l) => /REJECTED these events/.test(JSON.stringify(l.error))), 'the bridge says why it stopped');
  t.equal(logLines(r1.stderr).filter((l) => l.error_code === 'DLB_SINK_VECTOR_REJECTED' && l.level === 'warn').length, 0, 'never retried as if transient');
  ingest.run();
  ledger.check();
  t.ok(LOGS.some((l) => ledger.missing(l) > 0), 'something was left undelivered by the stop');

  const r2 = await runBridge(['run', '--config', config, '--once']);
  t.equal(r2.code, 0, 'the rerun completes');
  clearInterval(watch);
  ingest.run();
  ledger.check();
  t.same(ledger.violations, [], 'no checkpoint ahead of an acknowledgement, the rejected batch included');
  t.same(ingest.fieldErrors.slice(0, 5), []);
  for (const log of LOGS) t.equal(ledger.missing(log), 0, `${log}: nothing lost after the rerun`);
});

t.test('check-config: vector and http outputs validated by the CLI, every bad key named, secrets redacted', async (t) => {
  const sim = { hostname: 'https://api-test.duosecurity.com', ikey: 'DIXXXXXXXXXXXXXXXXXX', skey: 'skey-canary-abcdefabcdefabcdefabcdefabcdef' };
  const dir = mkdtempSync(path.join(os.tmpdir(), 'dlb-e2e-vector-cfg-'));
  const good = await runBridge(['check-config', '--config', writeConfig(path.join(dir, 'a'), sim, { output: { type: 'vector', address: '127.0.0.1:6000', compression: 'gzip', include_message: true } })]);
  t.equal(good.code, 0, good.stderr);
  t.match(good.stdout, /type: vector/);
  const bad = await runBridge(['check-config', '--config', writeConfig(path.join(dir, 'b'), sim, { output: { type: 'vector', address: 'http://127.0.0.1:6000', batch_size: 0, tls: { cert_file: '/x.pem' } } })]);
  t.equal(bad.code, 2);
  t.match(bad.stderr, /config\.yaml:\d+: output\.address: must be host:port without a scheme/);
  t.match(bad.stderr, /output\.batch_size: must be between 1 and 100000/);
  t.match(bad.stderr, /output\.tls\.key_file: cert_file and key_file go together/);
  const http = await runBridge(['check-config', '--config', writeConfig(path.join(dir, 'c'), sim, { output: { type: 'http', url: 'http://127.0.0.1:8080/', auth: { strategy: 'basic', user: 'duo', password: 'pw-canary-cli-8812' }, headers: { Authorization2: 'x' } } })]);
  t.equal(http.code, 0, http.stderr);
  t.notMatch(http.stdout + http.stderr, /pw-canary-cli-8812|skey-canary/, 'no secret printed');
  t.match(http.stdout, /REDACTED/);
});
