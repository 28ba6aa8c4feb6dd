#!/usr/bin/env node
// Generates, from regex/patterns.mjs (the single source of truth):
//   regex/duo-regex.json             every pattern in each engine's dialect (PCRE2/JS consumers read this)
//   fluentd/parsers/duo-regex.conf   Fluentd <filter @type parser> blocks with <parse> @type regexp
//   vector/parsers/duo-regex.yaml    Vector remap transforms using parse_regex, raw line kept in .message
//   regex/README.md                  the group/field tables between the "generated" markers
// Usage: node regex/generate.mjs [--check]   (--check: exit 1 and list stale files, write nothing)
import { readFileSync, writeFileSync, mkdirSync, existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CLASSIC, ROBUST, LOGS } from './patterns.mjs';

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');

// ---- dialect transforms ------------------------------------------------------------------------------

/** Walk a pattern, calling visit(kind, text) for escapes, classes, group openers and other chars. */
function tokens(p) {
  const out = [];
  for (let i = 0; i < p.length; ) {
    const c = p[i];
    if (c === '\\') { out.push(['esc', p.slice(i, i + 2)]); i += 2; continue; }
    if (c === '[') {
      let j = i + 1;
      if (p[j] === '^') j++;
      if (p[j] === ']') j++;
      while (j < p.length && p[j] !== ']') j += p[j] === '\\' ? 2 : 1;
      out.push(['class', p.slice(i, j + 1)]);
      i = j + 1;
      continue;
    }
    if (c === '(') {
      if (p[i + 1] === '?') {
        const m = /^\(\?(?:P?<([A-Za-z_][A-Za-z0-9_]*)>)/.exec(p.slice(i));
        if (m) { out.push(['named', m[0], m[1]]); i += m[0].length; continue; }
        out.push(['group', '(?']); i += 2; continue;
      }
      out.push(['capture', '(']); i += 1; continue;
    }
    const q = c === '{' && /^\{[0-9]+(?:,[0-9]*)?\}/.exec(p.slice(i));
    if (q) { out.push(['quant', q[0]]); i += q[0].length; continue; }
    out.push(['char', c]); i += 1;
  }
  return out;
}

/** Give the classic's unnamed groups names (same positions, same semantics). */
export function nameGroups(p, names, style = '?<') {
  let n = 0;
  const s = tokens(p).map(([k, t]) => (k === 'capture' ? `(${style}${names[n++]}>` : t)).join('');
  if (n !== names.length) throw new Error(`pattern has ${n} groups, ${names.length} names given`);
  return s;
}

/** Escape literal braces outside classes (Rust `regex` rejects a bare `{` that starts no repetition). */
export function escapeBraces(p) {
  return tokens(p).map(([k, t]) => (k === 'char' && (t === '{' || t === '}') ? '\\' + t : t)).join('');
}

/** (?<name> -> (?P<name>: accepted by every Rust regex version (Debian's 1.7 and Vector's 1.12). */
export function toRustNames(p) {
  return tokens(p).map(([k, t, name]) => (k === 'named' ? `(?P<${name}>` : t)).join('');
}

/** ECMAScript has no \A or \z; without the m flag ^ and $ anchor the whole string. */
export function toEcma(p) {
  return tokens(p).map(([k, t]) => (k === 'esc' && t === '\\A' ? '^' : k === 'esc' && t === '\\z' ? '$' : t)).join('');
}

/** Capture names in group-number order (1, 2, ...). */
export function groupNames(p) {
  return tokens(p).filter(([k]) => k === 'capture' || k === 'named').map(([k, , name]) => name ?? null);
}

/** The shared-file rules (fluentd-vector.md §5): returns a list of problems, empty when the pattern is portable. */
export function lint(p, { classic = false } = {}) {
  const problems = [];
  const toks = tokens(p);
  for (const [k, t, name] of toks) {
    if (k === 'named' && !/^[a-z_][a-z0-9_]*$/.test(name)) problems.push(`group name ${name} is not snake_case`);
    // backreferences, \k \g \K \G \Z \R \X \h, and the classes whose meaning differs (ASCII vs Unicode)
    if (!classic && k === 'esc' && /^\\[1-9kgKGZRXhHbBdDwWsS<>]$/.test(t)) problems.push(`non-portable escape ${t}`);
  }
  if (/\(\?[=!>]|\(\?<[=!]/.test(p)) problems.push('look-around or atomic group');
  if (/[*+?}]\+/.test(p.replace(/\\./g, 'X').replace(/\[[^\]]*\]/g, 'X'))) problems.push('possessive quantifier');
  if (/\(\?[a-zA-Z-]+[:)]/.test(p)) problems.push('inline flags');
  if (/\(\?P</.test(p)) problems.push('(?P<name>) is not accepted by Ruby');
  if (/#|\/|'|\s/.test(p.replace(/\[[^\]]*\]/g, ''))) problems.push('contains # / quote or whitespace outside a class (breaks Fluentd/VRL quoting)');
  if (!classic && toks.some(([k, t]) => k === 'char' && (t === '{' || t === '}'))) problems.push('unescaped brace');
  const names = toks.filter(([k]) => k === 'named').map(([, , n]) => n);
  if (new Set(names).size !== names.length) problems.push('duplicate group name');
  if (!classic && toks.some(([k]) => k === 'capture')) problems.push('unnamed capture group');
  return problems;
}

// ---- the pattern table -----------------------------------------------------------------------------

export function buildTable() {
  const classic = CLASSIC.map((c) => {
    const named = nameGroups(c.published, c.groups);
    return {
      id: `${c.log}.classic`,
      family: 'classic',
      log: c.log,
      fields: c.groups,
      published: c.published,
      dialects: {
        // Fluentd needs named captures (unnamed ones become non-capturing once a name exists in Ruby)
        onigmo: named,
        rust: escapeBraces(nameGroups(c.published, c.groups, '?P<')),
        pcre2: c.published,
        ecmascript: c.published,
      },
    };
  });
  const robust = ROBUST.map((r) => ({
    id: r.id,
    family: 'robust',
    log: r.log,
    fields: [r.field],
    path: r.path,
    shape: r.shape,
    dialects: {
      onigmo: r.source,
      rust: toRustNames(r.source),
      pcre2: r.source,
      ecmascript: toEcma(r.source),
    },
  }));
  for (const p of [...classic, ...robust]) {
    const probs = lint(p.dialects.onigmo, { classic: p.family === 'classic' });
    if (probs.length) throw new Error(`${p.id}: ${probs.join('; ')}`);
    for (const [d, text] of Object.entries(p.dialects)) {
      const names = groupNames(text);
      if (p.family === 'robust' || d === 'onigmo' || d === 'rust') {
        if (JSON.stringify(names) !== JSON.stringify(p.fields)) throw new Error(`${p.id}/${d}: groups ${names} != ${p.fields}`);
      } else if (names.length !== p.fields.length) throw new Error(`${p.id}/${d}: ${names.length} groups`);
    }
  }
  return [...classic, ...robust];
}

// ---- renderers ---------------------------------------------------------------------------------------

const BANNER = 'GENERATED by regex/generate.mjs from regex/patterns.mjs. Do not edit; edit the source and regenerate.';

function renderJson(table) {
  return JSON.stringify({ _generated: BANNER, patterns: table }, null, 2) + '\n';
}

function fluentFilter(tag, p, isTime) {
  const lines = [
    `# ${p.id}: ${p.family === 'classic' ? 'published pattern, groups named ' + p.fields.join(', ') : p.path + ' -> ' + p.fields[0]}`,
    `<filter ${tag}>`,
    '  @type parser',
    '  key_name message',
    '  reserve_data true',
    ...(isTime ? [] : ['  reserve_time true']),
    '  emit_invalid_record_to_error false',
    '  <parse>',
    '    @type regexp',
    `    expression /${p.dialects.onigmo}/`,
    ...(isTime ? ['    time_key time', '    keep_time_key true'] : []),
    '  </parse>',
    '</filter>',
  ];
  return lines.join('\n');
}

function renderFluentd(table) {
  const out = [
    `# ${BANNER}`,
    '#',
    '# Regex parsers for duo-log-bridge lines (compact JSON, or JSON behind an RFC 3164/5424 syslog header)',
    '# read into the record key `message` (in_tail with <parse> @type none, in_syslog, in_tcp ...).',
    '# reserve_data keeps `message` and every earlier field, so the filters stack.',
    '#',
    '# Robust parsers: tag duo.<log>. One filter per field, each regex extracts one named field and is',
    '#   indifferent to key order, missing/extra keys, null values and syslog headers. A field that is',
    '#   null or absent is simply not added. `time` becomes the event time (Time.parse) and is kept.',
    '# Classic parsers: tag duo.classic.<log>. The published patterns (see regex/README.md), their groups',
    '#   given names; they only match the bridge\'s exact compact record shape.',
    '',
  ];
  for (const log of LOGS) {
    out.push(`# ===== ${log}: robust =====`);
    for (const p of table.filter((x) => x.log === log && x.family === 'robust')) {
      out.push(fluentFilter(`duo.${log}`, p, p.fields[0] === 'time'), '');
    }
  }
  for (const log of LOGS) {
    out.push(`# ===== ${log}: classic =====`);
    for (const p of table.filter((x) => x.log === log && x.family === 'classic')) out.push(fluentFilter(`duo.classic.${log}`, p, false), '');
  }
  return out.join('\n');
}

function vrlBlock(p) {
  const re = p.dialects.rust;
  if (re.includes("'")) throw new Error(`${p.id}: a quote cannot go into a VRL raw regex literal`);
  return [
    `# pattern: ${p.id}`,
    `f, err = parse_regex(raw, r'${re}')`,
    'if err == null { . = merge(., compact(f, string: false)) }',
  ].join('\n');
}

function renderVector(table) {
  const out = [
    `# ${BANNER}`,
    '#',
    '# Vector remap transforms (VRL parse_regex, Rust `regex` crate) for duo-log-bridge lines in `.message`.',
    '# The raw line stays in `.message`: VRL re-sorts object keys when it encodes, so the classic',
    '# patterns can only ever match the original line, never a re-encoded event.',
    '# Point each transform\'s inputs at your source of that log\'s lines (placeholders: duo_<log>_lines).',
    '# Named groups are written (?P<name>...), accepted by every regex crate version; a null capture',
    '# is dropped (compact) so absent and null fields look the same as in Fluentd.',
    'transforms:',
  ];
  const block = (name, input, pats) => {
    out.push(`  ${name}:`, '    type: remap', `    inputs: ["${input}"]`, '    source: |');
    const body = ['raw = string(.message) ?? ""', ...pats.map(vrlBlock)].join('\n');
    for (const l of body.split('\n')) out.push('      ' + l);
  };
  for (const log of LOGS) block(`duo_regex_${log}`, `duo_${log}_lines`, table.filter((x) => x.log === log && x.family === 'robust'));
  for (const log of LOGS) block(`duo_classic_${log}`, `duo_${log}_lines`, table.filter((x) => x.log === log && x.family === 'classic'));
  return out.join('\n') + '\n';
}

const MARK_START = '<!-- generated:start (regex/generate.mjs) -->';
const MARK_END = '<!-- generated:end -->';

function renderReadmeTables(table) {
  const out = [MARK_START, ''];
  for (const c of table.filter((x) => x.family === 'classic')) {
    out.push(`**${c.log} (classic)**: group number → field`, '', '| group | field |', '|---|---|');
    c.fields.forEach((f, i) => out.push(`| ${i + 1} | ${f} |`));
    out.push('');
  }
  out.push('**Robust patterns**: one pattern per field, one named group each', '', '| pattern id | named group | key path in the Duo event | value |', '|---|---|---|---|');
  for (const r of table.filter((x) => x.family === 'robust')) out.push(`| ${r.id} | \`${r.fields[0]}\` | \`${r.path}\` | ${r.shape} |`);
  out.push('', MARK_END);
  return out.join('\n');
}

function renderReadme(table, current) {
  const tables = renderReadmeTables(table);
  const a = current.indexOf(MARK_START);
  const b = current.indexOf(MARK_END);
  if (a < 0 || b < 0) return current.trimEnd() + '\n\n' + tables + '\n';
  return current.slice(0, a) + tables + current.slice(b + MARK_END.length);
}

/** path (relative to the repo root) -> expected content */
export function render() {
  const table = buildTable();
  const readmePath = join(ROOT, 'regex/README.md');
  const readme = existsSync(readmePath) ? readFileSync(readmePath, 'utf8') : '# regex\n';
  return {
    'regex/duo-regex.json': renderJson(table),
    'fluentd/parsers/duo-regex.conf': renderFluentd(table),
    'vector/parsers/duo-regex.yaml': renderVector(table),
    'regex/README.md': renderReadme(table, readme),
  };
}

/** Files whose content on disk differs from the generator's output. */
export function staleFiles() {
  return Object.entries(render())
    .filter(([rel, text]) => !existsSync(join(ROOT, rel)) || readFileSync(join(ROOT, rel), 'utf8') !== text)
    .map(([rel]) => rel);
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  if (process.argv.includes('--check')) {
    const stale = staleFiles();
    if (stale.length) { console.error('stale generated files: ' + stale.join(', ')); process.exit(1); }
    console.log('generated files are up to date');
  } else {
    for (const [rel, text] of Object.entries(render())) {
      mkdirSync(dirname(join(ROOT, rel)), { recursive: true });
      writeFileSync(join(ROOT, rel), text);
      console.log('wrote ' + rel);
    }
  }
}
