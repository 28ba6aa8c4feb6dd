// End to end through the CLI: the real bridge process against the simulator, with pacing,
// injected 429s and 5xx (and garbage bodies), SIGKILLs midway, and a far-off time zone.
import t from 'tap';
import { mkdtempSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startSimulator } from '../../src/sim/server.js';
import { byLog, logLines, runBridge, spawnBridge, writeConfig } from '../helpers/bridge.js';

const LOGS = ['authentication', 'administrator', 'telephony'] as const;
const N = 10_000;

/** Complete lines only: a SIGKILL mid-write may leave half a line, which was never checkpointed. */
function completeLines(stdout: string): string {
  const cut = stdout.lastIndexOf('\n');
  return cut < 0 ? '' : stdout.slice(0, cut + 1);
}

/** Run with --once, SIGKILL once `killAfter` lines were seen on stdout. */
async function runAndKill(config: string, killAfter: number): Promise<{ stdout: string; killed: boolean }> {
  const child = spawnBridge(['run', '--config', config, '--once']);
  let lines = 0;
  let killed = false;
  child.stdout!.on('data', (d: string) => {
    lines += d.split('\n').length - 1;
    if (!killed && lines >= killAfter) {
      killed = true;
      child.kill('SIGKILL');
    }
  });
  const r = await child.result;
  return { stdout: completeLines(r.stdout), killed: killed && r.signal === 'SIGKILL' };
}

t.test('backfill of 10,000 events per log with faults and SIGKILLs: all delivered, in order, duplicates only from killed batches', async (t) => {
  const sim = await startSimulator({
    events: { authentication: N, administrator: N, telephony: N },
    faults: { rate: 0.15, kinds: ['429', '500', '503', 'truncated', 'html', 'reset'], seed: 7 },
  });
  t.teardown(() => sim.close());
  const dir = mkdtempSync(path.join(os.tmpdir(), 'dlb-e2e-'));
  const config = writeConfig(dir, sim, { api: { request_interval_secs: 0.005, backoff_initial_secs: 0.02, backoff_max_secs: 0.2 } });

  const runs: string[] = [];
  for (const killAfter of [7_000, 6_000, 9_000]) {
    const r = await runAndKill(config, killAfter);
    t.ok(r.killed, `bridge SIGKILLed after ${killAfter} lines`);
    runs.push(r.stdout);
  }
  const final = await runBridge(['run', '--config', config, '--once']);
  t.equal(final.code, 0, 'the last run drains and exits 0');
  runs.push(final.stdout);

  const served = Object.values(sim.counts).reduce<Record<string, number>>((acc, byStatus) => {
    for (const [s, n] of Object.entries(byStatus)) acc[s] = (acc[s] ?? 0) + n;
    return acc;
  }, {});
  t.ok((served['429'] ?? 0) > 0, `the simulator answered 429 (${served['429']})`);
  t.ok((served['500'] ?? 0) + (served['503'] ?? 0) > 0, `the simulator answered 5xx (${(served['500'] ?? 0) + (served['503'] ?? 0)})`);

  for (const log of LOGS) {
    const expected = sim.expectedLines(log);
    t.ok(expected.length >= N - 1, `${log}: ${expected.length} events served`);
    const want = new Map<string, number>();
    for (const l of expected) want.set(l, (want.get(l) ?? 0) + 1);
    let cursor = 0;
    let duplicates = 0;
    const got = new Map<string, number>();
    for (const [i, out] of runs.entries()) {
      const lines = byLog(out)[log] ?? [];
      if (!lines.length) continue;
      // Each run resumes at or before where the previous run's output stopped, then follows Duo's order exactly.
      // Administrator rows have no id and two rows can be byte-identical: try every place the first line occurs.
      let start = -1;
      for (let k = expected.indexOf(lines[0]!); k >= 0 && k <= cursor; k = expected.indexOf(lines[0]!, k + 1)) {
        if (lines.every((l, j) => expected[k + j] === l)) {
          start = k;
          break;
        }
      }
      t.ok(start >= 0, `${log} run ${i}: a contiguous slice of Duo's order, resuming at or before ${cursor} (no gap)`);
      if (start < 0) continue;
      t.ok(cursor - start <= 1000, `${log} run ${i}: ${Math.max(0, cursor - start)} re-sent, at most the one page in flight at the kill`);
      duplicates += Math.max(0, cursor - start);
      cursor = Math.max(cursor, start + lines.length);
      for (const l of lines) got.set(l, (got.get(l) ?? 0) + 1);
    }
    const missing = [...want].filter(([l, n]) => (got.get(l) ?? 0) < n).length;
    t.equal(missing, 0, `${log}: nothing missing`);
    t.equal(cursor, expected.length, `${log}: delivered to the end`);
    t.ok(duplicates <= 3 * 1000, `${log}: ${duplicates} duplicates in all over 3 kills`);
  }
  const state = JSON.parse(readFileSync(path.join(dir, 'state', '127.0.0.1.authentication.json'), 'utf8'));
  t.equal(state.version, 1);
  t.equal(state.log, 'authentication');
  t.ok(Array.isArray(state.position.ids) && state.position.ids.length >= 1, 'checkpoint keeps the boundary ids');
});

t.test('the same backfill with TZ=Pacific/Kiritimati gives byte-identical output', async (t) => {
  const sim = await startSimulator({ events: { authentication: 3000, administrator: 3000, telephony: 3000 }, seed: 3 });
  t.teardown(() => sim.close());
  const outs: string[] = [];
  for (const tz of ['UTC', 'Pacific/Kiritimati', 'America/Adak']) {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'dlb-tz-'));
    const r = await runBridge(['run', '--config', writeConfig(dir, sim), '--once'], { env: { TZ: tz } });
    t.equal(r.code, 0, `TZ=${tz} exit 0`);
    outs.push(r.stdout);
  }
  // The three logs run concurrently, so their interleaving on stdout varies; each log's stream must be identical.
  const [utc, kiritimati, adak] = outs.map((o) => byLog(o));
  for (const log of LOGS) {
    const want = sim.expectedLines(log);
    t.ok(utc![log]!.join('\n') === want.join('\n'), `UTC: ${log} is exactly the expected ${want.length} lines, in order`);
    t.ok(kiritimati![log]!.join('\n') === utc![log]!.join('\n'), `Kiritimati (UTC+14): ${log} byte-identical to UTC`);
    t.ok(adak![log]!.join('\n') === utc![log]!.join('\n'), `Adak (UTC-10): ${log} byte-identical to UTC`);
  }
});

t.test('both final-page behaviours end the walk and the next poll re-reads nothing', async (t) => {
  for (const mode of ['null', 'cursor'] as const) {
    const sim = await startSimulator({ events: { authentication: 2500, administrator: 2500, telephony: 2500 }, finalNextOffset: mode, seed: 5 });
    const dir = mkdtempSync(path.join(os.tmpdir(), 'dlb-final-'));
    const config = writeConfig(dir, sim);
    const first = await runBridge(['run', '--config', config, '--once']);
    const second = await runBridge(['run', '--config', config, '--once']);
    await sim.close();
    t.equal(first.code, 0);
    t.equal(second.code, 0);
    for (const log of LOGS) t.ok(byLog(first.stdout)[log]!.join('\n') === sim.expectedLines(log).join('\n'), `${mode}: ${log} complete and in order`);
    t.equal(second.stdout, '', `${mode}: a second poll emits nothing again`);
    const reqs = logLines(second.stderr).filter((l) => l.msg === 'Duo request failed; retrying.');
    t.equal(reqs.length, 0);
  }
});
