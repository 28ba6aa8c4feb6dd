// The bridge as an operator meets it: signals, permission errors, broken checkpoints,
// a changed start, Duo's rate limit, a reader that goes away, and a secret that must never leak.
import t from 'tap';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startSimulator } from '../../src/sim/server.js';
import { CLI, byLog, logLines, runBridge, spawnBridge, writeConfig } from '../helpers/bridge.js';

const LOGS = ['authentication', 'administrator', 'telephony'] as const;
const tmp = () => mkdtempSync(path.join(os.tmpdir(), 'dlb-life-'));
const readCp = (dir: string, log: string) => JSON.parse(readFileSync(path.join(dir, 'state', `127.0.0.1.${log}.json`), 'utf8'));

t.test('SIGTERM: finishes the write in flight, saves checkpoints that match the output exactly, exits 0', async (t) => {
  const sim = await startSimulator({ events: { authentication: 6000, administrator: 6000, telephony: 6000 } });
  t.teardown(() => sim.close());
  const dir = tmp();
  const config = writeConfig(dir, sim, { api: { request_interval_secs: 0.05 } });
  const child = spawnBridge(['run', '--config', config]);
  let seen = 0;
  child.stdout!.on('data', (d: string) => {
    seen += d.split('\n').length - 1;
    if (seen >= 4000 && seen - (d.split('\n').length - 1) < 4000) child.kill('SIGTERM');
  });
  const r = await child.result;
  t.equal(r.code, 0, 'exit 0 after SIGTERM');
  t.ok(logLines(r.stderr).some((l) => /Stopping: finishing the delivery in flight/.test(String(l.msg))));
  t.ok(r.stdout.endsWith('\n'), 'no half-written line');
  const first = byLog(r.stdout);
  for (const log of LOGS) {
    const n = first[log]?.length ?? 0;
    if (n) t.equal(readCp(dir, log).events_delivered, n, `${log}: checkpoint covers exactly the ${n} lines written`);
  }
  const rest = await runBridge(['run', '--config', config, '--once']);
  t.equal(rest.code, 0);
  const second = byLog(rest.stdout);
  for (const log of LOGS) {
    const all = [...(first[log] ?? []), ...(second[log] ?? [])];
    t.ok(all.join('\n') === sim.expectedLines(log).join('\n'), `${log}: after a graceful stop, no duplicate and no gap`);
  }
});

t.test('"Grant read log" missing: --once exits 1 saying so; a long-running bridge parks the log and keeps running', async (t) => {
  const sim = await startSimulator({ events: { authentication: 100 }, faults: { rate: 1, kinds: ['40301'] } });
  t.teardown(() => sim.close());
  const dir = tmp();
  const config = writeConfig(dir, sim, { services: { authentication: {} } });
  const once = await runBridge(['run', '--config', config, '--once']);
  t.equal(once.code, 1);
  t.match(once.stderr, /Grant read log/);
  const child = spawnBridge(['run', '--config', config]);
  let parked = false;
  child.stderr!.on('data', (d: string) => {
    if (!parked && /Duo refused this log; it stays parked/.test(d)) {
      parked = true;
      child.kill('SIGTERM');
    }
  });
  const r = await child.result;
  t.ok(parked, 'the log was parked, with the reason');
  t.equal(r.code, 0, 'still running until told to stop');
});

t.test('a corrupt checkpoint is set aside with a warning and the log starts from the configured start', async (t) => {
  const sim = await startSimulator({ events: { authentication: 1500, administrator: 10, telephony: 10 } });
  t.teardown(() => sim.close());
  const dir = tmp();
  const config = writeConfig(dir, sim);
  t.equal((await runBridge(['run', '--config', config, '--once'])).code, 0);
  writeFileSync(path.join(dir, 'state', '127.0.0.1.authentication.json'), '{"version":1,"log":"authent');
  const r = await runBridge(['run', '--config', config, '--once']);
  t.equal(r.code, 0);
  t.match(r.stderr, /Checkpoint file is corrupt; set it aside/);
  t.equal(byLog(r.stdout).authentication?.length, 1500, 'authentication re-read from the start');
  t.equal(byLog(r.stdout).telephony, undefined, 'other logs untouched');
  t.ok(readdirSync(path.join(dir, 'state')).some((f) => f.includes('.corrupt-')));
});

t.test('changing start_datetime_utc resets that log on the next start', async (t) => {
  const sim = await startSimulator({ events: { authentication: 1000, administrator: 10, telephony: 10 }, spanMs: 4 * 3_600_000 });
  t.teardown(() => sim.close());
  const dir = tmp();
  const recent = new Date(Date.now() - 2 * 3_600_000).toISOString();
  const a = await runBridge(['run', '--config', writeConfig(dir, sim, { services: { authentication: { start_datetime_utc: recent } } }), '--once']);
  const partial = byLog(a.stdout).authentication!.length;
  t.ok(partial > 100 && partial < 1000, `a recent start reads only part (${partial})`);
  const b = await runBridge(['run', '--config', writeConfig(dir, sim, { services: { authentication: { start_datetime_utc: '2020-01-01T00:00:00Z' } } }), '--once']);
  t.match(b.stderr, /start_datetime_utc changed since the checkpoint was written/);
  t.match(b.stderr, /older than Duo keeps \(180 days\)/, 'a start past the window is clamped with a warning');
  t.equal(byLog(b.stdout).authentication!.length, 1000, 'the whole log from the new start');
});

t.test("Duo's rate limit: 429s slow the pace and nothing is lost", async (t) => {
  const sim = await startSimulator({ events: { authentication: 8000, administrator: 10, telephony: 10 }, rateLimit: { requests: 2, windowMs: 400 } });
  t.teardown(() => sim.close());
  const dir = tmp();
  const r = await runBridge(['run', '--config', writeConfig(dir, sim, { services: { authentication: {} }, api: { request_interval_secs: 0, backoff_initial_secs: 0.05, backoff_max_secs: 1 } }), '--once']);
  t.equal(r.code, 0);
  const limited = sim.counts['/admin/v2/logs/authentication']?.[429] ?? 0;
  t.ok(limited > 0, `the simulator rate-limited (${limited} x 429)`);
  t.ok(byLog(r.stdout).authentication!.join('\n') === sim.expectedLines('authentication').join('\n'), 'every event, in order, once');
  t.ok(logLines(r.stderr).some((l) => l.error_code === 'DLB_DUO_RATE_LIMITED'));
});

t.test('a reader that goes away (EPIPE) stops the bridge cleanly', async (t) => {
  const sim = await startSimulator({ events: { authentication: 5000 } });
  t.teardown(() => sim.close());
  const dir = tmp();
  const config = writeConfig(dir, sim, { services: { authentication: {} } });
  const code = await new Promise<number | null>((resolve) => {
    const child = spawn(process.execPath, [CLI, 'run', '--config', config], { stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout.once('data', () => child.stdout.destroy());
    child.on('close', (c) => resolve(c));
  });
  t.equal(code, 0, 'exit 0, not a crash');
});

t.test('a known secret never appears in stdout, stderr or any file the bridge wrote', async (t) => {
  const sim = await startSimulator({ events: { authentication: 200, administrator: 200, telephony: 200 }, faults: { rate: 0.3, kinds: ['500', '429', 'html', 'truncated'] } });
  t.teardown(() => sim.close());
  const dir = tmp();
  const good = await runBridge(['run', '--config', writeConfig(dir, sim, { log_level: 'debug' }), '--once']);
  t.equal(good.code, 0);
  const wrongSecret = 'CANARY' + 'q'.repeat(34);
  const badDir = tmp();
  const bad = await runBridge(['run', '--config', writeConfig(badDir, { ...sim, skey: wrongSecret }, { log_level: 'debug' }), '--once']);
  t.equal(bad.code, 1);
  t.match(bad.stderr, /Duo rejected the signature/);
  const check = await runBridge(['check-config', '--config', path.join(dir, 'config.yaml')]);
  const files = [...readdirSync(path.join(dir, 'state')).map((f) => path.join(dir, 'state', f))];
  const everything = [good.stdout, good.stderr, bad.stdout, bad.stderr, check.stdout, check.stderr, ...files.map((f) => readFileSync(f, 'utf8'))].join('\n');
  t.notMatch(everything, sim.skey, 'the simulator secret');
  t.notMatch(everything, wrongSecret, 'the wrong secret');
});

t.test('SIGTERM while the sink is still waiting for its peer at start ends the run', async (t) => {
  const sim = await startSimulator({ events: { authentication: 10 } });
  t.teardown(() => sim.close());
  const dir = tmp();
  // Nothing listens on this port: the vector output's health check waits for Vector.
  const config = writeConfig(dir, sim, { output: { type: 'vector', address: '127.0.0.1:1' } });
  const child = spawnBridge(['run', '--config', config]);
  let sent = false;
  child.stderr!.on('data', (d: string) => {
    if (!sent && /"msg":"Starting\."/.test(d)) {
      sent = true;
      setTimeout(() => child.kill('SIGTERM'), 300);
    }
  });
  const killer = setTimeout(() => child.kill('SIGKILL'), 15_000);
  const r = await child.result;
  clearTimeout(killer);
  t.equal(r.signal, null, 'not killed: it stopped by itself');
  t.equal(r.code, 0);
  t.equal(r.stdout, '');
});
