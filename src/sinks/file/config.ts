/**
 * `output: {type: file, path, format: json|cef, rotate: {max_bytes, max_age_secs, keep}, mode}`.
 * Every problem names its key and line. `mode` must be a quoted octal string ("0640"):
 * YAML reads an unquoted 0640 as the decimal 640, and a file mode is too important to guess.
 */
import { dirname, isAbsolute, resolve } from 'node:path';
import type { ConfigReader } from '../../config/reader.js';

export interface FileConfig {
  type: 'file';
  path: string;
  format: 'json' | 'cef';
  maxBytes: number;
  /** 0 = no age-based rotation. */
  maxAgeMs: number;
  /** Rotated files kept (oldest deleted beyond this). */
  keep: number;
  mode: number;
  /** How much of the file's end is read at start to resume a batch a crash cut short. */
  resyncWindowBytes: number;
  /** How long other logs wait for the log whose line a crash cut, before that line is closed. */
  tornWaitMs: number;
}

export function parseMode(v: unknown): number | string {
  if (typeof v === 'number') return `must be a quoted octal string such as "0640" (YAML reads 0640 unquoted as the decimal ${v})`;
  if (typeof v !== 'string' || !/^(0o|0)?[0-7]{3}$/.test(v)) return `must be an octal file mode such as "0640" or "0600", not ${JSON.stringify(v)}`;
  const n = parseInt(v.replace(/^0o/, ''), 8);
  if (n & 0o002) return `${v} lets every user on the host write the file; Duo logs are security data (use "0640" or "0600")`;
  if (n & 0o111) return `${v} makes a log file executable; use "0640" or "0600"`;
  if (!(n & 0o200)) return `${v} does not let the bridge itself write the file`;
  return n;
}

export function parseFileConfig(r: ConfigReader): FileConfig {
  const path = r.str('path', { required: true, pattern: /^[^\0]+$/ }) ?? '';
  const format = r.oneOf('format', ['json', 'cef'] as const, { default: 'json' })!;
  const rot = r.obj('rotate');
  const maxBytes = rot?.int('max_bytes', { min: 1024, default: 100 * 1024 * 1024, unit: 'bytes' }) ?? 100 * 1024 * 1024;
  const maxAgeSecs = rot?.num('max_age_secs', { min: 0, default: 86400, unit: 'seconds' }) ?? 86400;
  const keep = rot?.int('keep', { min: 1, max: 100000, default: 10 }) ?? 10;
  rot?.finish();
  let mode = 0o640;
  if (r.has('mode')) {
    const m = parseMode(r.raw('mode'));
    if (typeof m === 'string') r.error('mode', m);
    else mode = m;
  } else r.raw('mode');
  const resyncWindowBytes = r.int('resync_window_bytes', { min: 64 * 1024, max: 1024 * 1024 * 1024, default: 16 * 1024 * 1024, unit: 'bytes' })!;
  const tornWaitMs = r.num('torn_line_wait_secs', { min: 0, max: 3600, default: 60, unit: 'seconds' })! * 1000;
  return {
    type: 'file',
    // A relative path is relative to the config file, like every other path a config names.
    path: path && !isAbsolute(path) ? resolve(r.source.file ? dirname(r.source.file) : '.', path) : path,
    format, maxBytes, maxAgeMs: maxAgeSecs * 1000, keep, mode, resyncWindowBytes, tornWaitMs,
  };
}
