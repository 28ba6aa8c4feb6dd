// MSP through the CLI: 200 child accounts listed with the Accounts API, a per-endpoint rate
// limit shared by every child, one child forbidden, and two --shard replicas splitting the rest.
import t from 'tap';
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startSimulator, type Simulator } from '../../src/sim/server.js';
import { logLines, runBridge, writeConfig } from '../helpers/bridge.js';
import { parseShard, shardOf } from '../../src/util/shard.js';
import { selectAccounts } from '../../src/pipeline/accounts.js';

const LOGS = ['authentication', 'administrator', 'telephony'] as const;

function expectedAll(sim: Simulator, children: string[]): Map<string, number> {
  const want = new Map<string, number>();
  for (const id of children) for (const log of LOGS) for (const l of sim.expectedLines(log, id)) want.set(l, (want.get(l) ?? 0) + 1);
  return want;
}

function count(stdout: string): Map<string, number> {
  const got = new Map<string, number>();
  for (const l of stdout.split('\n')) if (l) got.set(l, (got.get(l) ?? 0) + 1);
  return got;
}

t.test('sharding is stable and total', async (t) => {
  t.same(parseShard('1/3'), { index: 1, count: 3 });
  t.equal(parseShard('3/3'), undefined);
  t.equal(parseShard('x'), undefined);
  const ids = Array.from({ length: 1000 }, (_, i) => `DA${i}`);
  const parts = [0, 1, 2].map((index) => selectAccounts(ids.map((accountId) => ({ accountId, name: '', apiHostname: 'h' })), { shard: { index, count: 3 } }));
  t.equal(parts.reduce((n, p) => n + p.length, 0), 1000, 'every account in exactly one shard');
  t.ok(parts.every((p) => p.length > 250), 'roughly even');
  t.equal(shardOf('DA42', 3), shardOf('DA42', 3));
});

t.test('200 child accounts: every event once, a forbidden child skipped, pacing adapts to zero 429s', async (t) => {
  const sim = await startSimulator({
    events: { authentication: 0, administrator: 0, telephony: 0 },
    msp: { children: 200, events: { authentication: 40, administrator: 15, telephony: 10 }, forbidden: ['DA000000000000100007'] },
    rateLimit: { requests: 40, windowMs: 1000 },
  });
  t.teardown(() => sim.close());
  const dir = mkdtempSync(path.join(os.tmpdir(), 'dlb-msp-'));
  const config = writeConfig(dir, sim, { msp: { enabled: true }, api: { request_interval_secs: 0.01, backoff_initial_secs: 0.05, backoff_max_secs: 1 } });
  const r = await runBridge(['run', '--config', config, '--once']);
  t.equal(r.code, 1, 'exit 1: one child was refused, and that is reported');
  t.match(r.stderr, /Duo refused this log; the others go on/);
  t.match(r.stderr, /DA000000000000100007/);
  const ok = sim.children.filter((id) => id !== 'DA000000000000100007');
  const want = expectedAll(sim, ok);
  const got = count(r.stdout);
  t.equal(got.size, want.size, `${want.size} distinct events from ${ok.length} children`);
  t.ok([...want].every(([l, n]) => got.get(l) === n), 'every child event exactly once');
  t.ok(r.stdout.split('\n').filter(Boolean).every((l) => /,"child_account_id":"DA\d+"\}$/.test(l)), 'child_account_id last on every record');
  // The shared pace: 429s may come while it adapts, never in the last half of the run.
  const authAnswers = sim.history.filter(([, p]) => p === '/admin/v2/logs/authentication');
  const late = authAnswers.slice(Math.floor(authAnswers.length / 2));
  const limited = authAnswers.filter(([, , s]) => s === 429).length;
  t.equal(late.filter(([, , s]) => s === 429).length, 0, `no 429 once adapted (${limited} early 429s in ${authAnswers.length} answers)`);
  const stopped = logLines(r.stderr).find((l) => typeof l.msg === 'string' && l.msg.startsWith('Stopped')) as { cpu_ms: number; peak_rss_mb: number };
  t.ok(stopped.peak_rss_mb < 200, `peak RSS ${stopped.peak_rss_mb} MB for 200 children (target < 200)`);
  t.comment(`MSP 200 children: cpu ${stopped.cpu_ms} ms, peak RSS ${stopped.peak_rss_mb} MB`);
});

t.test('two --shard replicas split an MSP: the union is every event exactly once', async (t) => {
  const sim = await startSimulator({ events: { authentication: 0, administrator: 0, telephony: 0 }, msp: { children: 24, events: { authentication: 300, administrator: 50, telephony: 50 } } });
  t.teardown(() => sim.close());
  const outs: string[] = [];
  for (const shard of ['0/2', '1/2']) {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'dlb-shard-'));
    const r = await runBridge(['run', '--config', writeConfig(dir, sim, { msp: { enabled: true } }), '--once', '--shard', shard]);
    t.equal(r.code, 0, `shard ${shard}`);
    t.match(r.stderr, new RegExp(`"shard":"${shard}"`));
    outs.push(r.stdout);
  }
  const [a, b] = outs.map(count);
  t.ok(a!.size > 0 && b!.size > 0, 'both replicas did work');
  t.ok([...a!.keys()].every((l) => !b!.has(l)), 'no event pulled by both');
  const union = new Map([...a!, ...b!]);
  const want = expectedAll(sim, sim.children);
  t.equal(union.size, want.size);
  t.ok([...want].every(([l, n]) => union.get(l) === n), 'the union is every event exactly once');
});
