/**
 * `duo-log-bridge status`: what every enabled log has reached, from files only (never Duo).
 *
 * Two sources, both in checkpoint_dir:
 * - the checkpoint files (`<account>.<log>.json`, pipeline/checkpoint.ts): position, its UTC
 *   time, events delivered, when written. Read here without side effects (a corrupt file is
 *   reported, not set aside: that is the bridge's job when it runs).
 * - `<account>.status.json`, written by a running bridge (StatusWriter below) whenever a log's
 *   last error or run state changes and at exit: the last error per log (code, redacted message,
 *   time), events fetched/delivered this run, the pid. A separate file because checkpoints are
 *   only written after a delivery, so an error that stops deliveries (sink down, Duo refusing)
 *   would never reach them. Old checkpoint files need nothing new.
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { parse as parseYaml, stringify as stringifyYaml } from 'yaml';
import type { BridgeConfig } from '../config/schema.js';
import { loadConfigFile, loadConfigText } from '../config/load.js';
import { ConfigError } from '../errors.js';
import { parseEndpoint } from '../duo/client.js';
import { accountSlug, writeAtomic, type Checkpoint } from '../pipeline/checkpoint.js';
import type { LogStats } from '../pipeline/stats.js';
import { redact, type Logger } from './log.js';
import { humanDuration } from './progress.js';

export const STATUS_VERSION = 1;

/**
 * The config as `status` needs it: everything but the secret. The secret key is not needed to
 * read files, and the operator running `status` often cannot read it (systemd's
 * $CREDENTIALS_DIRECTORY exists only inside the service; a root-only key file).
 */
export function loadStatusConfig(file: string, env: NodeJS.ProcessEnv = process.env): BridgeConfig {
  try {
    return loadConfigFile(file, env);
  } catch (err) {
    // Only problems with the secret itself are set aside; any other problem is reported as usual.
    if (!(err instanceof ConfigError) || !err.problems.every((p) => /^credentials\.secret_key(_file)?$/.test(p.key))) throw err;
    const doc = parseYaml(readFileSync(file, 'utf8')) as { credentials: Record<string, unknown> };
    delete doc.credentials.secret_key_file;
    doc.credentials.secret_key = 'status-does-not-read-the-secret-key-0000';
    return loadConfigText(stringifyYaml(doc), file, env);
  }
}

export interface StatusFileLog {
  account: string;
  log: string;
  last_error: { at: string; code: string; message: string } | null;
  events_fetched: number;
  events_delivered: number;
  requests: number;
  rate_limited: number;
  caught_up_at: string | null;
}

export interface StatusFile {
  version: number;
  pid: number;
  state: 'running' | 'stopped';
  written_at: string;
  logs: StatusFileLog[];
}

export function statusFileFor(dir: string, account: string): string {
  return path.join(dir, `${accountSlug(account)}.status.json`);
}

function iso(ms: number | undefined): string | null {
  return ms === undefined ? null : new Date(ms).toISOString();
}

/** Writes `<account>.status.json` when its content changes (checked every `everyMs`) and at stop. */
export class StatusWriter {
  #timer: NodeJS.Timeout | undefined;
  #lastBody = '';
  #writing: Promise<void> = Promise.resolve();
  #warned = false;

  constructor(
    private readonly dir: string,
    /** The bridge's API hostname: names the file, so bridges sharing a directory do not overwrite each other. */
    private readonly account: string,
    private readonly stats: () => readonly LogStats[],
    private readonly log: Logger,
    private readonly everyMs = 2000,
  ) {}

  start(): void {
    this.#timer = setInterval(() => void this.flush('running'), this.everyMs);
    this.#timer.unref();
  }

  async stop(): Promise<void> {
    clearInterval(this.#timer);
    await this.flush('stopped');
  }

  /** Content without the write time: progress counters change constantly, so only errors and state trigger a write. */
  #content(state: StatusFile['state']): { key: string; logs: StatusFileLog[] } | undefined {
    const stats = this.stats();
    if (!stats.length) return undefined;
    const logs: StatusFileLog[] = [];
    for (const s of stats) {
      logs.push({
        account: s.account,
        log: s.log,
        last_error: s.lastError ? { at: new Date(s.lastError.at).toISOString(), code: s.lastError.code, message: redact(s.lastError.message) } : null,
        events_fetched: s.eventsFetched,
        events_delivered: s.eventsDelivered,
        requests: s.requests,
        rate_limited: s.rateLimited,
        caught_up_at: iso(s.lastPollDone),
      });
    }
    const key = JSON.stringify([state, stats.map((s) => [s.account, s.log, s.lastError?.at, s.lastPollDone === undefined])]);
    return { key, logs };
  }

  flush(state: StatusFile['state']): Promise<void> {
    const c = this.#content(state);
    if (!c || (c.key === this.#lastBody && state === 'running')) return this.#writing;
    this.#lastBody = c.key;
    const account = this.account;
    const body: StatusFile = { version: STATUS_VERSION, pid: process.pid, state, written_at: new Date().toISOString(), logs: c.logs };
    this.#writing = this.#writing
      .then(() => writeAtomic(statusFileFor(this.dir, account), JSON.stringify(body, null, 2) + '\n'))
      .catch((err) => {
        if (!this.#warned) this.log.warn('Cannot write status.json next to the checkpoints (status will not show the last error).', { error: err });
        this.#warned = true;
      });
    return this.#writing;
  }
}

export interface LogStatus {
  log: string;
  account: string;
  file: string;
  checkpoint: 'ok' | 'missing' | 'empty' | 'corrupt' | 'unreadable' | 'start_changed';
  position_utc: string | null;
  checkpoint_written_at: string | null;
  checkpoint_age_secs: number | null;
  lag_secs: number | null;
  events_delivered: number | null;
  last_error: StatusFileLog['last_error'];
  bridge_state: StatusFile['state'] | null;
  bridge_pid: number | null;
}

function readJson(file: string): { text?: string; error?: string } {
  try {
    return { text: readFileSync(file, 'utf8') };
  } catch (err) {
    return { error: (err as NodeJS.ErrnoException).code ?? 'error' };
  }
}

/** Every enabled log's status, from files only: the main account's logs, plus any other account's checkpoints in the directory (MSP child accounts). */
export function collectStatus(cfg: BridgeConfig, now = Date.now()): LogStatus[] {
  const main = parseEndpoint(cfg.credentials.hostname).signHost;
  const sf = readJson(statusFileFor(cfg.checkpointDir, main));
  let status: StatusFile | undefined;
  try {
    if (sf.text) status = JSON.parse(sf.text) as StatusFile;
  } catch {
    status = undefined;
  }
  const enabled = Object.entries(cfg.services).filter(([, svc]) => svc.enabled);
  const targets: { account: string; log: string; file: string }[] = [];
  for (const [log] of enabled) targets.push({ account: main, log, file: path.join(cfg.checkpointDir, `${accountSlug(main)}.${log}.json`) });
  let names: string[] = [];
  try {
    names = readdirSync(cfg.checkpointDir).sort();
  } catch {
    names = [];
  }
  for (const name of names) {
    for (const [log] of enabled) {
      const suffix = `.${log}.json`;
      if (!name.endsWith(suffix) || name === `${accountSlug(main)}${suffix}`) continue;
      const file = path.join(cfg.checkpointDir, name);
      let account = name.slice(0, -suffix.length);
      try {
        const a = (JSON.parse(readFileSync(file, 'utf8')) as { account?: unknown }).account;
        if (typeof a === 'string') account = a;
      } catch {
        /* shown as corrupt below */
      }
      targets.push({ account, log, file });
    }
  }
  const out: LogStatus[] = [];
  for (const { account, log, file } of targets) {
    const svc = cfg.services[log]!;
    const rec = status?.logs?.find?.((l) => l.log === log && l.account === account);
    const row: LogStatus = {
      log,
      account,
      file,
      checkpoint: 'ok',
      position_utc: null,
      checkpoint_written_at: null,
      checkpoint_age_secs: null,
      lag_secs: null,
      events_delivered: null,
      last_error: rec?.last_error ?? null,
      bridge_state: status?.state ?? null,
      bridge_pid: status?.pid ?? null,
    };
    const r = readJson(file);
    if (r.error) row.checkpoint = r.error === 'ENOENT' ? 'missing' : 'unreadable';
    else if (!r.text!.trim() || r.text!.trim() === 'null') row.checkpoint = 'empty';
    else {
      let cp: Checkpoint | undefined;
      try {
        cp = JSON.parse(r.text!) as Checkpoint;
      } catch {
        cp = undefined;
      }
      if (!cp || typeof cp !== 'object' || !cp.position || typeof cp.position.time !== 'number') row.checkpoint = 'corrupt';
      else {
        if (cp.start_datetime_utc !== svc.startDatetimeUtc) row.checkpoint = 'start_changed';
        const posMs = cp.unit === 's' ? cp.position.time * 1000 : cp.position.time;
        row.position_utc = cp.position_utc ?? new Date(posMs).toISOString();
        row.lag_secs = Math.max(0, Math.round((now - posMs) / 1000));
        row.events_delivered = typeof cp.events_delivered === 'number' ? cp.events_delivered : null;
        const written = Date.parse(cp.updated_at);
        if (!Number.isNaN(written)) {
          row.checkpoint_written_at = cp.updated_at;
          row.checkpoint_age_secs = Math.max(0, Math.round((now - written) / 1000));
        }
      }
    }
    out.push(row);
  }
  return out;
}

const NOTE: Record<LogStatus['checkpoint'], string> = {
  ok: '',
  missing: 'no checkpoint yet (starts from the configured start)',
  empty: 'checkpoint file is empty (starts from the configured start)',
  corrupt: 'checkpoint file is corrupt (the bridge will set it aside and start over)',
  unreadable: 'checkpoint file cannot be read',
  start_changed: 'start_datetime_utc changed since this checkpoint (the bridge will reset this log)',
};

/** The table `status` prints. */
export function formatStatus(rows: LogStatus[], checkpointDir: string, now = Date.now()): string {
  const multi = new Set(rows.map((r) => r.account)).size > 1;
  const head = [multi ? 'ACCOUNT / LOG' : 'LOG', 'POSITION (UTC)', 'AGE', 'LAG', 'DELIVERED', 'LAST ERROR'];
  const body = rows.map((r) => [
    multi ? `${r.account} ${r.log}` : r.log,
    r.position_utc ?? '-',
    r.checkpoint_age_secs === null ? '-' : humanDuration(r.checkpoint_age_secs),
    r.lag_secs === null ? '-' : humanDuration(r.lag_secs),
    r.events_delivered === null ? '-' : r.events_delivered.toLocaleString('en-US'),
    r.last_error ? `${r.last_error.code} ${humanDuration((now - Date.parse(r.last_error.at)) / 1000)} ago: ${r.last_error.message}` : '-',
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!))).join('  ');
  const notes = rows.filter((r) => r.checkpoint !== 'ok').map((r) => `  ${r.log}: ${NOTE[r.checkpoint]} (${r.file})`);
  const state = rows.find((r) => r.bridge_state);
  return [
    `checkpoints: ${checkpointDir}${state ? ` (bridge pid ${state.bridge_pid} last reported: ${state.bridge_state})` : ''}`,
    line(head),
    ...body.map(line),
    ...(notes.length ? ['', 'notes:', ...notes] : []),
  ].join('\n') + '\n';
}
