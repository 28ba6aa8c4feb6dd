/**
 * `npm run chaos`: every scenario of scenarios('full'), one after another (they measure the
 * bridge's memory, so never in parallel), then the table. Exit 1 when any scenario failed.
 *
 *   npm run chaos                      the full suite (about 15-25 minutes on 2 cores)
 *   npm run chaos -- --short           the handful the tests run
 *   npm run chaos -- --only kill       scenarios whose name or sink contains "kill"
 */
import { ensureBuilt } from '../helpers/bridge.js';
import { formatTable, runScenario, type Row } from './harness.js';
import { scenarios } from './scenarios.js';

const argv = process.argv.slice(2);
const mode = argv.includes('--short') ? 'short' : 'full';
const oi = argv.indexOf('--only');
const only = oi >= 0 ? argv[oi + 1]?.toLowerCase() : undefined;

ensureBuilt();
const list = scenarios(mode).filter((s) => !only || `${s.name} ${s.sink}`.toLowerCase().includes(only));
const rows: Row[] = [];
const t0 = Date.now();
for (const [i, s] of list.entries()) {
  process.stderr.write(`[${i + 1}/${list.length}] ${s.name} -> ${s.sink} ...\n`);
  rows.push(await runScenario(s, (line) => process.stderr.write(`    ${line}\n`)));
}
process.stdout.write(`\nChaos (${mode}): ${list.length} scenarios in ${Math.round((Date.now() - t0) / 1000)} s\n\n${formatTable(rows)}\n`);
process.exitCode = rows.every((r) => r.ok) ? 0 : 1;
