/**
 * End to end through the CLI (a child process) into the test forward receiver, against the
 * in-process Duo simulator: failures injected while backfilling, SIGKILL + restart, the
 * receiver down for the whole run, TLS and the shared-key handshake.
 *
 * "Delivered" means: the record is in a chunk the receiver acked. Records are compared with
 * `sim.expectedLines(log)` parsed back to objects (key order included).
 */
import t, { type Test } from 'tap';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { startSimulator, type Simulator } from '../../src/sim/server.js';
import { ForwardReceiver, makeTestCerts } from '../helpers/forward-receiver.js';
import { logLines, spawnBridge, runBridge, writeConfig } from '../helpers/bridge.js';

const LOGS = ['authentication', 'administrator', 'telephony'] as const;
type Log = (typeof LOGS)[number];
const PER_LOG = 10_000;
/** Duo's page size for these endpoints: the most one log can have in flight. */
const PAGE = 1000;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** An expected line, keyed the way the receiver's records are keyed, with its time in the checkpoint's unit. */
interface Expected {
  key: string;
  unitTime: number;
}

function expected(sim: Simulator, log: Log): Expected[] {
  return sim.expectedLines(log).map((line) => {
    const r = JSON.parse(line) as Record<string, unknown>;
    const unitTime =
      log === 'administrator' ? Number(r.timestamp) : log === 'authentication' ? Date.parse(String(r.isotimestamp)) : Date.parse(String(r.ts));
    return { key: JSON.stringify(r), unitTime };
  });
}

type Multiset = Map<string, number>;
function multiset(keys: Iterable<string>): Multiset {
  const m: Multiset = new Map();
  for (const k of keys) m.set(k, (m.get(k) ?? 0) + 1);
  return m;
}
/**
 * Records of `log` in acked chunks, counted. The administrator log has identical rows (Duo's
 * v1 rows carry no id), so events are compared as multisets: an event counts as delivered
 * when its record was acked at least as often as Duo has it.
 */
const keys = new WeakMap<object, string>();
/** The record's JSON, computed once per received event (the checkpoint watcher runs often). */
function keyOf(e: { record: Record<string, unknown> }): string {
  let k = keys.get(e);
  if (k === undefined) keys.set(e, (k = JSON.stringify(e.record)));
  return k;
}
function ackedKeys(rx: ForwardReceiver, log: Log): Multiset {
  return multiset(rx.ackedEventsFor(`duo.${log}`).map(keyOf));
}
function receivedKeys(rx: ForwardReceiver, log: Log): string[] {
  return rx.eventsFor(`duo.${log}`).map(keyOf);
}
/** How many of `exp` (a prefix of the expected events, in order) are covered by `have`. */
function coveredBy(exp: Expected[], have: Multiset): number {
  const need = multiset(exp.map((e) => e.key));
  let n = 0;
  for (const [k, c] of need) n += Math.min(c, have.get(k) ?? 0);
  return n;
}

interface Cp {
  log: string;
  unit: 'ms' | 's';
  position: { time: number; ids: string[] };
}
function readCheckpoints(stateDir: string): Map<string, Cp> {
  const out = new Map<string, Cp>();
  let files: string[] = [];
  try {
    files = readdirSync(stateDir).filter((f) => f.endsWith('.json'));
  } catch {
    return out;
  }
  for (const f of files) {
    try {
      const cp = JSON.parse(readFileSync(path.join(stateDir, f), 'utf8')) as Cp;
      if (cp && cp.position) out.set(cp.log, cp);
    } catch {
      // being replaced (atomic rename): read again next time
    }
  }
  return out;
}

/** How many of `exp` a checkpoint covers: every event before its time, plus the ids recorded at its time. */
function covered(exp: Expected[], cp: Cp | undefined): number {
  if (!cp) return 0;
  let n = 0;
  while (n < exp.length && exp[n]!.unitTime < cp.position.time) n++;
  return n + cp.position.ids.length;
}

/**
 * The checkpoint must never be ahead of what was acknowledged: every event it covers is in an
 * acked chunk. The checkpoint is read first, the acks after (they only grow), so a pass is sound.
 */
function checkpointViolations(stateDir: string, rx: ForwardReceiver, exp: Record<Log, Expected[]>): string[] {
  const cps = readCheckpoints(stateDir);
  const bad: string[] = [];
  for (const log of LOGS) {
    const cp = cps.get(log);
    if (!cp) continue;
    const acked = ackedKeys(rx, log);
    const n = covered(exp[log], cp);
    const before = exp[log].filter((e) => e.unitTime < cp.position.time);
    const missing = before.length - coveredBy(before, acked);
    if (missing > 0 || n > coveredBy(exp[log], acked)) bad.push(`${log}: checkpoint covers ${n} events, ${missing} of them not acked`);
  }
  return bad;
}

/** Live stderr of a spawned bridge. */
function liveStderr(child: ReturnType<typeof spawnBridge>): () => string {
  let text = '';
  child.stderr!.on('data', (d: string) => (text += d));
  return () => text;
}

async function until(pred: () => boolean, what: string, ms = 60_000): Promise<void> {
  const end = Date.now() + ms;
  while (!pred()) {
    if (Date.now() > end) throw new Error(`never happened: ${what}`);
    await sleep(20);
  }
}

function forwardOutput(port: number, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    output: {
      type: 'forward',
      host: '127.0.0.1',
      port,
      // Long enough that a loaded CI machine never times out a healthy ack (a spurious timeout
      // would add resends the SIGKILL test counts as duplicates); the failure test shortens it.
      ack_timeout_secs: 30,
      connect_timeout_secs: 5,
      reconnect: { initial_delay_secs: 0.05, max_delay_secs: 0.5 },
      ...extra,
    },
  };
}

function assertAllDelivered(t: Test, rx: ForwardReceiver, exp: Record<Log, Expected[]>): void {
  for (const log of LOGS) {
    t.equal(exp[log].length, PER_LOG, `${log}: the simulator exposes ${PER_LOG} events`);
    const missing = exp[log].length - coveredBy(exp[log], ackedKeys(rx, log));
    t.equal(missing, 0, `${log}: every expected event is in an acked chunk (missing ${missing})`);
    const all = new Set(exp[log].map((e) => e.key));
    const stray = receivedKeys(rx, log).filter((k) => !all.has(k));
    t.equal(stray.length, 0, `${log}: nothing received that Duo did not have`);
  }
}

t.test('backfill of 10,000 events per log while the receiver refuses, drops mid-chunk, withholds acks and restarts', async (t) => {
  const sim = await startSimulator({ events: { authentication: PER_LOG, administrator: PER_LOG, telephony: PER_LOG } });
  t.teardown(() => sim.close());
  const rx = await ForwardReceiver.start();
  t.teardown(() => rx.close());
  const port = rx.port;
  await rx.stop(); // refusing from the start
  const exp = { authentication: expected(sim, 'authentication'), administrator: expected(sim, 'administrator'), telephony: expected(sim, 'telephony') };
  const dir = t.testdir();
  const stateDir = path.join(dir, 'state');
  // A short ack timeout so withheld acks time out quickly (spurious timeouts only add resends here).
  const child = spawnBridge(['run', '--config', writeConfig(dir, sim, forwardOutput(port, { ack_timeout_secs: 1.5 })), '--once']);
  const stderr = liveStderr(child);

  const violations: string[] = [];
  let checks = 0;
  const watch = setInterval(() => {
    checks++;
    violations.push(...checkpointViolations(stateDir, rx, exp));
  }, 100);
  t.teardown(() => clearInterval(watch));

  await until(() => stderr().includes('Cannot reach Fluentd; waiting for it.'), 'the wait logged');
  await sleep(1000);
  await rx.listen(port);

  await rx.waitFor(() => rx.ackedCount >= 3000, 60_000, '3000 acked');
  rx.closeMidChunk(1);
  await rx.waitFor(() => rx.ackedCount >= 12_000, 60_000, '12000 acked');
  rx.holdAcks(); // longer than ack_timeout_secs: the chunk in flight times out and is resent
  await sleep(2500);
  rx.dropHeldAcks();
  await rx.waitFor(() => rx.ackedCount >= 20_000, 60_000, '20000 acked');
  await rx.restart();

  const r = await child.result;
  clearInterval(watch);
  violations.push(...checkpointViolations(stateDir, rx, exp));
  t.equal(r.code, 0, 'exit 0 after draining');
  if (r.code !== 0) t.comment(r.stderr.slice(-3000));
  assertAllDelivered(t, rx, exp);
  t.ok(checks > 10, `checkpoints were checked while running (${checks} times)`);
  t.same(violations, [], 'the checkpoint never covered an event that was not acked');
  t.same(rx.errors, [], 'no protocol errors');

  const cps = readCheckpoints(stateDir);
  for (const log of LOGS) t.equal(covered(exp[log], cps.get(log)), PER_LOG, `${log}: final checkpoint covers every event`);

  const lines = logLines(r.stderr);
  const resent = lines.filter((l) => l.msg === 'The sink did not take the batch; resending it.');
  t.ok(resent.some((l) => l.error_code === 'DLB_SINK_FORWARD_ACK_TIMEOUT'), 'ack timeout: retryable, resent');
  t.ok(resent.some((l) => l.error_code === 'DLB_SINK_FORWARD_DISCONNECTED'), 'connection dropped mid-chunk: retryable, resent');
  t.ok(lines.some((l) => l.msg === 'Connected to Fluentd again.'), 'the recovery is logged');
  const dup = LOGS.reduce((n, log) => n + (rx.received.get(`duo.${log}`) ?? 0), 0) - 3 * PER_LOG;
  t.comment(`received ${rx.receivedCount} for ${3 * PER_LOG} events (${dup} resent), ${rx.connectionsAccepted} connections, ${resent.length} batch resends`);

  // Sub-second EventTime carries each event's own time.
  const auth = rx.eventsFor('duo.authentication').slice(0, 50);
  for (const e of auth) {
    const ms = e.time.sec * 1000 + Math.floor(e.time.nsec / 1e6);
    if (ms !== Date.parse(String(e.record.isotimestamp))) t.fail(`EventTime ${JSON.stringify(e.time)} vs ${String(e.record.isotimestamp)}`);
  }
  t.ok(auth.some((e) => e.time.nsec !== 0), 'sub-second part present');
});

t.test('SIGKILL at several points of a backfill, restart: nothing lost, duplicates bounded by what was in flight', async (t) => {
  const sim = await startSimulator({ events: { authentication: PER_LOG, administrator: PER_LOG, telephony: PER_LOG }, seed: 7 });
  t.teardown(() => sim.close());
  const rx = await ForwardReceiver.start();
  t.teardown(() => rx.close());
  const exp = { authentication: expected(sim, 'authentication'), administrator: expected(sim, 'administrator'), telephony: expected(sim, 'telephony') };
  const dir = t.testdir();
  const stateDir = path.join(dir, 'state');
  const cfg = writeConfig(dir, sim, forwardOutput(rx.port));

  const inFlightAtKills: Record<Log, number[]> = { authentication: [], administrator: [], telephony: [] };
  for (const threshold of [1500, 8000, 15_000, 23_000]) {
    const child = spawnBridge(['run', '--config', cfg, '--once']);
    await rx.waitFor(() => rx.ackedCount >= threshold, 60_000, `${threshold} acked`);
    child.kill('SIGKILL');
    const r = await child.result;
    t.equal(r.signal, 'SIGKILL', `killed after ${threshold} acked`);
    await until(() => rx.openConnections === 0, 'the receiver saw the connection close');
    const cps = readCheckpoints(stateDir);
    for (const log of LOGS) {
      const distinct = coveredBy(exp[log], multiset(receivedKeys(rx, log)));
      const cov = covered(exp[log], cps.get(log));
      t.ok(cov <= coveredBy(exp[log], ackedKeys(rx, log)), `${log}: checkpoint (${cov}) not ahead of acks at the kill`);
      inFlightAtKills[log].push(distinct - cov);
    }
  }
  const r = await runBridge(['run', '--config', cfg, '--once']);
  t.equal(r.code, 0, 'the last run drains and exits 0');
  assertAllDelivered(t, rx, exp);
  for (const log of LOGS) {
    const received = rx.received.get(`duo.${log}`) ?? 0;
    const dups = received - PER_LOG;
    const bound = inFlightAtKills[log].reduce((a, b) => a + b, 0);
    t.ok(inFlightAtKills[log].every((n) => n >= 0 && n <= PAGE), `${log}: at most one page beyond the checkpoint at each kill (${inFlightAtKills[log].join(', ')})`);
    t.ok(dups <= bound, `${log}: ${dups} duplicates <= ${bound} events in flight at the kills`);
  }
});

t.test('receiver down for the whole run: the bridge stops fetching, memory stays under the cap, it resumes by itself', async (t) => {
  const sim = await startSimulator({ events: { authentication: PER_LOG, administrator: PER_LOG, telephony: PER_LOG }, seed: 11 });
  t.teardown(() => sim.close());
  const rx = await ForwardReceiver.start();
  t.teardown(() => rx.close());
  const port = rx.port;
  await rx.stop();
  const exp = { authentication: expected(sim, 'authentication'), administrator: expected(sim, 'administrator'), telephony: expected(sim, 'telephony') };
  const dir = t.testdir();
  const child = spawnBridge(['run', '--config', writeConfig(dir, sim, forwardOutput(port)), '--once']);
  const stderr = liveStderr(child);
  await until(() => stderr().includes('Cannot reach Fluentd; waiting for it.'), 'the wait logged');

  // Measure RSS for a while: with Fluentd down, the only data held is one page in flight and
  // one prefetched per log (about 6 pages of ~1 KB events).
  const CAP_MB = 160;
  let peakKb = 0;
  const end = Date.now() + 4000;
  while (Date.now() < end) {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${child.pid}/status`, 'utf8'));
    peakKb = Math.max(peakKb, Number(m?.[1] ?? 0));
    await sleep(50);
  }
  const requests = (p: string) => Object.values(sim.counts[p] ?? {}).reduce((a, b) => a + b, 0);
  const pages = {
    authentication: requests('/admin/v2/logs/authentication'),
    administrator: requests('/admin/v1/logs/administrator'),
    telephony: requests('/admin/v2/logs/telephony'),
  };
  t.comment(`peak RSS with the receiver down: ${(peakKb / 1024).toFixed(1)} MB; Duo requests per log: ${JSON.stringify(pages)}`);
  t.ok(peakKb > 0 && peakKb / 1024 < CAP_MB, `peak RSS ${(peakKb / 1024).toFixed(1)} MB < ${CAP_MB} MB`);
  for (const log of LOGS) t.ok(pages[log] >= 1 && pages[log] <= 3, `${log}: fetching stopped (${pages[log]} requests for ${PER_LOG / PAGE} pages)`);
  t.equal(rx.receivedCount, 0);

  await rx.listen(port);
  const r = await child.result;
  t.equal(r.code, 0, 'resumed by itself and drained');
  assertAllDelivered(t, rx, exp);
  t.ok(logLines(r.stderr).some((l) => l.msg === 'Connected to Fluentd again.' && typeof l.waited_secs === 'number'), 'the resume is logged with the wait');
});

t.test('CLI: TLS and shared key right, wrong CA, wrong key', async (t) => {
  const dir = t.testdir();
  const certs = makeTestCerts(path.join(dir, 'certs'));
  const sim = await startSimulator({ events: { authentication: 300, administrator: 300, telephony: 300 }, seed: 3 });
  t.teardown(() => sim.close());
  const key = 'cli-shared-key-2718';
  const rx = await ForwardReceiver.start({
    tls: { key: readFileSync(certs.serverKey), cert: readFileSync(certs.serverCert) },
    security: { sharedKey: key },
  });
  t.teardown(() => rx.close());
  const run = async (sub: string, tls: Record<string, unknown>, sharedKey: string) => {
    const cfg = writeConfig(path.join(dir, sub), sim, forwardOutput(rx.port, { tls, security: { shared_key: sharedKey } }));
    return runBridge(['run', '--config', cfg, '--once']);
  };

  const ok = await run('ok', { ca_file: certs.caCert }, key);
  t.equal(ok.code, 0, 'right CA and key: exit 0');
  if (ok.code !== 0) t.comment(ok.stderr.slice(-3000));
  t.equal(rx.ackedCount, 900, 'every event acked');
  t.notMatch(ok.stderr, key, 'the shared key never reaches the log');

  const wrongCa = await run('wrong-ca', { ca_file: certs.otherCaCert }, key);
  t.equal(wrongCa.code, 1, 'wrong CA: exit 1');
  t.match(wrongCa.stderr, /TLS: the certificate of Fluentd at 127\.0\.0\.1:\d+ is not trusted by output\.tls\.ca_file/);

  const wrongKey = await run('wrong-key', { ca_file: certs.caCert }, 'not-the-key-1414');
  t.equal(wrongKey.code, 1, 'wrong shared key: exit 1');
  t.match(wrongKey.stderr, /rejected the shared key.*output\.security\.shared_key/);
  t.notMatch(wrongKey.stderr + wrongKey.stdout, /not-the-key-1414|cli-shared-key-2718/, 'neither key printed');

  const check = await runBridge(['check-config', '--config', path.join(dir, 'ok', 'config.yaml')]);
  t.equal(check.code, 0, 'check-config accepts the forward output');
  t.notMatch(check.stdout + check.stderr, key, 'check-config does not print the shared key');
  t.equal(rx.ackedCount, 900, 'nothing more delivered by the refused runs');
});

t.test('shipped files: the Kubernetes example passes check-config; the Fluentd sidecar keeps at-least-once settings', async (t) => {
  const { parseAllDocuments, parse } = await import('yaml');
  const { writeFileSync } = await import('node:fs');
  const { ROOT } = await import('../helpers/bridge.js');
  const docs = parseAllDocuments(readFileSync(path.join(ROOT, 'examples/kubernetes/duo-log-bridge-fluentd.yaml'), 'utf8')).map((d) => d.toJS() as Record<string, any>);
  t.same(docs.map((d) => d.kind), ['PersistentVolumeClaim', 'ConfigMap', 'ConfigMap', 'Deployment']);
  const dir = t.testdir();
  writeFileSync(path.join(dir, 'secret_key'), 'x'.repeat(40) + '\n');
  const cfgText = String(docs[1]!.data['config.yaml']).replace('/etc/duo-log-bridge-secret/secret_key', path.join(dir, 'secret_key')).replace('/var/lib/duo-log-bridge/checkpoints', path.join(dir, 'cp'));
  writeFileSync(path.join(dir, 'config.yaml'), cfgText);
  const r = await runBridge(['check-config', '--config', path.join(dir, 'config.yaml')], { env: { DUO_INTEGRATION_KEY: 'DIXXXXXXXXXXXXXXXXXX' } });
  t.equal(r.code, 0, `check-config accepts the example: ${r.stderr.slice(0, 500)}`);
  t.equal(parse(cfgText).output.type, 'forward');
  const pod = docs[3]!.spec.template.spec;
  t.same(pod.containers.map((c: { name: string }) => c.name), ['fluentd', 'duo-log-bridge'], 'two sidecars in one pod (shared loopback)');
  t.equal(docs[3]!.spec.replicas, 1);
  t.ok(pod.volumes.some((v: any) => v.secret?.secretName === 'duo-log-bridge'), 'secret key from a Kubernetes Secret');
  t.ok(pod.volumes.some((v: any) => v.persistentVolumeClaim), 'checkpoints on a volume');

  for (const conf of [String(docs[2]!.data['fluent.conf']), readFileSync(path.join(ROOT, 'fluentd/sidecar/output_buffered.conf'), 'utf8')]) {
    const active = conf.split('\n').filter((l) => !l.trim().startsWith('#')).join('\n');
    t.match(active, /<buffer>[\s\S]*@type file/, 'file buffer');
    t.match(active, /overflow_action throw_exception/, 'a full buffer refuses, never drops');
    t.match(active, /retry_forever true/);
    t.notMatch(active, /@ERROR/, 'no @ERROR label turning failures into acks');
  }
  const fwd = readFileSync(path.join(ROOT, 'fluentd/sidecar/in_forward.conf'), 'utf8');
  t.match(fwd, /bind 127\.0\.0\.1/);
  t.notMatch(fwd.split('\n').filter((l) => !l.trim().startsWith('#')).join('\n'), /chunk_size_limit/, 'no chunk_size_limit that would drop a chunk unacked');
});
