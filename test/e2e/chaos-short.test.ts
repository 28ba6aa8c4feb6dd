/**
 * The short chaos suite (the full one is `npm run chaos`): the real bridge process against the
 * Duo simulator and the real test peers, with SIGKILLs at seeded random moments, Duo faults
 * (429, 5xx, resets, truncated and HTML bodies, 40105, answers slower than api.timeout_secs),
 * the sink down for 15 s then flapping, slow and failing, the checkpoint directory full (a real
 * ENOSPC on its own tmpfs) and unusable at start, and the bridge's wall clock jumping back and
 * forth while it backfills. Each scenario compares what the sink acknowledged with what the
 * simulator served: nothing lost, nothing unknown, duplicates only after kills and at most a
 * page per log per kill, peak RSS under 150 MB. See test/chaos/harness.ts for the rules.
 */
import t from 'tap';
import { ensureBuilt } from '../helpers/bridge.js';
import { formatTable, PAGE, RSS_CAP_MB, runScenario, type Row } from '../chaos/harness.js';
import { scenarios } from '../chaos/scenarios.js';
import { Pacer } from '../../src/pipeline/pacer.js';

ensureBuilt();

t.test('pacing survives the wall clock stepping back (the hang the clock scenario found)', async (t) => {
  let offset = 0;
  const pacer = new Pacer(1000, 600_000, () => Date.now() + offset);
  await pacer.turn();
  offset = -4 * 60_000; // NTP steps the clock back four minutes
  const stop = new AbortController();
  const guard = setTimeout(() => stop.abort(), 5000);
  const t0 = performance.now();
  await pacer.turn(stop.signal);
  clearTimeout(guard);
  t.notOk(stop.signal.aborted, 'the next turn came without waiting out the step');
  t.ok(performance.now() - t0 <= 1500, `waited at most about one interval (${Math.round(performance.now() - t0)} ms)`);
});

const rows: Row[] = [];
for (const s of scenarios('short')) {
  t.test(`chaos: ${s.name} -> ${s.sink}`, async (t) => {
    const row = await runScenario(s);
    rows.push(row);
    t.comment(`${row.served} served, ${row.delivered} delivered, ${row.lost} lost, ${row.duplicated} duplicated, ${row.kills} kills, peak RSS ${row.peakRssMb} MB, ${row.seconds} s`);
    for (const n of row.notes) t.comment(n);
    t.ok(row.served > 0, 'the simulator served events');
    t.equal(row.lost, 0, 'nothing lost');
    t.equal(row.stray, 0, 'nothing delivered that Duo did not have');
    if (s.kills) t.ok(row.kills >= Math.floor(s.kills * 0.75), `killed ${row.kills} of ${s.kills} times mid-backfill`);
    // One page per log per kill, plus what the scenario documents (a peer that acked, then dropped the connection first).
    const bound = (row.kills * PAGE + row.allowedDuplicates) * 3;
    t.ok(row.duplicated <= bound, `${row.duplicated} duplicates <= (${row.kills} kills x ${PAGE} + ${row.allowedDuplicates} allowed) x 3 logs`);
    if (!row.kills && !row.allowedDuplicates) t.equal(row.duplicated, 0, 'no kill, no duplicate');
    t.ok(row.peakRssMb > 0 && row.peakRssMb < RSS_CAP_MB, `peak RSS ${row.peakRssMb} MB < ${RSS_CAP_MB} MB`);
    t.same(row.failures, [], 'every check of the scenario passed');
  });
}

t.test('table', async (t) => {
  t.comment('\n' + formatTable(rows));
  t.ok(rows.length >= 5);
});
