/**
 * Typed, path-aware reading of one YAML mapping. Every problem is collected (not thrown)
 * with its dotted key path and line, so `check-config` can list them all at once.
 * `finish()` reports keys nobody asked for (typo safety, with a "did you mean").
 */
import { isMap, isScalar, type Document, type LineCounter, type Node } from 'yaml';
import type { ConfigProblem } from '../errors.js';

export interface Source {
  doc?: Document;
  lines?: LineCounter;
  file?: string;
  problems: ConfigProblem[];
}

type Opt<T> = { default?: T; required?: boolean };

export class ConfigReader {
  readonly #seen = new Set<string>();
  constructor(
    readonly value: Record<string, unknown>,
    readonly path: string[],
    readonly source: Source,
  ) {}

  static root(value: unknown, source: Source): ConfigReader {
    const r = new ConfigReader({}, [], source);
    if (value === null || value === undefined) return r;
    if (typeof value !== 'object' || Array.isArray(value)) {
      r.problem([], 'the config file must be a YAML mapping of keys to values');
      return r;
    }
    return new ConfigReader(value as Record<string, unknown>, [], source);
  }

  /** Record a problem at `key` (relative to this mapping). */
  error(key: string, message: string): void {
    this.problem([...this.path, key], message);
  }

  problem(path: string[], message: string): void {
    const p: ConfigProblem = { key: path.join('.'), message, file: this.source.file };
    const line = this.lineOf(path);
    if (line) p.line = line;
    this.source.problems.push(p);
  }

  has(key: string): boolean {
    return this.value[key] !== undefined && this.value[key] !== null;
  }

  raw(key: string): unknown {
    this.#seen.add(key);
    return this.value[key];
  }

  str(key: string, opt: Opt<string> & { pattern?: RegExp; hint?: string } = {}): string | undefined {
    const v = this.raw(key);
    if (v === undefined || v === null) return this.missing(key, opt);
    if (typeof v !== 'string' && typeof v !== 'number') {
      this.error(key, `must be a string, not ${describe(v)}`);
      return opt.default;
    }
    const s = String(v);
    if (opt.pattern && !opt.pattern.test(s)) {
      this.error(key, opt.hint ?? `has an invalid value`);
      return opt.default;
    }
    return s;
  }

  num(key: string, opt: Opt<number> & { min?: number; max?: number; integer?: boolean; unit?: string } = {}): number | undefined {
    const v = this.raw(key);
    if (v === undefined || v === null) return this.missing(key, opt);
    const n = typeof v === 'number' ? v : typeof v === 'string' && v.trim() !== '' ? Number(v) : NaN;
    const unit = opt.unit ? ` ${opt.unit}` : '';
    if (!Number.isFinite(n)) {
      this.error(key, `must be a number${unit}, not ${describe(v)}`);
      return opt.default;
    }
    if (opt.integer && !Number.isInteger(n)) {
      this.error(key, `must be a whole number${unit}, not ${n}`);
      return opt.default;
    }
    if ((opt.min !== undefined && n < opt.min) || (opt.max !== undefined && n > opt.max)) {
      const range = opt.max === undefined ? `at least ${opt.min}` : opt.min === undefined ? `at most ${opt.max}` : `between ${opt.min} and ${opt.max}`;
      this.error(key, `must be ${range}${unit}, not ${n}`);
      return opt.default;
    }
    return n;
  }

  int(key: string, opt: Opt<number> & { min?: number; max?: number; unit?: string } = {}): number | undefined {
    return this.num(key, { ...opt, integer: true });
  }

  bool(key: string, opt: Opt<boolean> = {}): boolean | undefined {
    const v = this.raw(key);
    if (v === undefined || v === null) return this.missing(key, opt);
    if (typeof v !== 'boolean') {
      this.error(key, `must be true or false, not ${describe(v)}`);
      return opt.default;
    }
    return v;
  }

  oneOf<T extends string>(key: string, values: readonly T[], opt: Opt<T> = {}): T | undefined {
    const v = this.raw(key);
    if (v === undefined || v === null) return this.missing(key, opt);
    if (typeof v !== 'string' || !(values as readonly string[]).includes(v)) {
      const guess = typeof v === 'string' ? closest(v, values) : undefined;
      this.error(key, `must be one of ${values.join(', ')}, not ${describe(v)}${guess ? ` (did you mean "${guess}"?)` : ''}`);
      return opt.default;
    }
    return v as T;
  }

  /** A nested mapping; `undefined` when absent (or when it is not a mapping, which is reported). */
  obj(key: string, opt: { required?: boolean } = {}): ConfigReader | undefined {
    const v = this.raw(key);
    if (v === undefined || v === null) {
      if (opt.required) this.error(key, 'is required');
      return undefined;
    }
    if (typeof v !== 'object' || Array.isArray(v)) {
      this.error(key, `must be a mapping of keys to values, not ${describe(v)}`);
      return undefined;
    }
    return new ConfigReader(v as Record<string, unknown>, [...this.path, key], this.source);
  }

  /** A list of strings. */
  strList(key: string, opt: Opt<string[]> = {}): string[] | undefined {
    const v = this.raw(key);
    if (v === undefined || v === null) return this.missing(key, opt);
    if (!Array.isArray(v) || v.some((x) => typeof x !== 'string')) {
      this.error(key, `must be a list of strings, not ${describe(v)}`);
      return opt.default;
    }
    return v as string[];
  }

  /** Report every key of this mapping that no reader asked for. */
  finish(): void {
    for (const key of Object.keys(this.value)) {
      if (this.#seen.has(key)) continue;
      const guess = closest(key, [...this.#seen]);
      this.error(key, `is not a known setting${guess ? ` (did you mean "${guess}"?)` : ''}`);
    }
  }

  private missing<T>(key: string, opt: Opt<T>): T | undefined {
    if (opt.required) this.error(key, 'is required');
    return opt.default;
  }

  private lineOf(path: string[]): number | undefined {
    const { doc, lines } = this.source;
    if (!doc || !lines) return undefined;
    // Point at the key itself when it exists, else at the closest existing parent.
    for (let n = path.length; n > 0; n--) {
      const parent = n === 1 ? doc.contents : (doc.getIn(path.slice(0, n - 1), true) as Node | undefined);
      if (!isMap(parent)) continue;
      const pair = parent.items.find((it) => isScalar(it.key) && String(it.key.value) === path[n - 1]);
      const range = pair && isScalar(pair.key) ? pair.key.range : undefined;
      if (range) return lines.linePos(range[0]).line;
    }
    return undefined;
  }
}

export function describe(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'object') return 'a mapping';
  if (typeof v === 'string') return JSON.stringify(v.length > 40 ? v.slice(0, 40) + '…' : v);
  return String(v);
}

/** The candidate within edit distance 2 (or a prefix match), for "did you mean". */
export function closest(word: string, candidates: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestD = 3;
  for (const c of candidates) {
    const d = distance(word.toLowerCase(), c.toLowerCase());
    if (d < bestD) [best, bestD] = [c, d];
  }
  return best;
}

function distance(a: string, b: string): number {
  const dp = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let prev = dp[0]!;
    dp[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const tmp = dp[j]!;
      dp[j] = Math.min(dp[j]! + 1, dp[j - 1]! + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = tmp;
    }
  }
  return dp[b.length]!;
}
