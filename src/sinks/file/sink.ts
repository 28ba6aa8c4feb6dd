/**
 * `output: {type: file}`: NDJSON (or CEF) lines appended to one file, for SIEM agents that
 * collect flat files (LogRhythm flat-file collection, Splunk UF, Wazuh, NXLog, `tail -F`).
 *
 * Guarantees:
 * - `send` resolves only after the batch's bytes were written AND fsync'd: the checkpoint
 *   never moves past data that a power cut could take back.
 * - Append only, never truncated or rewritten in place: a tailer never sees the file shrink.
 * - Rotation by size (`max_bytes`, checked before each batch so a file stays under it unless a
 *   single batch is larger) and by age (`max_age_secs`, checked when writing): the file is
 *   fsync'd, RENAMED to `<path>.<UTC stamp>`, and a new file is opened at `<path>` — what
 *   `tail -F`, Splunk, NXLog and LogRhythm expect. The directory is fsync'd after creating a
 *   file. The oldest rotated files beyond `keep` are deleted.
 * - The mode is set deliberately (default 0640, chmod'ed after open so neither the umask nor
 *   an older file's permissions decide it): the content is security data.
 * - Each line carries the event's own time (the JSON's Duo fields; CEF `rt`).
 * - Exactly once for a tailer, across crashes: before writing a batch the sink appends an
 *   intent (log type, first event id, file inode, offset, length) to a small journal in the
 *   state directory and fsyncs it. When the pipeline sends an unacknowledged batch again
 *   (after a SIGKILL, a power cut or a failed write), the sink compares it with the bytes at the
 *   recorded offset and writes only what is missing: lines already there are not repeated, and
 *   a line the crash cut short is completed in place with its missing bytes. If the log whose
 *   line was cut does not send again within `torn_line_wait_secs`, the cut line is closed with
 *   a newline (one broken line, logged) so that the other logs can go on.
 */
import { createHash } from 'node:crypto';
import { mkdir, open, readdir, readFile, rename, rm, stat, writeFile, type FileHandle } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { SinkError } from '../../errors.js';
import { cefLine } from '../../format/cef.js';
import type { DuoEvent } from '../../format/event.js';
import type { Batch, Sink, SinkContext } from '../types.js';
import type { FileConfig } from './config.js';

/** What the sink was about to write for one log: enough to find it again after a crash. */
interface Intent {
  log: string;
  /** Id of the first event of the region. */
  first: string;
  ino: number;
  off: number;
  len: number;
}

export class FileSink implements Sink {
  readonly type = 'file';
  readonly #c: FileConfig;
  readonly #ctx: SinkContext;
  #fh: FileHandle | undefined;
  #ino = 0;
  #size = 0;
  #openedAt = 0;
  #lock: Promise<void> = Promise.resolve();
  #journal: FileHandle | undefined;
  readonly #journalPath: string;
  #journalBytes = 0;
  readonly #intents = new Map<string, Intent>();
  /** The file ends in a line cut short; `owner` is the log whose batch it belongs to. */
  #torn: { owner: string | undefined; resolved: Promise<void>; resolve: () => void } | undefined;
  #closed = false;
  /**
   * Test hook: replaces the data write of the next batch (tests use it to die half way).
   * Never set in production.
   */
  beforeWriteHook: ((buf: Buffer, write: (b: Buffer) => Promise<void>) => Promise<void>) | undefined;
  readonly stats = { batches: 0, lines: 0, bytes: 0, rotations: 0, resentBytesSkipped: 0, completedTornLines: 0, closedTornLines: 0 };

  constructor(c: FileConfig, ctx: SinkContext) {
    this.#c = c;
    this.#ctx = ctx;
    const id = createHash('sha256').update(c.path).digest('hex').slice(0, 16);
    this.#journalPath = join(ctx.stateDir, `file-output-${id}.journal`);
  }

  line(e: DuoEvent): string {
    return this.#c.format === 'cef' ? cefLine(e) : e.json;
  }

  async start(): Promise<void> {
    try {
      await mkdir(dirname(this.#c.path), { recursive: true, mode: 0o750 });
      await mkdir(this.#ctx.stateDir, { recursive: true, mode: 0o750 });
      await this.#open();
      await this.#loadJournal();
      await this.#findTorn();
    } catch (err) {
      if (err instanceof SinkError) throw err;
      throw ioError(err, `cannot open ${this.#c.path}`, false);
    }
  }

  async #open(): Promise<void> {
    let existed = true;
    try {
      await stat(this.#c.path);
    } catch {
      existed = false;
    }
    const fh = await open(this.#c.path, 'a', this.#c.mode);
    await fh.chmod(this.#c.mode);
    const st = await fh.stat();
    this.#fh = fh;
    this.#ino = st.ino;
    this.#size = st.size;
    this.#openedAt = existed && st.birthtimeMs > 0 ? st.birthtimeMs : Date.now();
    if (!existed) await syncDir(dirname(this.#c.path));
  }

  async #loadJournal(): Promise<void> {
    let text = '';
    try {
      text = await readFile(this.#journalPath, 'utf8');
    } catch {
      // no journal yet
    }
    for (const l of text.split('\n')) {
      if (!l) continue;
      try {
        const i = JSON.parse(l) as Intent;
        if (typeof i.log === 'string' && typeof i.off === 'number') this.#intents.set(i.log, i);
      } catch {
        // a line cut by a crash: the intent was not fsync'd, so its batch was not written
      }
    }
    await this.#compactJournal();
  }

  /** Rewrite the journal with the last intent per log (atomically), and reopen it for appends. */
  async #compactJournal(): Promise<void> {
    await this.#journal?.close();
    const body = [...this.#intents.values()].map((i) => JSON.stringify(i) + '\n').join('');
    const tmp = this.#journalPath + '.tmp';
    await writeFile(tmp, body, { mode: 0o600 });
    const t = await open(tmp, 'r+');
    await t.sync();
    await t.close();
    await rename(tmp, this.#journalPath);
    await syncDir(dirname(this.#journalPath));
    this.#journal = await open(this.#journalPath, 'a', 0o600);
    this.#journalBytes = Buffer.byteLength(body);
  }

  async #findTorn(): Promise<void> {
    if (this.#size === 0) return;
    const last = Buffer.alloc(1);
    const r = await open(this.#c.path, 'r'); // the append handle cannot read
    try {
      await r.read(last, 0, 1, this.#size - 1);
    } finally {
      await r.close();
    }
    if (last[0] === 0x0a) return;
    // The log whose recorded region reaches the end of this file owns the cut line.
    let owner: string | undefined;
    for (const i of this.#intents.values()) if (i.ino === this.#ino && i.off < this.#size && i.off + i.len >= this.#size) owner = i.log;
    let resolve!: () => void;
    const resolved = new Promise<void>((r) => (resolve = r));
    this.#torn = { owner, resolved, resolve };
    this.#ctx.log.warn('The output file ends in a line cut short (the previous run stopped mid-write); it is completed when its batch is sent again.', {
      path: this.#c.path, logType: owner ?? 'unknown',
    });
  }

  async send(batch: Batch, signal: AbortSignal): Promise<void> {
    const text = batch.events.map((e) => this.line(e) + '\n').join('');
    const buf = Buffer.from(text, 'utf8');
    // Another log's line was cut by a crash: let that log complete it before anything else lands.
    const torn = this.#torn;
    if (torn && torn.owner !== undefined && torn.owner !== batch.logType) await Promise.race([torn.resolved, delay(this.#c.tornWaitMs, signal)]);
    await this.#locked(() => this.#write(batch, buf));
  }

  async #write(batch: Batch, buf: Buffer): Promise<void> {
    if (this.#closed) throw new SinkError('DLB_SINK_FILE_CLOSED', 'the file output is closed', { retryable: true });
    const log = batch.logType;
    let skip = 0;
    let continuation = false;
    const prev = this.#intents.get(log);
    if (prev && prev.first === batch.events[0]!.id) {
      const r = await this.#compare(prev, buf);
      skip = r.skip;
      continuation = r.atEof;
      if (skip > 0) {
        this.stats.resentBytesSkipped += skip;
        this.#ctx.log.info('A batch sent again was already in the file in part or whole; writing only what is missing.', {
          logType: log, path: this.#c.path, bytesAlreadyThere: skip, bytesToWrite: buf.length - skip,
        });
      }
    }
    let data = buf.subarray(skip);
    let prefixed = false;
    if (this.#torn) {
      // Only a batch whose bytes already run to the end of the file can complete the cut line.
      if (continuation && skip > 0) this.stats.completedTornLines++;
      else {
        this.#ctx.log.warn('Closing a line cut short by the previous run: its log did not complete it in time; that event is written whole again later.', { path: this.#c.path });
        data = Buffer.concat([NL, data]);
        prefixed = true;
        continuation = false;
        this.stats.closedTornLines++;
      }
      this.#torn.resolve();
      this.#torn = undefined;
    }
    if (data.length === 0) return;

    if (!continuation && this.#size > 0 && (this.#size + data.length > this.#c.maxBytes || (this.#c.maxAgeMs > 0 && Date.now() - this.#openedAt >= this.#c.maxAgeMs))) {
      await this.#rotate();
    }
    // Record the intent (durably) before a single byte of the batch is written.
    let intent: Intent;
    if (continuation) intent = { ...prev!, len: buf.length };
    else {
      const firstIdx = countLf(buf.subarray(0, skip));
      intent = { log, first: batch.events[firstIdx]?.id ?? batch.events[0]!.id, ino: this.#ino, off: this.#size + (prefixed ? 1 : 0), len: buf.length - skip };
    }
    await this.#record(intent);
    const offBefore = this.#size;
    try {
      const write = async (b: Buffer): Promise<void> => {
        let off = 0;
        while (off < b.length) {
          const { bytesWritten } = await this.#fh!.write(b, off, b.length - off);
          off += bytesWritten;
          this.#size += bytesWritten;
        }
      };
      if (this.beforeWriteHook) {
        const hook = this.beforeWriteHook;
        this.beforeWriteHook = undefined;
        await hook(data, write);
      } else await write(data);
      await this.#fh!.sync();
    } catch (err) {
      this.#size = await this.#fh!.stat().then((s) => s.size, () => offBefore);
      throw ioError(err, `writing ${this.#c.path} failed`, true);
    }
    this.stats.batches++;
    this.stats.lines += batch.events.length;
    this.stats.bytes += data.length;
  }

  /**
   * How much of `buf` (a batch sent again) the file already holds at the recorded offset.
   * `atEof`: what is there runs to the end of the current file, so the rest continues it.
   */
  async #compare(i: Intent, buf: Buffer): Promise<{ skip: number; atEof: boolean }> {
    let path = this.#c.path;
    if (i.ino !== this.#ino) {
      const found = await this.#rotatedWithInode(i.ino);
      if (!found) return { skip: 0, atEof: false };
      path = found;
    }
    const fh = await open(path, 'r');
    try {
      const size = (await fh.stat()).size;
      const have = Math.max(0, Math.min(buf.length, size - i.off));
      const there = Buffer.alloc(have);
      if (have > 0) await fh.read(there, 0, have, i.off);
      let n = 0;
      while (n < have && there[n] === buf[n]) n++;
      if (n === buf.length) return { skip: n, atEof: false };
      const current = path === this.#c.path;
      if (current && i.off + n === size && n === have) return { skip: n, atEof: true };
      // The recorded region is whole and followed by something else: skip its whole lines only.
      if (n >= i.len && n > 0 && buf[n - 1] === 0x0a) return { skip: n, atEof: false };
      const lastLf = buf.subarray(0, n).lastIndexOf(0x0a);
      if (n >= i.len && lastLf >= 0) return { skip: lastLf + 1, atEof: false };
      if (n > 0) this.#ctx.log.info('A batch sent again does not match what the file holds for it; writing it whole (lines may repeat).', { path, logType: i.log });
      return { skip: 0, atEof: false };
    } finally {
      await fh.close();
    }
  }

  async #rotatedWithInode(ino: number): Promise<string | undefined> {
    const dir = dirname(this.#c.path);
    for (const n of await this.#rotatedNames()) {
      const p = join(dir, n);
      if ((await stat(p).catch(() => undefined))?.ino === ino) return p;
    }
    return undefined;
  }

  async #record(i: Intent): Promise<void> {
    this.#intents.set(i.log, i);
    if (this.#journalBytes > 1024 * 1024) return this.#compactJournal();
    const line = JSON.stringify(i) + '\n';
    await this.#journal!.write(line);
    await this.#journal!.sync();
    this.#journalBytes += Buffer.byteLength(line);
  }

  async #rotate(): Promise<void> {
    const path = this.#c.path;
    const fh = this.#fh!;
    this.#fh = undefined;
    await fh.sync();
    await fh.close();
    const target = await freeName(`${path}.${stamp(new Date())}`);
    await rename(path, target);
    await this.#open(); // a new file at `path`; syncs the directory (covers the rename too)
    this.#openedAt = Date.now();
    this.stats.rotations++;
    this.#ctx.log.info('Rotated the output file.', { path, rotatedTo: target });
    await this.#prune().catch((err) => this.#ctx.log.warn('Could not delete old rotated files.', { path, error: err }));
  }

  async #rotatedNames(): Promise<string[]> {
    const base = basename(this.#c.path);
    const re = new RegExp(`^${base.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\.\\d{8}T\\d{6}\\.\\d{3}Z(\\.\\d+)?$`);
    return (await readdir(dirname(this.#c.path))).filter((n) => re.test(n)).sort(byStamp);
  }

  async #prune(): Promise<void> {
    const rotated = await this.#rotatedNames();
    const dir = dirname(this.#c.path);
    for (const n of rotated.slice(0, Math.max(0, rotated.length - this.#c.keep))) await rm(join(dir, n), { force: true });
  }

  #locked<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.#lock.then(fn);
    this.#lock = run.then(
      () => undefined,
      () => undefined,
    );
    return run;
  }

  async close(): Promise<void> {
    await this.#locked(async () => {
      if (this.#closed) return;
      this.#closed = true;
      for (const h of [this.#fh, this.#journal]) {
        if (!h) continue;
        await h.sync().catch(() => {});
        await h.close().catch(() => {});
      }
      this.#fh = undefined;
      this.#journal = undefined;
    });
    this.#torn?.resolve();
  }
}

const NL = Buffer.from('\n');

function countLf(b: Buffer): number {
  let n = 0;
  for (let i = b.indexOf(0x0a); i !== -1; i = b.indexOf(0x0a, i + 1)) n++;
  return n;
}

/** `20261123T034512.123Z`: sorts in time order, no characters a Windows share rejects. */
export function stamp(d: Date): string {
  return d.toISOString().replace(/[-:]/g, '');
}

/** Names sort by stamp, then by the `.N` suffix numerically. */
function byStamp(a: string, b: string): number {
  const ra = /^(.*?Z)(?:\.(\d+))?$/.exec(a)!, rb = /^(.*?Z)(?:\.(\d+))?$/.exec(b)!;
  if (ra[1] !== rb[1]) return ra[1]! < rb[1]! ? -1 : 1;
  return Number(ra[2] ?? 0) - Number(rb[2] ?? 0);
}

async function freeName(name: string): Promise<string> {
  for (let i = 0; ; i++) {
    const n = i === 0 ? name : `${name}.${i}`;
    try {
      await stat(n);
    } catch {
      return n;
    }
  }
}

async function syncDir(dir: string): Promise<void> {
  const d = await open(dir, 'r');
  try {
    await d.sync();
  } catch {
    // Some filesystems refuse fsync on a directory; the data itself was fsync'd.
  } finally {
    await d.close();
  }
}

function delay(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const t = setTimeout(done, ms);
    function done(): void {
      clearTimeout(t);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });
}

function ioError(err: unknown, what: string, retryable: boolean): SinkError {
  const code = (err as NodeJS.ErrnoException).code;
  // Permission problems do not heal by themselves; a full disk or an I/O error might.
  const fatal = code === 'EACCES' || code === 'EPERM' || code === 'EISDIR' || code === 'ENOTDIR' || code === 'EROFS';
  return new SinkError('DLB_SINK_FILE_IO', `${what}: ${code ? code + ': ' : ''}${(err as Error).message}`, { retryable: retryable && !fatal, cause: err });
}
