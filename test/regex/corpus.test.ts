// Every bundled pattern (classic and robust) run by Ruby, the Rust regex crate, PCRE2 and JavaScript over
// the whole corpus in regex/corpus/*.ndjson, each engine once over all patterns x lines. Every engine
// must return, for every line of the pattern's log, exactly what the JSON-based oracle expects (stored
// in the corpus), and the four engines must agree on every line, including the lines the oracle
// leaves open for a classic pattern.
import t from 'tap';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ENGINES, ROOT, buildRust, key, loadTable, rubyTimes, runAll } from './lib/engines.js';
import { Case, compare, render } from './lib/table.js';

const LOGS = ['authentication', 'administrator', 'telephony'];

t.test('corpus: four engines, same fields, same values', async (t) => {
  const pats = loadTable();
  const cases: Case[] = [];
  const lines: string[] = [];
  for (const log of LOGS) {
    for (const l of readFileSync(join(ROOT, `regex/corpus/${log}.ndjson`), 'utf8').split('\n')) {
      if (!l) continue;
      const e = JSON.parse(l);
      cases.push({ log, li: lines.length, id: e.id, expect: e.expect, classic_unknown: e.classic_unknown });
      lines.push(e.line);
    }
  }
  t.ok(cases.length >= 50, `corpus has ${cases.length} lines`);

  const bin = await buildRust();
  const results = await runAll(bin, pats, lines);
  const rows = compare(pats, cases, results);
  const table = render(`Corpus results: ${cases.length} lines (regex/corpus/*.ndjson), each pattern over its log's lines`, rows);
  t.comment('\n' + table);
  process.stderr.write(table + '\n');

  for (const r of rows) {
    t.same(r.problems, [], `${r.id}: every engine equals the oracle and the others`);
    for (const e of ENGINES) t.ok(r.perEngine[e].checked >= r.lines - 3, `${r.id}/${e}: oracle covers the corpus`);
  }
  // robust patterns extract their field from the documented samples in every log
  for (const r of rows.filter((x) => !x.id.endsWith('.classic'))) t.ok(r.perEngine.ruby.matched > r.lines / 2, `${r.id} matches most lines`);

  // classic patterns: proven on the bridge-shaped samples, and proven NOT to match where they cannot
  const classicOn = (id: string, caseId: string) => {
    const c = cases.find((x) => x.id === caseId)!;
    return ENGINES.map((e) => results[e].get(`${id}#${c.li}`));
  };
  for (const [pid, caseId] of [['authentication.classic', 'auth-sample'], ['administrator.classic', 'admin-sample'], ['telephony.classic', 'tel-v1'], ['telephony.classic', 'tel-v2']]) {
    t.ok(classicOn(pid, caseId).every((v) => v !== null), `${pid} matches ${caseId} in every engine`);
  }
  for (const [pid, caseId] of [['administrator.classic', 'admin-description-null'], ['administrator.classic', 'admin-username-empty'], ['telephony.classic', 'tel-v2-raw'], ['authentication.classic', 'auth-reversed']]) {
    t.ok(classicOn(pid, caseId).every((v) => v === null), `${pid} cannot match ${caseId} in any engine`);
  }
  // Fluentd turns the `time` capture into the event time with Time.parse (no time_format in the config):
  // every captured time parses, to the same second as JavaScript's Date.parse reads the same text
  let times = 0;
  for (const p of pats.filter((x) => x.fields[0] === 'time')) {
    for (const c of cases.filter((x) => x.log === p.log)) {
      const v = results.ruby.get(key(p.id, c.li))?.time;
      if (!v) continue;
      times++;
      t.equal(rubyTimes.get(key(p.id, c.li)), Math.floor(Date.parse(v) / 1000), `${p.id} ${c.id}: Time.parse(${v}) = Date.parse`);
    }
  }
  t.ok(times > 40, `${times} time captures checked`);

  // the classic telephony pattern has no group for the v2 fields
  const tel = pats.find((p) => p.id === 'telephony.classic')!;
  for (const f of ['telephony_id', 'ts', 'txid', 'credits']) t.notOk(tel.fields.includes(f), `classic telephony has no ${f} group`);
});
