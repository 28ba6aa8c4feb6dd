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
  /** Id of the last event of the region. */
  last?: string;
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
  /** Logs whose next send may repeat what an earlier run (or a failed write) left in the file. */
  readonly #unverified = new Set<string>();
  /** The file ends in a line cut short; `owner` is the log whose batch it belongs to. */
  #torn: { owner: string | undefined; resolved: Promise<void>; resolve: () => void } | undefined;
  #closed = false;
  /**
   * Test hook: replaces the data write of the next batch (tests use it to die half way).
   * Never set in production.
   */
  beforeWriteHook: ((buf: Buffer, write: (b: Buffer) => Promise<void>) => Promise<void>) | undefined;
  readonly stats = { batches: 0, lines: 0, bytes: 0, rotations: 0, resentBytesSkipped: 0, repeatedLinesDropped: 0, completedTornLines: 0, closedTornLines: 0 };
  /** Keys of recent lines (read back at start, then written), oldest first, for repeat detection. */
  readonly #seen = new Set<string>();

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
      await this.#seedSeen();
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
    for (const l of this.#intents.keys()) this.#unverified.add(l);
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

  /** Remember the lines at the end of the output (current file, then the newest rotated ones). */
  async #seedSeen(): Promise<void> {
    let budget = this.#c.resyncWindowBytes;
    const dir = dirname(this.#c.path);
    const files = [this.#c.path, ...(await this.#rotatedNames()).reverse().map((n) => join(dir, n))];
    const chunks: Buffer[] = [];
    for (const f of files) {
      if (budget <= 0) break;
      const fh = await open(f, 'r').catch(() => undefined);
      if (!fh) continue;
      try {
        const size = (await fh.stat()).size;
        const len = Math.min(size, budget);
        const b = Buffer.alloc(len);
        await fh.read(b, 0, len, size - len);
        chunks.unshift(len < size ? b.subarray(b.indexOf(0x0a) + 1) : b);
        budget -= len;
      } finally {
        await fh.close();
      }
    }
    for (const b of chunks) {
      let start = 0;
      for (let p = b.indexOf(0x0a); p !== -1; p = b.indexOf(0x0a, start)) {
        this.#remember(lineKey(b.subarray(start, p + 1)));
        start = p + 1;
      }
    }
  }

  #remember(key: string): void {
    this.#seen.delete(key);
    this.#seen.add(key);
    if (this.#seen.size > SEEN_MAX) this.#seen.delete(this.#seen.values().next().value!);
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
    if (torn && torn.owner !== undefined && torn.owner !== batch.logType) {
      const d = delay(this.#c.tornWaitMs, signal);
      await Promise.race([torn.resolved, d.promise]);
      d.cancel();
    }
    await this.#locked(() => this.#write(batch, buf));
  }

  async #write(batch: Batch, buf: Buffer): Promise<void> {
    if (this.#closed) throw new SinkError('DLB_SINK_FILE_CLOSED', 'the file output is closed', { retryable: true });
    const log = batch.logType;
    let skip = 0;
    let continuation = false;
    const prev = this.#intents.get(log);
    const mayBeResend = this.#unverified.delete(log);
    let at: number | undefined;
    // Only the first send of a log after a start or a failed write can be a resend: the
    // pipeline never sends a batch twice otherwise (a twin administrator row is a real event).
    if (prev && mayBeResend && prev.first === batch.events[0]!.id) at = prev.off;
    else if (prev && (mayBeResend || prev.last === batch.events[0]!.id) && hasNaturalId(batch.events[0]!)) {
      // After a restart the pipeline may resume inside the last region it wrote (it re-reads
      // the boundary): find the first event's line there. Only for events with Duo's own ids
      // (txid, telephony_id, ...): two administrator rows can be byte-identical, and a new one
      // must not be taken for a repeat. Within a run, a page that starts again with the last
      // event of the previous one (the pipeline re-reading its boundary) is checked the same way.
      at = await this.#find(prev, buf.subarray(0, buf.indexOf(0x0a) + 1));
    }
    if (prev && at !== undefined) {
      const r = await this.#compare(prev, at, buf);
      skip = r.skip;
      continuation = r.atEof;
      if (skip > 0) {
        this.stats.resentBytesSkipped += skip;
        this.#ctx.log.info('A batch sent again was already in the file in part or whole; writing only what is missing.', {
          logType: log, path: this.#c.path, bytesAlreadyThere: skip, bytesToWrite: buf.length - skip,
        });
      }
    }
    // Then drop whole lines of events with Duo's own ids that the file already holds: after a
    // restart the pipeline re-reads from its checkpoint (at-least-once) and can send again
    // events written by pages whose checkpoint a SIGKILL cut off.
    const starts: number[] = [0];
    for (let p = buf.indexOf(0x0a); p !== -1 && p + 1 < buf.length; p = buf.indexOf(0x0a, p + 1)) starts.push(p + 1);
    starts.push(buf.length);
    let k = 0;
    while (k < batch.events.length && starts[k]! < skip) k++;
    const parts: Buffer[] = [buf.subarray(skip, starts[k])];
    let firstWritten: string | undefined = skip < starts[k]! ? batch.events[k - 1]!.id : undefined;
    let dropped = 0;
    const newKeys: string[] = [];
    for (let i = k; i < batch.events.length; i++) {
      const l = buf.subarray(starts[i], starts[i + 1]);
      const natural = hasNaturalId(batch.events[i]!);
      const key = natural ? lineKey(l) : undefined;
      if (key !== undefined && this.#seen.has(key)) {
        dropped++;
        continue;
      }
      if (key !== undefined) newKeys.push(key);
      parts.push(l);
      firstWritten ??= batch.events[i]!.id;
    }
    if (dropped) {
      this.stats.repeatedLinesDropped += dropped;
      this.#ctx.log.info('Events sent again that the file already holds were not written twice.', { logType: log, path: this.#c.path, lines: dropped });
    }
    let data = parts.length === 1 ? parts[0]! : Buffer.concat(parts);
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
    const last = batch.events.at(-1)!.id;
    if (continuation) intent = { ...prev!, first: batch.events[0]!.id, last, off: at!, len: skip + data.length };
    else intent = { log, first: firstWritten ?? batch.events[0]!.id, last, ino: this.#ino, off: this.#size + (prefixed ? 1 : 0), len: data.length - (prefixed ? 1 : 0) };
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
      this.#unverified.add(log);
      this.#size = await this.#fh!.stat().then((s) => s.size, () => offBefore);
      throw ioError(err, `writing ${this.#c.path} failed`, true);
    }
    for (const key of newKeys) this.#remember(key); // only once they are safely in the file
    this.stats.batches++;
    this.stats.lines += batch.events.length;
    this.stats.bytes += data.length;
  }

  /** Offset of `line` at a line start inside the region `i`, if it is there. */
  async #find(i: Intent, line: Buffer): Promise<number | undefined> {
    const path = i.ino === this.#ino ? this.#c.path : await this.#rotatedWithInode(i.ino);
    if (!path || line.length === 0) return undefined;
    const fh = await open(path, 'r');
    try {
      const region = Buffer.alloc(i.len);
      const { bytesRead } = await fh.read(region, 0, i.len, i.off);
      const r = region.subarray(0, bytesRead);
      for (let p = r.lastIndexOf(line); p !== -1; p = p > 0 ? r.lastIndexOf(line, p - 1) : -1) {
        if (p === 0 || r[p - 1] === 0x0a) return i.off + p;
      }
      return undefined;
    } finally {
      await fh.close();
    }
  }

  /**
   * How much of `buf` (a batch sent again, whose first line the file holds at `start`, inside
   * the region `i`) is already there. `atEof`: it runs to the end of the current file, so the
   * rest continues it.
   */
  async #compare(i: Intent, start: number, buf: Buffer): Promise<{ skip: number; atEof: boolean }> {
    let path = this.#c.path;
    if (i.ino !== this.#ino) {
      const found = await this.#rotatedWithInode(i.ino);
      if (!found) return { skip: 0, atEof: false };
      path = found;
    }
    const regionLeft = i.off + i.len - start;
    const fh = await open(path, 'r');
    try {
      const size = (await fh.stat()).size;
      const have = Math.max(0, Math.min(buf.length, size - start));
      const there = Buffer.alloc(have);
      if (have > 0) await fh.read(there, 0, have, start);
      let n = 0;
      while (n < have && there[n] === buf[n]) n++;
      if (n === buf.length) return { skip: n, atEof: false };
      const current = path === this.#c.path;
      if (current && start + n === size && n === have) return { skip: n, atEof: true };
      // The recorded region is whole and followed by something else: skip its whole lines only.
      const lastLf = buf.subarray(0, n).lastIndexOf(0x0a);
      if (n >= regionLeft && lastLf >= 0) return { skip: lastLf + 1, atEof: false };
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
/** Lines remembered for repeat detection (~100 bytes of memory each). */
const SEEN_MAX = 50_000;

function lineKey(line: Buffer): string {
  return createHash('sha1').update(line).digest('base64');
}

/** The event carries Duo's own id (txid, telephony_id, activity_id, sekey), not a content hash. */
function hasNaturalId(e: DuoEvent): boolean {
  return Object.values(e.record).some((v) => v === e.id);
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

function delay(ms: number, signal: AbortSignal): { promise: Promise<void>; cancel: () => void } {
  let done!: () => void;
  const promise = new Promise<void>((resolve) => {
    const t = setTimeout(() => done(), ms);
    done = () => {
      clearTimeout(t);
      signal.removeEventListener('abort', done);
      resolve();
    };
    signal.addEventListener('abort', done, { once: true });
  });
  return { promise, cancel: () => done() };
}

function ioError(err: unknown, what: string, retryable: boolean): SinkError {
  const code = (err as NodeJS.ErrnoException).code;
  // Permission problems do not heal by themselves; a full disk or an I/O error might.
  const fatal = code === 'EACCES' || code === 'EPERM' || code === 'EISDIR' || code === 'ENOTDIR' || code === 'EROFS';
  return new SinkError('DLB_SINK_FILE_IO', `${what}: ${code ? code + ': ' : ''}${(err as Error).message}`, { retryable: retryable && !fatal, cause: err });
}
