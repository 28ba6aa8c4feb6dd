/**
 * Checkpoints: one human-readable JSON file per account and log, written atomically
 * (temp file, fsync, rename, fsync of the directory). A checkpoint is written only after the
 * sink acknowledged the events it covers (the runner's job); this module only makes the
 * write durable and the read forgiving: a missing, empty, `null` or corrupt file yields
 * `null` plus a clear warning, and a corrupt one is set aside for inspection, never a crash.
 */
import fsCb, { promises as fs, constants as fsc } from 'node:fs';
import path from 'node:path';
import { CheckpointError } from '../errors.js';
import type { Logger } from '../obs/log.js';
import type { Position } from './cursor.js';
import type { Walk } from '../duo/logs/types.js';

export const CHECKPOINT_VERSION = 1;

export interface Checkpoint {
  version: number;
  account: string;
  log: string;
  /** The configured start this checkpoint grew from; a changed start resets the log. */
  start_datetime_utc: string;
  unit: 'ms' | 's';
  position: Position;
  /** The position as a readable UTC time, for humans. */
  position_utc: string;
  events_delivered: number;
  updated_at: string;
  /**
   * Only for logs Duo does not return in time order (trust monitor), while a walk is under
   * way: the next request of that walk and the position it started from, so a restart
   * resumes the walk instead of re-reading or skipping it.
   */
  walk?: { walk: Walk; start_position: Position | null };
}

export type LoadResult = { checkpoint: Checkpoint | null; reason?: 'missing' | 'empty' | 'corrupt' | 'start_changed' };

/** File-safe form of an account name (API hostname or child account id). */
export function accountSlug(account: string): string {
  return account.toLowerCase().replace(/[^a-z0-9._-]+/g, '_');
}

export class CheckpointStore {
  readonly #chains = new Map<string, Promise<void>>();
  readonly #pending = new Map<string, Checkpoint>();

  constructor(
    readonly dir: string,
    private readonly log: Logger,
  ) {}

  fileFor(account: string, logType: string): string {
    return path.join(this.dir, `${accountSlug(account)}.${logType}.json`);
  }

  async ensureDir(): Promise<void> {
    try {
      await fs.mkdir(this.dir, { recursive: true, mode: 0o700 });
      await fs.access(this.dir, fsc.W_OK);
    } catch (err) {
      throw new CheckpointError('DLB_CHECKPOINT_DIR', `checkpoint_dir ${this.dir} is not writable: ${(err as Error).message}`, { cause: err });
    }
  }

  /** Read the checkpoint for one log. Never throws for bad content; throws only if the directory cannot be read. */
  async load(account: string, logType: string, startDatetimeUtc: string): Promise<LoadResult> {
    const file = this.fileFor(account, logType);
    let text: string;
    try {
      text = await fs.readFile(file, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { checkpoint: null, reason: 'missing' };
      throw new CheckpointError('DLB_CHECKPOINT_READ', `cannot read checkpoint ${file}: ${(err as Error).message}`, { cause: err });
    }
    const fields = { log: logType, account, file };
    if (text.trim() === '' || text.trim() === 'null') {
      this.log.warn('Checkpoint file is empty; starting this log from the configured start.', fields);
      return { checkpoint: null, reason: 'empty' };
    }
    let cp: Checkpoint | undefined;
    try {
      cp = JSON.parse(text) as Checkpoint;
    } catch {
      cp = undefined;
    }
    if (!isCheckpoint(cp, logType)) {
      const aside = `${file}.corrupt-${Date.now()}`;
      await fs.rename(file, aside).catch(() => {});
      this.log.warn('Checkpoint file is corrupt; set it aside and starting this log from the configured start.', { ...fields, set_aside: aside });
      return { checkpoint: null, reason: 'corrupt' };
    }
    if (cp.start_datetime_utc !== startDatetimeUtc) {
      this.log.warn('start_datetime_utc changed since the checkpoint was written; resetting this log to the new start.', {
        ...fields,
        old_start: cp.start_datetime_utc,
        new_start: startDatetimeUtc,
      });
      return { checkpoint: null, reason: 'start_changed' };
    }
    return { checkpoint: cp };
  }

  /**
   * Durably replace the checkpoint. Writes to one file are serialised; when several commits
   * queue up behind a slow write, only the newest is written (it supersedes the others).
   */
  commit(cp: Checkpoint): Promise<void> {
    const file = this.fileFor(cp.account, cp.log);
    this.#pending.set(file, cp);
    const prev = this.#chains.get(file) ?? Promise.resolve();
    const next = prev.then(async () => {
      const latest = this.#pending.get(file);
      if (!latest) return;
      this.#pending.delete(file);
      await writeAtomic(file, JSON.stringify(latest, null, 2) + '\n');
    });
    const chained = next.catch(() => {});
    this.#chains.set(file, chained);
    return next;
  }
}

function isCheckpoint(v: unknown, logType: string): v is Checkpoint {
  if (!v || typeof v !== 'object') return false;
  const c = v as Checkpoint;
  return (
    c.version === CHECKPOINT_VERSION &&
    c.log === logType &&
    typeof c.start_datetime_utc === 'string' &&
    !!c.position &&
    typeof c.position.time === 'number' &&
    Number.isFinite(c.position.time) &&
    Array.isArray(c.position.ids) &&
    c.position.ids.every((x) => typeof x === 'string')
  );
}

/**
 * temp file + fsync + rename + directory fsync: a crash leaves the old or the new file, never
 * half of one. Callback fs, not FileHandle promises: this runs once per delivered page and the
 * promise API's per-call overhead showed up at about 10% of the bridge's CPU in profiles.
 */
export async function writeAtomic(file: string, text: string): Promise<void> {
  const tmp = `${file}.tmp-${process.pid}`;
  try {
    await new Promise<void>((resolve, reject) => {
      fsCb.open(tmp, 'w', 0o600, (err, fd) => {
        if (err) return reject(err);
        const finish = (e: Error | null) => fsCb.close(fd, (ce) => (e || ce ? reject(e ?? ce) : resolve()));
        fsCb.write(fd, text, null, 'utf8', (we) => (we ? finish(we) : fsCb.fsync(fd, finish)));
      });
    });
    await new Promise<void>((resolve, reject) => fsCb.rename(tmp, file, (err) => (err ? reject(err) : resolve())));
    if (process.platform !== 'win32') await syncDir(path.dirname(file));
  } catch (err) {
    fsCb.unlink(tmp, () => {});
    const code = (err as NodeJS.ErrnoException).code;
    const hint = code === 'ENOSPC' ? ' The disk is full.' : code === 'EROFS' || code === 'EACCES' || code === 'EPERM' ? ' The directory is not writable.' : '';
    throw new CheckpointError('DLB_CHECKPOINT_WRITE', `cannot write checkpoint ${file}: ${code ?? (err as Error).message}.${hint} Fetching pauses until it can be written.`, {
      retryable: true,
      cause: err,
    });
  }
}

function syncDir(dir: string): Promise<void> {
  return new Promise((resolve, reject) =>
    fsCb.open(dir, 'r', (err, fd) => {
      if (err) return reject(err);
      fsCb.fsync(fd, (se) => fsCb.close(fd, () => (se ? reject(se) : resolve())));
    }),
  );
}
