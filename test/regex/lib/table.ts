// Compare the four engines' results with each other and with the oracle's expectations, and render
// the "pattern x engine x lines matched, fields equal" table.
import { ENGINES, Engine, Pat, key } from './engines.js';

export interface Case { log: string; li: number; id: string; expect: Record<string, any>; classic_unknown?: string }

export interface Row {
  id: string;
  lines: number;
  perEngine: Record<Engine, { matched: number; equal: number; checked: number }>;
  agree: number; // lines where all four engines returned identical results
  problems: string[];
}

const J = (v: unknown) => JSON.stringify(v);

export function compare(pats: Pat[], cases: Case[], results: Record<Engine, Map<string, any>>): Row[] {
  return pats.map((p) => {
    const mine = cases.filter((c) => c.log === p.log);
    const row: Row = { id: p.id, lines: mine.length, perEngine: {} as Row['perEngine'], agree: 0, problems: [] };
    for (const e of ENGINES) row.perEngine[e] = { matched: 0, equal: 0, checked: 0 };
    for (const c of mine) {
      const got = Object.fromEntries(ENGINES.map((e) => [e, results[e].get(key(p.id, c.li))])) as Record<Engine, any>;
      const known = Object.prototype.hasOwnProperty.call(c.expect, p.id);
      for (const e of ENGINES) {
        if (got[e] === undefined) { row.problems.push(`${e}: no result for ${c.id}`); continue; }
        if (got[e] !== null) row.perEngine[e].matched++;
        if (known) {
          row.perEngine[e].checked++;
          if (J(got[e]) === J(c.expect[p.id])) row.perEngine[e].equal++;
          else if (row.problems.length < 6) row.problems.push(`${e} on ${c.id}: got ${J(got[e])?.slice(0, 300)} expected ${J(c.expect[p.id])?.slice(0, 300)}`);
        }
      }
      if (ENGINES.every((e) => J(got[e]) === J(got.ruby))) row.agree++;
      else if (row.problems.length < 6) row.problems.push(`engines disagree on ${c.id}: ${ENGINES.map((e) => `${e}=${J(got[e])?.slice(0, 200)}`).join(' ')}`);
    }
    return row;
  });
}

export function render(title: string, rows: Row[]): string {
  const head = ['pattern', 'lines', ...ENGINES.map((e) => `${e} matched`), ...ENGINES.map((e) => `${e} fields=`), 'engines agree', 'ok'];
  const body = rows.map((r) => [
    r.id,
    String(r.lines),
    ...ENGINES.map((e) => String(r.perEngine[e].matched)),
    ...ENGINES.map((e) => `${r.perEngine[e].equal}/${r.perEngine[e].checked}`),
    `${r.agree}/${r.lines}`,
    r.problems.length ? 'FAIL' : 'ok',
  ]);
  const w = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i].length)));
  const fmt = (cells: string[]) => '| ' + cells.map((c, i) => c.padEnd(w[i])).join(' | ') + ' |';
  return [title, fmt(head), '|' + w.map((n) => '-'.repeat(n + 2)).join('|') + '|', ...body.map(fmt)].join('\n');
}
