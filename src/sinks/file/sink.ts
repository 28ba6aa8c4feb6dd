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
 *   `tail -F`, Splunk, NXLog and LogRhythm expect. The directory is fsync'd after the rename
 *   and after creating a file. The oldest rotated files beyond `keep` are deleted.
 * - The mode is set deliberately (default 0640, chmod'ed after open so the umask and any older
 *   file permissions do not decide it): the content is security data.
 * - Each line carries the event's own time (the JSON's Duo fields; CEF `rt`).
 * - A crash (SIGKILL, power loss) can leave the unacknowledged batch written in part, its last
 *   line cut. On the next start the sink reads the end of the file and, when the pipeline sends
 *   that batch again, writes only what is missing: whole lines already there are skipped, and a
 *   cut line is completed with its missing bytes. A tailer therefore reads each event once.
 *   If the log whose line was cut does not resend within `torn_line_wait_secs`, the cut line
 *   is closed with a newline (one broken line, logged) so that other logs can go on.
 */
import { mkdir, open, readdir, rename, rm, stat, type FileHandle } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { SinkError } from '../../errors.js';
import { cefLine } from '../../format/cef.js';
import type { DuoEvent } from '../../format/event.js';
import type { Batch, Sink, SinkContext } from '../types.js';
import type { FileConfig } from './config.js';

interface Resync {
  /** The end of the file as found at start, beginning at a line start. */
  tail: string;
  /** Text after the last LF of `tail` (a line cut by a crash), or ''. */
  torn: string;
  /** Log types that already did their first send since start (only that one can be a resend). */
  done: Set<string>;
  expiresAt: number;
}

export class FileSink implements Sink {
  readonly type = 'file';
  readonly #c: FileConfig;
  readonly #ctx: SinkContext;
  #fh: FileHandle | undefined;
  #size = 0;
  #openedAt = 0;
  #lock: Promise<void> = Promise.resolve();
  #resync: Resync | undefined;
  #tornResolved: (() => void) | undefined;
  #tornDone: Promise<void> = Promise.resolve();
  #closed = false;
  readonly stats = { batches: 0, lines: 0, bytes: 0, rotations: 0, skippedLines: 0, completedTornLines: 0, closedTornLines: 0 };

  constructor(c: FileConfig, ctx: SinkContext) {
    this.#c = c;
    this.#ctx = ctx;
  }

  line(e: DuoEvent): string {
    return this.#c.format === 'cef' ? cefLine(e) : e.json;
  }

  async start(): Promise<void> {
    try {
      await mkdir(dirname(this.#c.path), { recursive: true, mode: 0o750 });
      await this.#open();
      await this.#readTail();
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
    this.#size = st.size;
    this.#openedAt = existed && st.birthtimeMs > 0 ? st.birthtimeMs : Date.now();
    if (!existed) await syncDir(dirname(this.#c.path));
  }

  async #readTail(): Promise<void> {
    if (this.#size === 0) return;
    const len = Math.min(this.#size, this.#c.resyncWindowBytes);
    const buf = Buffer.alloc(len);
    const rfh = await open(this.#c.path, 'r');
    try {
      await rfh.read(buf, 0, len, this.#size - len);
    } finally {
      await rfh.close();
    }
    let start = 0;
    if (len < this.#size) {
      start = buf.indexOf(0x0a) + 1; // begin at a line start
      if (start === 0) return; // one huge line: nothing to resync against
    }
    const tail = buf.subarray(start).toString('utf8');
    const lastLf = tail.lastIndexOf('\n');
    const torn = tail.slice(lastLf + 1);
    this.#resync = { tail, torn, done: new Set(), expiresAt: Date.now() + 10 * 60_000 };
    if (torn) {
      this.#ctx.log.warn('The output file ends in a line cut short (the previous run stopped mid-write); it will be completed when its batch is sent again.', {
        path: this.#c.path, bytes: Buffer.byteLength(torn),
      });
      this.#tornDone = new Promise((r) => (this.#tornResolved = r));
    }
  }

  send(batch: Batch, signal: AbortSignal): Promise<void> {
    return this.#send(batch, signal);
  }

  async #send(batch: Batch, signal: AbortSignal): Promise<void> {
    const lines = batch.events.map((e) => this.line(e) + '\n');
    // Another log's line was cut by a crash: give that log the chance to complete it first.
    const rs = this.#resync;
    if (rs?.torn && !this.#completesTorn(rs, batch.logType, lines)) {
      await Promise.race([this.#tornDone, delay(this.#c.tornWaitMs, signal)]);
    }
    await this.#locked(async () => {
      if (this.#closed) throw new SinkError('DLB_SINK_FILE_CLOSED', 'the file output is closed', { retryable: true });
      let text: string;
      let mayRotate = true;
      const r = this.#resync;
      if (r && Date.now() > r.expiresAt && !r.torn) this.#resync = undefined;
      if (this.#resync && !this.#resync.done.has(batch.logType)) {
        const plan = this.#plan(this.#resync, lines);
        this.#resync.done.add(batch.logType);
        text = plan.text;
        if (plan.skipped || plan.completed) {
          this.stats.skippedLines += plan.skipped;
          this.#ctx.log.info('Resumed a batch the previous run had written in part.', {
            logType: batch.logType, path: this.#c.path, linesAlreadyThere: plan.skipped, cutLineCompleted: plan.completed,
          });
          mayRotate = false; // the completion must land in the same file as its start
        }
        if (plan.completed) this.#clearTorn(true);
      } else {
        text = lines.join('');
      }
      if (this.#resync?.torn) {
        // Waited long enough: close the cut line so this batch starts on a line of its own.
        this.#ctx.log.warn('Closing a line cut short by the previous run: its log did not send it again in time; the event will appear whole later.', { path: this.#c.path });
        text = '\n' + text;
        this.#clearTorn(false);
      }
      if (text === '') return;
      if (mayRotate && this.#size > 0 && (this.#size + Buffer.byteLength(text) > this.#c.maxBytes || (this.#c.maxAgeMs > 0 && Date.now() - this.#openedAt >= this.#c.maxAgeMs))) {
        await this.#rotate();
      }
      const buf = Buffer.from(text, 'utf8');
      try {
        let off = 0;
        while (off < buf.length) {
          const { bytesWritten } = await this.#fh!.write(buf, off, buf.length - off);
          off += bytesWritten;
          this.#size += bytesWritten;
        }
        await this.#fh!.sync();
      } catch (err) {
        // Part of the batch may be in the file: resync against it when the batch comes again.
        await this.#afterFailedWrite();
        throw ioError(err, `writing ${this.#c.path} failed`, true);
      }
      this.stats.batches++;
      this.stats.lines += lines.length;
      this.stats.bytes += buf.length;
    });
  }

  async #afterFailedWrite(): Promise<void> {
    try {
      this.#size = (await this.#fh!.stat()).size;
      this.#resync = undefined;
      await this.#readTail();
    } catch {
      // Reading back failed too: the resend writes the whole batch.
    }
  }

  /** Whether this batch's first send completes the cut line (its lines lead to the file's end). */
  #completesTorn(rs: Resync, logType: string, lines: string[]): boolean {
    if (rs.done.has(logType)) return false;
    return this.#plan(rs, lines).completed;
  }

  /**
   * What of `lines` is still missing from the file: find the first line at a line start in the
   * tail (or as the cut line), walk forward while the file holds the same lines, and write
   * only the rest (plus the missing end of a cut line).
   */
  #plan(rs: Resync, lines: string[]): { text: string; skipped: number; completed: boolean } {
    const all = { text: lines.join(''), skipped: 0, completed: false };
    if (!lines.length) return all;
    const { tail, torn } = rs;
    const first = lines[0]!;
    let pos = -1;
    for (let i = tail.indexOf(first); i !== -1; i = tail.indexOf(first, i + 1)) {
      if (i === 0 || tail.charCodeAt(i - 1) === 10) {
        pos = i;
        break;
      }
    }
    if (pos === -1 && torn && first.startsWith(torn)) pos = tail.length - torn.length;
    if (pos === -1) return all;
    let k = 0;
    let head = '';
    let completed = false;
    while (k < lines.length) {
      const l = lines[k]!;
      if (tail.startsWith(l, pos)) {
        pos += l.length;
        k++;
        continue;
      }
      const rest = tail.slice(pos);
      if (rest.length > 0 && rest.length < l.length && torn && rest === torn && l.startsWith(rest)) {
        head = l.slice(rest.length);
        completed = true;
        k++;
      }
      break;
    }
    return { text: head + lines.slice(k).join(''), skipped: completed ? k - 1 : k, completed };
  }

  #clearTorn(completed: boolean): void {
    if (!this.#resync?.torn) return;
    this.#resync.torn = '';
    if (completed) this.stats.completedTornLines++;
    else this.stats.closedTornLines++;
    this.#tornResolved?.();
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
    this.#resync = undefined; // what was written before belongs to the rotated file
    this.stats.rotations++;
    this.#ctx.log.info('Rotated the output file.', { path, rotatedTo: target });
    await this.#prune().catch((err) => this.#ctx.log.warn('Could not delete old rotated files.', { path, error: err }));
  }

  async #prune(): Promise<void> {
    const dir = dirname(this.#c.path);
    const base = basename(this.#c.path);
    const re = new RegExp(`^${base.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\.\\d{8}T\\d{6}\\.\\d{3}Z(\\.\\d+)?$`);
    const rotated = (await readdir(dir)).filter((n) => re.test(n)).sort(byStamp);
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
      const fh = this.#fh;
      this.#fh = undefined;
      if (fh) {
        await fh.sync().catch(() => {});
        await fh.close().catch(() => {});
      }
    });
    this.#tornResolved?.();
  }
}

/** `20261123T034512.123Z`: sorts in time order, no characters a Windows share rejects. */
export function stamp(d: Date): string {
  return d.toISOString().replace(/[-:]/g, '');
}

/** Names sort by stamp, then by the `.N` suffix numerically. */
function byStamp(a: string, b: string): number {
  const sa = a.replace(/\.(\d+)$/, ''), sb = b.replace(/\.(\d+)$/, '');
  if (sa !== sb) return sa < sb ? -1 : 1;
  const na = Number(/\.(\d+)$/.exec(a.slice(sa.length))?.[1] ?? 0);
  const nb = Number(/\.(\d+)$/.exec(b.slice(sb.length))?.[1] ?? 0);
  return na - nb;
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
