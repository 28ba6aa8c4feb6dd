// The bundled patterns on the bridge's REAL output: `duo-log-bridge demo --once --events 300` (the CLI as
// a child process, fed by its in-process Duo simulator), not hand-written lines. Every line goes through
// every pattern in Ruby, the Rust regex crate, PCRE2 and JavaScript; the classic (published) patterns must
// match every line the JSON oracle says they can, with the oracle's values, and fail only for the reasons
// it names (a null description, an empty username, a comma or quote inside application.name ...).
import t from 'tap';
import { ENGINES, buildRust, loadTable, runAll } from './lib/engines.js';
import { Case, compare, render } from './lib/table.js';
import { runBridge } from '../helpers/bridge.js';
// @ts-ignore -- plain ESM module shared with the generator
import { classicExpect, robustExpect } from '../../regex/oracle.mjs';

const LOGS = ['authentication', 'administrator', 'telephony'];

t.test('classic and robust patterns on the CLI output from the simulator', async (t) => {
  const r = await runBridge(['demo', '--once', '--events', '300']);
  t.equal(r.code, 0, 'demo exits 0');
  const lines = r.stdout.split('\n').filter(Boolean);
  t.equal(lines.length, 900, '300 events per log');

  // the record shape the classic patterns rely on
  const cases: Case[] = [];
  const reasons: Record<string, Record<string, number>> = {};
  lines.forEach((line, li) => {
    const rec = JSON.parse(line);
    const keys = Object.keys(rec);
    const log = rec.eventtype;
    if (!LOGS.includes(log)) throw new Error(`unexpected eventtype ${log}`);
    if (keys.slice(-2).join() !== 'eventtype,host') t.fail(`eventtype/host not last: ${line.slice(0, 200)}`);
    if (line !== JSON.stringify(rec)) t.fail('not compact JSON');
    if (log === 'telephony' && 'ts' in rec && keys[keys.indexOf('credits') + 1] !== 'isotimestamp') t.fail('telephony v2 without isotimestamp after credits');
    const expect: Record<string, any> = {};
    for (const p of loadTable().filter((x) => x.log === log && x.family === 'robust')) expect[p.id] = robustExpect(log, p.fields[0], line);
    const c = classicExpect(log, line);
    if (c.kind !== 'unknown') expect[`${log}.classic`] = c.kind === 'match' ? c.fields : null;
    const why = c.kind === 'match' ? 'matches' : `${c.kind}: ${c.reason}`;
    (reasons[log] ??= {})[why] = (reasons[log][why] ?? 0) + 1;
    cases.push({ log, li, id: `cli-${li}`, expect });
  });

  const pats = loadTable();
  const bin = await buildRust();
  const results = await runAll(bin, pats, lines);
  const rows = compare(pats, cases, results);
  const table = render(`CLI output (node dist/cli.js demo --once --events 300): ${lines.length} lines through every pattern`, rows);
  const why = LOGS.map((l) => `  ${l}.classic: ` + Object.entries(reasons[l]).map(([k, n]) => `${n} ${k}`).join('; ')).join('\n');
  t.comment('\n' + table + '\nClassic patterns, per the oracle:\n' + why);
  process.stderr.write(table + '\nClassic patterns, per the oracle:\n' + why + '\n');

  for (const row of rows) t.same(row.problems, [], `${row.id}: all engines equal the oracle and each other on the CLI output`);
  for (const log of LOGS) {
    const row = rows.find((x) => x.id === `${log}.classic`)!;
    for (const e of ENGINES) t.ok(row.perEngine[e].matched > 0, `${log}.classic matches real bridge output in ${e} (${row.perEngine[e].matched}/${row.lines})`);
    // every line the published pattern misses is one the oracle explains
    t.equal(row.perEngine.ruby.checked, row.lines, `${log}.classic: the oracle predicts every CLI line`);
  }
  // each robust pattern finds its field on every line whose record has it (the oracle's non-null cases)
  for (const row of rows.filter((x) => !x.id.endsWith('.classic'))) {
    const want = cases.filter((c) => c.log === row.id.split('.')[0] && c.expect[row.id] !== null).length;
    t.ok(want > 0, `${row.id}: the CLI output holds the field`);
    for (const e of ENGINES) t.equal(row.perEngine[e].matched, want, `${row.id}/${e} extracts it from all ${want} CLI lines that hold it`);
  }
});
