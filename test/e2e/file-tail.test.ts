/**
 * The file output read by a real tailer: `tail -F` (GNU coreutils) follows the file by name
 * across many rotations while the writer is SIGKILLed again and again (once in the middle of a
 * write, leaving a cut line). The writer is this file run as a child process: it writes through
 * the file sink and keeps a checkpoint that moves only after `send` resolved, like the bridge.
 * What tail printed must be every event exactly once, in order.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ConfigReader } from '../../src/config/reader.js';
import type { ConfigProblem } from '../../src/errors.js';
import { silentLogger } from '../../src/obs/log.js';
import { fileSink, type FileSink } from '../../src/sinks/file/index.js';
import { authEvent } from '../helpers/rsyslog.js';

const TOTAL = 600;
const BATCH = 20;
const base = 1581620180351346;
const event = (i: number) => authEvent(base + i * 1000, i);

if (process.env.DLB_FILE_TAIL_CHILD) await child();
else await parent();

async function child(): Promise<void> {
  const path = process.env.DLB_OUT!;
  const ck = process.env.DLB_CK!;
  const source = { problems: [] as ConfigProblem[] };
  const cfg = fileSink.parse(new ConfigReader({ path, rotate: { max_bytes: 65536, keep: 1000 } }, ['output'], source));
  const sink = fileSink.create(cfg, { log: silentLogger, hostname: 'h', stateDir: process.env.DLB_STATE! }) as FileSink;
  await sink.start();
  let acked = existsSync(ck) ? Number(readFileSync(ck, 'utf8')) : 0;
  while (acked < TOTAL) {
    const evs = Array.from({ length: Math.min(BATCH, TOTAL - acked) }, (_, k) => event(acked + k));
    if (process.env.DLB_CUT_WRITE) {
      // Die in the middle of a write: one whole line and part of the next reach the file.
      sink.beforeWriteHook = async (buf, write) => {
        await write(buf.subarray(0, Buffer.byteLength(evs[0]!.json) + 1 + 333));
        process.kill(process.pid, 'SIGKILL');
        await new Promise(() => {});
      };
    }
    await sink.send({ logType: 'authentication', account: 'a', events: evs }, new AbortController().signal);
    writeFileSync(ck + '.tmp', String(acked + evs.length));
    renameSync(ck + '.tmp', ck);
    acked += evs.length;
    process.stdout.write(`acked ${acked}\n`);
    // Each file lives a few batches (~150 ms): tail -F follows a name, and a file created and
    // rotated away before tail reopens the name is never read by it.
    await new Promise((r) => setTimeout(r, 50));
  }
  await sink.close();
  process.exit(0);
}

async function parent(): Promise<void> {
  const { default: tap } = await import('tap');
  await tap.test('tail -F across rotations and SIGKILLs reads every event once', (t) => followAndKill(t));
}

async function followAndKill(t: any): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'dlb-file-tail-'));
  const path = join(dir, 'duo.ndjson');
  const ck = join(dir, 'checkpoint');
  let tailOut = '';
  // The file exists before tail starts, as it does for a SIEM agent set up on a running bridge.
  // (coreutils 9.1 `tail -F` started on a missing name follows the first file that appears but
  // then loses track of later rotations; started on an existing file it follows every one.)
  writeFileSync(path, '', { mode: 0o640 });
  const tail = spawn('tail', ['-n', '+1', '-F', path], { stdio: ['ignore', 'pipe', 'pipe'] });
  tail.stdout!.setEncoding('utf8').on('data', (d: string) => (tailOut += d));
  let tailErr = '';
  tail.stderr!.setEncoding('utf8').on('data', (d: string) => (tailErr += d));
  t.teardown(() => void tail.kill('SIGKILL'));
  const tsImport = process.execArgv.filter((a) => a.includes('@tapjs/typescript'));

  const run = (opts: { cutWrite?: boolean; killAfterAcks?: number }): Promise<{ code: number | null; signal: NodeJS.Signals | null; acks: number }> =>
    new Promise((resolve) => {
      const env: NodeJS.ProcessEnv = { ...process.env, DLB_FILE_TAIL_CHILD: '1', DLB_OUT: path, DLB_CK: ck, DLB_STATE: join(dir, 'state'), NODE_OPTIONS: '' };
      if (opts.cutWrite) env.DLB_CUT_WRITE = '1';
      const c: ChildProcess = spawn(process.execPath, [...tsImport, fileURLToPath(import.meta.url)], { env, stdio: ['ignore', 'pipe', 'inherit'] });
      let acks = 0;
      c.stdout!.setEncoding('utf8').on('data', (d: string) => {
        acks += d.split('\n').filter((l) => l.startsWith('acked')).length;
        if (opts.killAfterAcks !== undefined && acks >= opts.killAfterAcks) setTimeout(() => c.kill('SIGKILL'), Math.floor(Math.random() * 12));
      });
      c.once('exit', (code, signal) => resolve({ code, signal, acks }));
    });

  let kills = 0;
  const plan = [{ killAfterAcks: 2 }, { killAfterAcks: 3 }, { cutWrite: true }, { killAfterAcks: 4 }, { killAfterAcks: 1 }, { cutWrite: true }, { killAfterAcks: 2 }];
  for (const p of plan) {
    const r = await run(p);
    if (r.signal === 'SIGKILL') kills++;
  }
  let done = false;
  for (let i = 0; i < 10 && !done; i++) done = (await run({})).code === 0;
  t.ok(done, 'the writer finished after the kills');
  t.ok(kills >= 6, `the writer was SIGKILLed ${kills} times, twice in the middle of a write`);

  const expected = Array.from({ length: TOTAL }, (_, i) => event(i).json);
  for (let i = 0; i < 300 && tailOut.split('\n').length - 1 < TOTAL; i++) await new Promise((r) => setTimeout(r, 100));
  await new Promise((r) => setTimeout(r, 500)); // anything extra (a duplicate) would show up now
  const lines = tailOut.split('\n');
  t.equal(lines.pop(), '', 'tail ended on a whole line');
  const rotated = readdirSync(dir).filter((n) => n.startsWith('duo.ndjson.'));
  t.ok(existsSync(join(dir, 'state')), 'the intent journal lives in the state directory');
  t.ok(rotated.length >= 5, `rotated ${rotated.length} times while tail -F followed`);
  const onDisk = [...rotated.sort(), 'duo.ndjson'].map((n) => readFileSync(join(dir, n), 'utf8')).join('');
  t.equal(onDisk, expected.map((l) => l + '\n').join(''), 'the files, in rotation order, hold every event once');
  const missing = expected.map((l, i) => (lines.includes(l) ? -1 : i)).filter((i) => i >= 0);
  if (missing.length) t.comment(`tail missed events ${missing.join(',')}; dir ${dir}`);
  t.equal(lines.length, TOTAL, 'tail read as many lines as events');
  const seen = new Set(lines);
  t.equal(seen.size, lines.length, 'no line twice');
  t.equal(expected.filter((l) => !seen.has(l)).length, 0, 'no event lost');
  t.same(lines, expected, 'in order, each line whole');
  t.notMatch(tailErr, /truncated/, 'tail never saw the file shrink');
}
