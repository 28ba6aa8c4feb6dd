/**
 * The README's CEF mapping table is written from CEF_MAPPINGS, the
 * same data cefLine() uses: this test fails when the two drift apart.
 * `DLB_WRITE_CEF_TABLE=1 npx tap test/format/cef-doc.test.ts` rewrites the table in place.
 */
import t from 'tap';
import { readFileSync, writeFileSync } from 'node:fs';
import { CEF_MAPPINGS } from '../../src/format/cef.js';

export function cefTable(): string {
  let out = '';
  for (const m of CEF_MAPPINGS) {
    const name = m.logTypes[0] === '*' ? 'Any other log type' : m.logTypes.map((x) => '`' + x + '`').join(', ');
    out += `\n###### ${name}\n\nSignature (Device Event Class ID): ${m.signatureFrom}. Severity: ${m.severityFrom}.\n\n| CEF key | Label | From |\n|---|---|---|\n`;
    for (const f of m.fields) out += `| \`${f.key}\` | ${f.label ? '`' + f.label + '`' : ''} | ${f.from} |\n`;
  }
  return out;
}

const BEGIN = '<!-- cef-table:begin (generated from src/format/cef.ts by test/format/cef-doc.test.ts) -->';
const END = '<!-- cef-table:end -->';
const file = new URL('../../README.md', import.meta.url);
const doc = readFileSync(file, 'utf8');
const a = doc.indexOf(BEGIN);
const b = doc.indexOf(END);

t.ok(a >= 0 && b > a, 'the doc has the generated-table markers');
const current = doc.slice(a + BEGIN.length, b);
if (process.env.DLB_WRITE_CEF_TABLE) {
  writeFileSync(file, doc.slice(0, a + BEGIN.length) + cefTable() + '\n' + doc.slice(b));
  t.pass('table rewritten');
} else {
  t.equal(current, cefTable() + '\n', 'docs-drafts/syslog.md shows the mapping the code uses');
}
