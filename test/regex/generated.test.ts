// The generated parser files come from regex/patterns.mjs and nothing else:
//  - the committed fluentd/, vector/, regex/duo-regex.json, README tables and corpus equal the generators'
//    output (stale files fail), and the --check mode really fails on a stale copy;
//  - each engine's dialect differs from the published / portable source only by the documented rewrites;
//  - the Rust crate really rejects the text the rewrites avoid.
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import YAML from 'yaml';
import { ROOT, buildRust, loadTable, runRust, vectorPatterns } from './lib/engines.js';
// @ts-ignore -- plain ESM modules
import { staleFiles, lint, groupNames } from '../../regex/generate.mjs';
// @ts-ignore
import { render as renderCorpus } from '../../regex/corpus/make-corpus.mjs';

t.test('generated files are up to date', async (t) => {
  t.same(staleFiles(), [], 'fluentd/parsers, vector/parsers, regex/duo-regex.json and the README tables match `node regex/generate.mjs`');
  for (const [path, text] of Object.entries<string>(renderCorpus())) {
    t.equal(readFileSync(path, 'utf8'), text, `${path.slice(ROOT.length + 1)} matches regex/corpus/make-corpus.mjs`);
  }
});

t.test('the staleness check fails on a stale copy and passes after regenerating', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'duo-regex-gen-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  cpSync(join(ROOT, 'regex'), join(dir, 'regex'), { recursive: true });
  mkdirSync(join(dir, 'fluentd/parsers'), { recursive: true });
  mkdirSync(join(dir, 'vector/parsers'), { recursive: true });
  const check = () => spawnSync(process.execPath, [join(dir, 'regex/generate.mjs'), '--check'], { encoding: 'utf8' });
  let r = check();
  t.equal(r.status, 1, 'missing generated files: --check exits 1');
  t.match(r.stderr, /fluentd\/parsers\/duo-regex\.conf/);
  t.equal(spawnSync(process.execPath, [join(dir, 'regex/generate.mjs')]).status, 0, 'generate');
  t.equal(check().status, 0, 'fresh: --check exits 0');
  t.equal(readFileSync(join(dir, 'fluentd/parsers/duo-regex.conf'), 'utf8'), readFileSync(join(ROOT, 'fluentd/parsers/duo-regex.conf'), 'utf8'), 'same output as the committed file');
  // edit the source: the committed outputs are now stale
  const src = join(dir, 'regex/patterns.mjs');
  writeFileSync(src, readFileSync(src, 'utf8').replace("['txid', ['txid'], 'string'],\n    ['eventtype'", "['eventtype'"));
  r = check();
  t.equal(r.status, 1, 'after a source edit: --check exits 1');
  t.match(r.stderr, /vector\/parsers\/duo-regex\.yaml/);
  // hand-edit a generated file
  spawnSync(process.execPath, [join(dir, 'regex/generate.mjs')]);
  const conf = join(dir, 'fluentd/parsers/duo-regex.conf');
  writeFileSync(conf, readFileSync(conf, 'utf8').replace('reserve_data true', 'reserve_data false'));
  r = check();
  t.equal(r.status, 1, 'after a hand edit: --check exits 1');
  t.match(r.stderr, /fluentd\/parsers\/duo-regex\.conf/);
});

t.test('dialects differ from the source only by the documented rewrites', async (t) => {
  const table = loadTable();
  const vec = vectorPatterns();
  const fluent = readFileSync(join(ROOT, 'fluentd/parsers/duo-regex.conf'), 'utf8');
  const expressions = [...fluent.matchAll(/^ {4}expression \/(.*)\/$/gm)].map((m) => m[1]);
  t.equal(expressions.length, table.length, 'one Fluentd expression per pattern');
  for (const p of table) {
    t.ok(expressions.includes(p.dialects.onigmo), `${p.id}: Fluentd file holds the onigmo dialect`);
    t.equal(vec.get(p.id), p.dialects.rust, `${p.id}: Vector file holds the rust dialect`);
    t.same(lint(p.dialects.onigmo, { classic: p.family === 'classic' }), [], `${p.id}: portable-subset lint`);
    if (p.family === 'classic') {
      const unname = (s: string) => s.replace(/\(\?P?<[a-z_]+>/g, '(');
      t.equal(unname(p.dialects.onigmo), p.published, `${p.id}: Fluentd form = published text with named groups`);
      t.equal(unname(p.dialects.rust).replace(/\\([{}])/g, '$1'), p.published, `${p.id}: Vector form = published text, groups named, braces escaped`);
      t.equal(p.dialects.pcre2, p.published, `${p.id}: PCRE2 gets the published text`);
      t.equal(p.dialects.ecmascript, p.published, `${p.id}: JS gets the published text`);
      t.same(groupNames(p.dialects.onigmo), p.fields, `${p.id}: group names in order`);
    } else {
      t.equal(p.dialects.rust, p.dialects.onigmo.replace(/\(\?<([a-z_]+)>/g, '(?P<$1>'), `${p.id}: Vector form only spells names (?P<..>)`);
      t.equal(p.dialects.ecmascript, p.dialects.onigmo.replace(/\\A/g, '^').replace(/\\z/g, '$'), `${p.id}: JS form only swaps \\A for ^`);
      t.equal(p.dialects.pcre2, p.dialects.onigmo, `${p.id}: PCRE2 gets the portable text`);
    }
  }
  // the Vector config keeps the raw line in .message (never assigns it) and merges fields beside it
  const doc = YAML.parse(readFileSync(join(ROOT, 'vector/parsers/duo-regex.yaml'), 'utf8'));
  for (const [name, tr] of Object.entries<any>(doc.transforms)) {
    t.equal(tr.type, 'remap', `${name} is a remap`);
    t.match(tr.source, /^raw = string\(\.message\) \?\? ""$/m, `${name} reads .message`);
    t.notMatch(tr.source, /\.message\s*=[^=]/, `${name} never overwrites .message`);
  }
});

t.test('the portable-subset lint rejects what one of the engines would read differently', async (t) => {
  const bad: [string, RegExp][] = [
    ['(?<a>x)(?=y)', /look-around/],
    ['(?<a>x)(?<!y)', /look-around/],
    ['(?<a>x)(?>y)', /atomic/],
    ['(?<a>x*+)', /possessive/],
    ['(?<a>x)\\1', /escape/],
    ['(?<a>\\d+)', /escape/],
    ['(?<a>\\s)', /escape/],
    ['(?m)(?<a>x)', /inline flags/],
    ['(?P<a>x)', /Ruby/],
    ['(?<a>x)(?<a>y)', /duplicate/],
    ['(?<a>x)(y)', /unnamed/],
    ['\\{(?<a>x)}', /unescaped brace/],
    ['(?<a>x) #y', /quote or whitespace/],
    ["(?<a>x)'", /quote or whitespace/],
    ['(?<a>x/y)', /quote or whitespace/],
    ['(?<Bad>x)', /snake_case/],
  ];
  for (const [p, why] of bad) t.match(lint(p).join('; '), why, `lint rejects ${p}`);
  t.same(lint('\\A[^{]*\\{(?<a>[0-9]{4}[ \\t]*)'), [], 'lint accepts the building blocks');
});

t.test('Rust regex rejects what the rewrites avoid (why the Vector dialect exists)', async (t) => {
  const bin = await buildRust();
  const table = loadTable();
  const classic = table.find((p) => p.id === 'administrator.classic')!;
  await t.rejects(runRust(bin, [{ id: 'x', text: classic.published! }], ['{}']), /repetition operator missing expression/, 'published classic text: a bare { is an error in Rust');
  const robust = table.find((p) => p.id === 'authentication.user')!;
  const r = await runRust(bin, [{ id: 'x', text: robust.dialects.rust }], ['{"user":{"name":"a"}}']).catch((e) => e);
  t.same(r.get?.('x#0'), { user: 'a' }, '(?P<name>) form compiles and matches');
  await t.rejects(runRust(bin, [{ id: 'x', text: robust.dialects.onigmo }], ['{}']), /error/i, "(?<name>) is rejected by Debian's regex 1.7 (accepted since 1.8, which Vector uses)");
});
