// Runs the bundled Duo regexes in four real engines, each ONCE over a whole batch of patterns x lines:
//   ruby  - Debian's ruby (Onigmo), patterns read from the generated fluentd/parsers/duo-regex.conf
//   rust  - the `regex` crate from Debian's librust-regex-dev, patterns read from the generated
//           vector/parsers/duo-regex.yaml (the VRL raw-string literals)
//   pcre2 - Debian's pcre2test (pcre2-utils), patterns from regex/duo-regex.json (dialect pcre2)
//   js    - this Node process (V8 Irregexp), patterns from regex/duo-regex.json (dialect ecmascript)
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import YAML from 'yaml';

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
export const ENGINES = ['ruby', 'rust', 'pcre2', 'js'] as const;
export type Engine = (typeof ENGINES)[number];
export type Captures = Record<string, string | null> | null;

export interface Pat {
  id: string;
  family: 'classic' | 'robust';
  log: string;
  fields: string[];
  published?: string;
  path?: string;
  dialects: { onigmo: string; rust: string; pcre2: string; ecmascript: string };
}

export function loadTable(): Pat[] {
  return JSON.parse(readFileSync(join(ROOT, 'regex/duo-regex.json'), 'utf8')).patterns;
}

/** pattern id -> regex text, exactly as the generated Vector config hands it to parse_regex */
export function vectorPatterns(): Map<string, string> {
  const doc = YAML.parse(readFileSync(join(ROOT, 'vector/parsers/duo-regex.yaml'), 'utf8'));
  const out = new Map<string, string>();
  for (const t of Object.values<any>(doc.transforms)) {
    const lines = String(t.source).split('\n');
    lines.forEach((l, i) => {
      const id = /^# pattern: (\S+)$/.exec(l)?.[1];
      if (!id) return;
      const m = /^f, err = parse_regex\(raw, r'((?:[^'\\]|\\.)*)'\)$/.exec(lines[i + 1] ?? '');
      if (!m) throw new Error(`no parse_regex after "# pattern: ${id}"`);
      out.set(id, m[1].replace(/\\'/g, "'")); // VRL raw string: only \' is an escape
    });
  }
  return out;
}

export const key = (id: string, li: number) => `${id}#${li}`;
type Mode = { mode: 'match' } | { mode: 'time'; reps: number; rustReps?: number };

function run(cmd: string, args: string[], input?: string): Promise<{ stdout: string; stderr: string; code: number | null }> {
  return new Promise((res, rej) => {
    const p = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    p.stdout.on('data', (b) => out.push(b));
    p.stderr.on('data', (b) => err.push(b));
    p.on('error', rej);
    p.on('close', (code) => res({ stdout: Buffer.concat(out).toString('utf8'), stderr: Buffer.concat(err).toString('utf8'), code }));
    p.stdin.on('error', () => {});
    p.stdin.end(input ?? '');
  });
}

function tmp(): string {
  return mkdtempSync(join(tmpdir(), 'duo-regex-'));
}

// ---- Ruby ----------------------------------------------------------------------------------------------
/** epoch seconds Ruby's Time.parse (Fluentd's time parsing without time_format) gave each `time` capture */
export const rubyTimes = new Map<string, number | string>();

export async function runRuby(ids: string[], lines: string[], m: Mode = { mode: 'match' }): Promise<Map<string, any>> {
  const dir = tmp();
  try {
    const req = join(dir, 'req.json');
    writeFileSync(req, JSON.stringify({ conf: join(ROOT, 'fluentd/parsers/duo-regex.conf'), ids, lines, mode: m.mode, reps: m.mode === 'time' ? m.reps : 0 }));
    const r = await run('ruby', [join(ROOT, 'test/regex/engines/ruby-runner.rb'), req]);
    if (r.code !== 0) throw new Error(`ruby runner failed (${r.code}): ${r.stderr.slice(0, 2000)}`);
    const res = new Map<string, any>();
    for (const l of r.stdout.split('\n')) {
      if (!l) continue;
      const [id, li, v, epoch] = JSON.parse(l);
      res.set(key(id, li), v);
      if (epoch !== undefined) rubyTimes.set(key(id, li), epoch);
    }
    return res;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

// ---- Rust ----------------------------------------------------------------------------------------------
export function findCargo(): string | undefined {
  const cands = [process.env.CARGO, 'cargo', join(homedir(), '.cargo/bin/cargo'), '/root/.cargo/bin/cargo'].filter(Boolean) as string[];
  for (const c of cands) if (spawnSync(c, ['--version'], { stdio: 'ignore' }).status === 0) return c;
  return undefined;
}

export const RUST_DIR = join(ROOT, 'test/regex/rust-engine');

/** Builds the runner offline against /usr/share/cargo/registry (see rust-engine/.cargo/config.toml). */
export async function buildRust(): Promise<string> {
  const cargo = findCargo();
  if (!cargo) throw new Error('cargo not found (PATH, ~/.cargo/bin); Debian package: cargo');
  const target = join(RUST_DIR, 'target'); // gitignored; cargo's own lock serialises concurrent test files
  const r = await new Promise<{ code: number | null; err: string }>((res) => {
    const p = spawn(cargo, ['build', '--release', '--offline', '--locked', '--quiet'], { cwd: RUST_DIR, env: { ...process.env, CARGO_TARGET_DIR: target }, stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    p.stderr.on('data', (b) => (err += b));
    p.on('close', (code) => res({ code, err }));
  });
  if (r.code !== 0) throw new Error(`cargo build failed: ${r.err.slice(-3000)}`);
  const bin = join(target, 'release/duo-regex-rust-engine');
  if (!existsSync(bin)) throw new Error('rust runner binary missing after build');
  return bin;
}

export async function runRust(bin: string, pats: { id: string; text: string }[], lines: string[], m: Mode = { mode: 'match' }): Promise<Map<string, any>> {
  for (const x of [...pats.map((p) => p.text), ...lines]) if (x.includes('\n')) throw new Error('newline in a pattern or line');
  const input = [m.mode === 'time' ? `time ${m.reps}` : 'match', pats.length, ...pats.map((p) => p.text), lines.length, ...lines].join('\n') + '\n';
  const r = await run(bin, [], input);
  if (r.code !== 0) throw new Error(`rust runner failed (${r.code}): ${r.stdout.slice(0, 2000)} ${r.stderr.slice(0, 2000)}`);
  const res = new Map<string, any>();
  for (const l of r.stdout.split('\n')) if (l) { const [p, li, v] = JSON.parse(l); res.set(key(pats[p].id, li), v); }
  return res;
}

// ---- PCRE2 (pcre2test) ---------------------------------------------------------------------------------
/**
 * pcre2test prints printable ASCII as is (a backslash too) and anything else as \x{hh}. A subject that
 * itself holds the text `\x{..}` would be ambiguous, so every decoded capture is checked to be a
 * substring of its subject.
 */
export function unPcre(s: string): string {
  return s.replace(/\\x\{([0-9a-fA-F]+)\}/g, (_m, hex) => String.fromCodePoint(parseInt(hex, 16)));
}

export async function runPcre(pats: { id: string; text: string; fields: string[] }[], lines: string[], m: Mode = { mode: 'match' }): Promise<Map<string, any>> {
  const dir = tmp();
  try {
    const parts: string[] = [];
    for (const p of pats) {
      if (p.text.includes('/')) throw new Error(`${p.id}: "/" would end the pcre2test pattern`);
      parts.push(`/${p.text}/utf,subject_literal`, ...lines, '');
    }
    const file = join(dir, 'in.txt');
    writeFileSync(file, parts.join('\n') + '\n');
    // ovector=0: size the match data from the pattern (the default 15 pairs is short for the classic auth)
    const args = ['-q', '-subject', 'ovector=0', ...(m.mode === 'time' ? ['-tm', String(m.reps)] : []), file];
    const r = await run('pcre2test', args);
    if (r.code !== 0 && r.code !== 1) throw new Error(`pcre2test failed (${r.code}): ${r.stderr.slice(0, 2000)}`);
    const out = r.stdout.split('\n');
    const res = new Map<string, any>();
    let i = 0;
    const isResult = (l: string) => /^( *\d+: |No match|Match time|Matched, but|Failed|Error|Partial match)/.test(l);
    for (const p of pats) {
      while (i < out.length && out[i] === '') i++;
      if (!out[i]?.startsWith('/')) throw new Error(`pcre2test output: expected pattern ${p.id}, got ${out[i]?.slice(0, 200)}`);
      i++;
      if (/^(Failed|Error)/.test(out[i] ?? '')) throw new Error(`pcre2test: ${p.id}: ${out[i]}`);
      for (let li = 0; li < lines.length; li++) {
        i++; // the subject's echo
        let caps: Record<number, string | null> | null = null;
        let ms: number | undefined;
        let error: string | undefined;
        while (i < out.length && out[i] !== '' && isResult(out[i])) {
          const l = out[i++];
          let mm: RegExpExecArray | null;
          if ((mm = /^Match time +([0-9.]+) milliseconds/.exec(l))) ms = parseFloat(mm[1]);
          else if ((mm = /^ *(\d+): (.*)$/.exec(l))) {
            const v = mm[2] === '<unset>' ? null : unPcre(mm[2]);
            if (v !== null && !lines[li].includes(v)) throw new Error(`pcre2test ${p.id} line ${li}: cannot decode capture ${mm[2].slice(0, 200)}`);
            caps ??= {};
            caps[+mm[1]] = v;
          }
          else if (/^(Failed|Error|Matched, but)/.test(l)) error = l;
        }
        // an engine error (e.g. "error -47: match limit exceeded") is reported as a string result
        if (error) res.set(key(p.id, li), `pcre2 ${error}`);
        else if (m.mode === 'time') res.set(key(p.id, li), Math.round((ms ?? NaN) * 1e6));
        else res.set(key(p.id, li), caps && Object.fromEntries(p.fields.map((f, gi) => [f, caps![gi + 1] ?? null])));
      }
    }
    return res;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

// ---- JavaScript ----------------------------------------------------------------------------------------
export function runJs(pats: { id: string; text: string; fields: string[] }[], lines: string[], m: Mode = { mode: 'match' }): Map<string, any> {
  const res = new Map<string, any>();
  for (const p of pats) {
    const re = new RegExp(p.text);
    lines.forEach((line, li) => {
      if (m.mode === 'time') {
        re.exec(line);
        let best = Infinity;
        for (let r = 0; r < m.reps; r++) {
          const t0 = process.hrtime.bigint();
          re.exec(line);
          const dt = Number(process.hrtime.bigint() - t0);
          if (dt < best) best = dt;
        }
        res.set(key(p.id, li), best);
      } else {
        const mm = re.exec(line);
        res.set(key(p.id, li), mm && Object.fromEntries(p.fields.map((f, gi) => [f, mm[gi + 1] ?? null])));
      }
    });
  }
  return res;
}

/** Run the given patterns over the given lines in all four engines (the Rust binary must be built). */
export async function runAll(rustBin: string, pats: Pat[], lines: string[], m: Mode = { mode: 'match' }): Promise<Record<Engine, Map<string, any>>> {
  const vec = vectorPatterns();
  const rustPats = pats.map((p) => {
    const text = vec.get(p.id);
    if (text === undefined) throw new Error(`${p.id} missing from the Vector config`);
    return { id: p.id, text };
  });
  const [ruby, rust, pcre2] = await Promise.all([
    runRuby(pats.map((p) => p.id), lines, m),
    // the Rust crate is linear by construction and slow-ish here without its literal optimisations
    // (Debian's regex package lacks the aho-corasick/memchr crates), so it is timed with fewer repetitions
    runRust(rustBin, rustPats, lines, m.mode === 'time' ? { mode: 'time', reps: m.rustReps ?? m.reps } : m),
    runPcre(pats.map((p) => ({ id: p.id, text: p.dialects.pcre2, fields: p.fields })), lines, m),
  ]);
  const js = runJs(pats.map((p) => ({ id: p.id, text: p.dialects.ecmascript, fields: p.fields })), lines, m);
  return { ruby, rust, pcre2, js };
}
