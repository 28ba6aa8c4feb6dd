// Adversarial lines for the backtracking test. Every line of a set has exactly the same length.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT } from './engines.js';

export const LOGS = ['authentication', 'administrator', 'telephony'] as const;

const fill = (unit: string, n: number) => unit.repeat(Math.ceil(n / unit.length)).slice(0, n);
const fit = (prefix: string, unit: string, n: number) => prefix + fill(unit, n - prefix.length);

const SAMPLE_ID: Record<string, string> = { authentication: 'auth-sample', administrator: 'admin-sample', telephony: 'tel-v2' };

function sample(log: string): any {
  for (const l of readFileSync(join(ROOT, `regex/corpus/${log}.ndjson`), 'utf8').split('\n')) {
    if (l && JSON.parse(l).id === SAMPLE_ID[log]) return JSON.parse(JSON.parse(l).line);
  }
  throw new Error(`no ${SAMPLE_ID[log]} in the corpus`);
}

/**
 * A normal line of exactly n characters: the documented sample in the bridge's shape, its FIRST string
 * value (access_device.browser / action / context) grown to fill the length. Every key a pattern looks
 * for comes after (or is) that value, so a match has to read the whole line, as for a valid but unlucky
 * event.
 */
export function normalLine(log: string, n: number): string {
  const r = sample(log);
  const base = JSON.stringify(r);
  const grow = (v: string) => v + 'a'.repeat(n - base.length);
  if (log === 'authentication') r.access_device.browser = grow(r.access_device.browser);
  else if (log === 'administrator') r.action = grow(r.action);
  else r.context = grow(r.context);
  const l = JSON.stringify(r);
  if (l.length !== n) throw new Error(`normal line is ${l.length}`);
  return l;
}

/** The issue's adversaries: repeated quotes, colons, braces (and mixes), and near-matches failing at the end. */
export function issueAdversaries(n: number): Record<string, string> {
  const out: Record<string, string> = {
    quotes: fill('"', n),
    colons: fill(':', n),
    open_braces: fill('{', n),
    close_braces: fill('}', n),
    brace_quote_colon: fill('{":', n),
    quote_colon_quote: fill('":"', n),
    object_openers: fill('{"a":', n),
    escaped_quotes: fit('{"a":"', '\\"', n),
    brace_then_quotes: fit('{', '"', n),
    brace_then_colons: fit('{"', ':', n),
  };
  for (const log of LOGS) {
    const normal = normalLine(log, n);
    // the same event cut 40 characters before its end (the last keys and the closing brace are gone),
    // then grown back to n inside the long first value: every pattern reads it all and then fails
    const cut = normal.slice(0, n - 40);
    const at = cut.indexOf('aaaa');
    out[`near_match_${log}`] = cut.slice(0, at) + 'a'.repeat(40) + cut.slice(at);
    // a near-match that breaks at the very end: the closing quote of the last string is dropped
    const open = normal.replace(/"(,"host":")([^"]*)"\}$/, '"$1$2x}');
    out[`unclosed_${log}`] = open;
  }
  return out;
}

/** Crafted near-matches: the keys the patterns look for, repeated. */
export function craftedAdversaries(n: number): Record<string, string> {
  return {
    rep_user_name_unterminated: fit('{', '"user":{"name":"\\', n),
    rep_access_location: fit('{', '"access_device":{"location":{"city":', n),
    rep_nested_objects: fit('{"a":', '{"b":', n),
    rep_isotimestamp_open: fit('{', '"isotimestamp":"2020-01-01T00:00:00', n),
    rep_description_unterminated: fit('{', '"description":"{\\"a\\":', n),
    rep_credits: fit('{', '"credits":"1', n),
    // aimed at the published patterns' chains of .+ and literals
    rep_auth_chain: fit('{"access_device":{"browser":"a",', 'hostname":"a","ip":"a",location":{"city":"a","country":"a","state":"a"},"os":"a",', n),
    rep_admin_chain: fit('{"action":"a","description":"{', '}","isotimestamp":"1', n),
    rep_telephony_chain: fit('{"context":"a",', 'isotimestamp":"1","phone":"1"', n),
  };
}
