/**
 * duo_log_sync checkpoint files → bridge checkpoints, so a move neither skips nor re-reads.
 *
 * What DLS wrote (after each batch was written to its server; `json.dumps(offset)`):
 *   auth_checkpoint_data.txt          ["<ms>", "<txid>"]      the last delivered event: its ms
 *                                                             (int(total_seconds*1000) of its
 *                                                             isotimestamp, never above the true ms)
 *                                                             and its txid
 *   telephony_checkpoint_data.txt     "<ms+1>,<telephony_id>" the last delivered event's ms + 1, id
 *   activity_checkpoint_data.txt      "<ms+1>,<activity_id>"  the same
 *   trustmonitor_checkpoint_data.txt  <surfaced_timestamp+1>  ms, no id
 *   adminaction_checkpoint_data.txt   <timestamp+1>           seconds, no id (DLS before 2.4)
 *   old DLS telephony (v1)            <timestamp+1>           seconds
 *   MSP: <log>_checkpoint_data_<child account id>.txt
 *
 * The bridge's position is (time, ids delivered at exactly that time); it resumes at `time`
 * inclusive and drops those ids. So every DLS "+1" is undone (resume AT the last delivered
 * event's time, never after it: a same-time event DLS had not sent yet is not skipped), and
 * the id DLS names goes into `ids`. Other events DLS delivered in that same millisecond are
 * unknown offline and would be sent again (a duplicate, never a gap); `resolveBoundary` asks Duo
 * for that one millisecond and fills in every id up to DLS's last one, so nothing repeats.
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { LOG_KINDS } from '../duo/logs/index.js';
import type { LogKind, Walk } from '../duo/logs/types.js';
import { CHECKPOINT_VERSION, accountSlug, type Checkpoint } from '../pipeline/checkpoint.js';
import type { Position } from '../pipeline/cursor.js';
import { microsToIso } from '../util/time.js';

/** DLS log names → the bridge's. */
export const DLS_LOGS: Record<string, string> = {
  auth: 'authentication',
  telephony: 'telephony',
  activity: 'activity',
  trustmonitor: 'trust_monitor',
  adminaction: 'administrator',
};

const FILE_RE = /^(auth|telephony|activity|trustmonitor|adminaction)_checkpoint_data(?:_(.+))?\.txt$/;
const UDP_FAILED_RE = /^(auth|telephony|activity|trustmonitor|adminaction)_udp_failed_ingestion_logs\.txt$/;

export interface DlsFile {
  name: string;
  dlsLog: string;
  /** MSP child account id, from the file name. */
  child?: string;
}

export function dlsFileInfo(name: string): DlsFile | undefined {
  const m = FILE_RE.exec(name);
  return m ? { name, dlsLog: m[1]!, child: m[2] } : undefined;
}

export function isUdpFailedFile(name: string): boolean {
  return UDP_FAILED_RE.test(name);
}

export interface Converted {
  log: string;
  kind: LogKind;
  position: Position;
  /** The id DLS named for its last event (auth/telephony/activity), for resolveBoundary. */
  lastId?: string;
  /** What the value meant, for the report. */
  meaning: string;
}

/** A number DLS wrote is in seconds when it has at most 11 digits (ms since 1970 have 13 now). */
const isSeconds = (v: number) => v < 1e11;

/**
 * One DLS checkpoint value → the bridge position for `log`. Pure; throws Error with a reason
 * (shape not understood, or a time in the future).
 */
export function convertValue(dlsLog: string, raw: string, nowMs: number): Converted {
  const log = DLS_LOGS[dlsLog];
  if (!log) throw new Error(`${dlsLog} is not a DLS log`);
  const kind = LOG_KINDS[log];
  if (!kind) throw new Error(`this bridge version does not pull the ${log} log, so its position cannot be carried over`);
  const trimmed = raw.trim();
  if (trimmed === '' || trimmed === 'null') throw new Error('the file is empty (DLS had delivered nothing yet)');
  let v: unknown;
  try {
    v = JSON.parse(trimmed);
  } catch {
    v = trimmed; // a bare `ts,id` without JSON quotes
  }
  const toUnit = (ms: number) => (kind.unit === 'ms' ? ms : Math.floor(ms / 1000));
  let timeMs: number;
  let lastId: string | undefined;
  let meaning: string;
  if (Array.isArray(v) && v.length === 2 && /^\d+$/.test(String(v[0])) && typeof v[1] === 'string') {
    // ["<ms>", "<txid>"]: the last delivered event itself.
    timeMs = Number(v[0]);
    lastId = v[1];
    meaning = `last delivered event at ${timeMs} ms, id ${lastId}`;
  } else if (typeof v === 'string' && /^\d+,.+$/.test(v)) {
    // "<ms+1>,<id>": one past the last delivered event.
    const comma = v.indexOf(',');
    timeMs = Number(v.slice(0, comma)) - 1;
    lastId = v.slice(comma + 1);
    meaning = `next start ${timeMs + 1} ms = last delivered event's ms + 1, id ${lastId}`;
  } else if ((typeof v === 'number' && Number.isInteger(v)) || (typeof v === 'string' && /^\d+$/.test(v))) {
    // <time+1> in seconds or ms: one past the last delivered event, no id.
    const n = Number(v);
    if (isSeconds(n)) {
      timeMs = (n - 1) * 1000;
      meaning = `next start ${n} s = last delivered event's second + 1`;
    } else {
      timeMs = n - 1;
      meaning = `next start ${n} ms = last delivered event's ms + 1`;
    }
  } else {
    throw new Error(`the content is not a DLS checkpoint for ${dlsLog} (expected ${dlsLog === 'auth' ? '["<ms>", "<txid>"]' : dlsLog === 'telephony' || dlsLog === 'activity' ? '"<ms>,<id>"' : 'a number'})`);
  }
  if (!Number.isFinite(timeMs) || timeMs <= 0) throw new Error('the time in it is not a positive number');
  if (timeMs > nowMs + 86_400_000) {
    throw new Error(
      `it points to ${new Date(timeMs).toISOString()}, in the future. DLS must run on a UTC clock (its README says so): ` +
        'telephony and activity times were read as local time. Fix the value by hand (ms since 1970, UTC) or start from start_datetime_utc.',
    );
  }
  const position: Position = { time: toUnit(timeMs), ids: lastId !== undefined && kind.unit === 'ms' ? [lastId] : [] };
  return { log, kind, position, lastId, meaning };
}

export interface DuoGetter {
  get(path: string, params: Record<string, string>): Promise<unknown>;
}

/**
 * Ask Duo which events share the boundary millisecond and return the position that names every
 * one of them DLS delivered (all up to and including its last id, in Duo's order). Looks at the
 * ms DLS wrote and the next one (DLS's float arithmetic can land 1 ms low). Returns undefined when
 * the id is not found (the offline position stands: a duplicate at most, never a gap).
 */
export async function resolveBoundary(client: DuoGetter, c: Converted, nowMs: number): Promise<Position | undefined> {
  if (!c.lastId || c.kind.unit !== 'ms' || !c.kind.sorted) return undefined;
  const from = c.position.time;
  let walk: Walk = { mintime: from, maxtime: Math.min(from + 2, nowMs - 120_000) };
  if (walk.mintime >= walk.maxtime) return undefined;
  const seen: { id: string; t: number }[] = [];
  for (let pages = 0; pages < 100; pages++) {
    const page = c.kind.parse(await client.get(c.kind.path, c.kind.params(walk) as Record<string, string>));
    for (const it of page.items) seen.push({ id: c.kind.id(it), t: Math.floor(c.kind.timeUs(it) / 1000) });
    const step = c.kind.next(walk, page);
    if ('done' in step) break;
    walk = step.walk;
  }
  const at = seen.findIndex((x) => x.id === c.lastId);
  if (at < 0) return undefined;
  const t = seen[at]!.t;
  const ids = seen.slice(0, at + 1).filter((x) => x.t === t).map((x) => x.id);
  return { time: t, ids };
}

export function bridgeCheckpoint(c: Converted, account: string, start: string, nowMs: number, dlsFile: string, dlsValue: string): Checkpoint & { imported_from: Record<string, string> } {
  const us = c.position.time * (c.kind.unit === 'ms' ? 1000 : 1_000_000);
  return {
    version: CHECKPOINT_VERSION,
    account,
    log: c.log,
    start_datetime_utc: start,
    unit: c.kind.unit,
    position: c.position,
    position_utc: microsToIso(us),
    events_delivered: 0,
    updated_at: new Date(nowMs).toISOString(),
    imported_from: { tool: 'duo-log-bridge migrate-config', file: dlsFile, value: dlsValue.trim() },
  };
}

export function bridgeCheckpointFile(dir: string, account: string, log: string): string {
  return path.join(dir, `${accountSlug(account)}.${log}.json`);
}

export interface ListedDir {
  files: DlsFile[];
  udpFailed: { name: string; lines: number }[];
}

export async function listDlsDir(dir: string): Promise<ListedDir> {
  const names = (await fs.readdir(dir)).sort();
  const files = names.map(dlsFileInfo).filter((x): x is DlsFile => !!x);
  const udpFailed: ListedDir['udpFailed'] = [];
  for (const n of names.filter(isUdpFailedFile)) {
    const t = await fs.readFile(path.join(dir, n), 'utf8').catch(() => '');
    udpFailed.push({ name: n, lines: t.split('\n').filter(Boolean).length });
  }
  return { files, udpFailed };
}
