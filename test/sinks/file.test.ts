import t from 'tap';
import { chmodSync, mkdtempSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigReader } from '../../src/config/reader.js';
import type { ConfigProblem } from '../../src/errors.js';
import type { DuoEvent } from '../../src/format/event.js';
import { silentLogger } from '../../src/obs/log.js';
import { fileSink, FileSink, type FileConfig } from '../../src/sinks/file/index.js';
import { adminEvent, authEvent, parseCef, telephonyEvent } from '../helpers/rsyslog.js';

const T = 1581620180351346;
const never = new AbortController().signal;
const ctx = { log: silentLogger, hostname: 'h', stateDir: tmpdir() };

function parse(output: Record<string, unknown>, file?: string): { c: FileConfig; problems: ConfigProblem[] } {
  const source = { problems: [] as ConfigProblem[], file };
  const r = new ConfigReader(output, ['output'], source);
  const c = fileSink.parse(r);
  r.finish();
  return { c, problems: source.problems };
}
function sink(output: Record<string, unknown>, stateDir = mkdtempSync(join(tmpdir(), 'dlb-file-state-'))): FileSink {
  const { c, problems } = parse(output);
  if (problems.length) throw new Error(JSON.stringify(problems));
  return fileSink.create(c, { ...ctx, stateDir }) as FileSink;
}
/** The next send writes only `n` bytes of its data, then "crashes" (the sink is then abandoned). */
function cutNextWrite(s: FileSink, n: number): void {
  s.beforeWriteHook = async (buf, write) => {
    await write(buf.subarray(0, n));
    throw new Error('simulated crash');
  };
}
const send = (s: FileSink, events: DuoEvent[]) => s.send({ logType: events[0]!.logType, account: 'a', events }, never);
const auths = (from: number, n: number): DuoEvent[] => Array.from({ length: n }, (_, i) => authEvent(T + (from + i) * 1000, from + i));
const tmp = (): string => mkdtempSync(join(tmpdir(), 'dlb-file-'));

t.test('config: mode is a quoted octal string, set deliberately; errors name their key', async (t) => {
  t.match(parse({ path: '/x/y.log' }).c, { path: '/x/y.log', format: 'json', mode: 0o640, maxBytes: 100 * 1024 * 1024, maxAgeMs: 86400_000, keep: 10 });
  t.equal(parse({ path: '/x', mode: '0600' }).c.mode, 0o600);
  t.equal(parse({ path: '/x', mode: '0o600' }).c.mode, 0o600);
  t.match(parse({ path: '/x', mode: 640 }).problems, [{ key: 'output.mode', message: /quoted octal string/ }]);
  t.match(parse({ path: '/x', mode: '0666' }).problems, [{ key: 'output.mode', message: /every user on the host write/ }]);
  t.match(parse({ path: '/x', mode: '0755' }).problems, [{ key: 'output.mode', message: /executable/ }]);
  t.match(parse({}).problems, [{ key: 'output.path', message: /required/ }]);
  t.match(parse({ path: '/x', rotate: { max_bytes: 10, keep: 0, max_age: 5 } }).problems.map((p) => p.key), ['output.rotate.max_bytes', 'output.rotate.keep', 'output.rotate.max_age']);
  t.equal(parse({ path: 'logs/duo.ndjson' }, '/etc/dlb/bridge.yaml').c.path, '/etc/dlb/logs/duo.ndjson', 'relative to the config file');
});

t.test('appends NDJSON lines, fsyncs before send resolves, sets the mode whatever the umask or old file', async (t) => {
  const dir = tmp();
  const path = join(dir, 'sub', 'duo.ndjson');
  // Count fsyncs through FileHandle's prototype (the sink's only way to fsync).
  const probe = await open(join(dir, 'probe'), 'w');
  const proto = Object.getPrototypeOf(probe) as { sync: () => Promise<void> };
  await probe.close();
  const realSync = proto.sync;
  let syncs = 0;
  proto.sync = function (this: unknown) {
    syncs++;
    return realSync.call(this);
  };
  t.teardown(() => void (proto.sync = realSync));
  const old = process.umask(0);
  const s = sink({ path });
  await s.start();
  process.umask(old);
  const evs = [...auths(0, 3)];
  const before = syncs;
  await send(s, evs);
  t.ok(syncs > before, 'fsync ran before send resolved');
  await send(s, [adminEvent(T, 1), adminEvent(T, 2)]);
  await s.close();
  t.equal(readFileSync(path, 'utf8'), [...evs, adminEvent(T, 1), adminEvent(T, 2)].map((e) => e.json + '\n').join(''));
  t.equal(statSync(path).mode & 0o777, 0o640, '0640 even with umask 0');
  t.equal(statSync(join(dir, 'sub')).mode & 0o777, 0o750, 'created directory is 0750');

  chmodSync(path, 0o666);
  const s2 = sink({ path, mode: '0600' });
  await s2.start();
  t.equal(statSync(path).mode & 0o777, 0o600, 'an existing file gets the configured mode');
  await s2.close();
});

t.test('cef lines, each with the event time in rt', async (t) => {
  const path = join(tmp(), 'duo.cef');
  const s = sink({ path, format: 'cef' });
  await s.start();
  await send(s, [telephonyEvent(T, 1), telephonyEvent(T + 5000, 2)]);
  await s.close();
  const lines = readFileSync(path, 'utf8').trimEnd().split('\n');
  t.equal(lines.length, 2);
  t.same(lines.map((l) => parseCef(l).ext.rt), [String(Math.floor(T / 1000)), String(Math.floor(T / 1000) + 5)]);
});

t.test('rotation by size: rename then reopen, files stay under max_bytes, keep prunes the oldest', async (t) => {
  const dir = tmp();
  const path = join(dir, 'duo.ndjson');
  const s = sink({ path, rotate: { max_bytes: 4096, keep: 3 } });
  await s.start();
  const all: DuoEvent[] = [];
  for (let b = 0; b < 12; b++) {
    const evs = auths(b * 2, 2); // ~2.4 KB a batch
    all.push(...evs);
    await send(s, evs);
  }
  await s.close();
  const rotated = readdirSync(dir).filter((n) => n !== 'duo.ndjson').sort();
  t.equal(rotated.length, 3, 'keep: 3');
  for (const n of rotated) {
    t.match(n, /^duo\.ndjson\.\d{8}T\d{6}\.\d{3}Z(\.\d+)?$/);
    t.ok(statSync(join(dir, n)).size <= 4096, `${n} within max_bytes`);
    t.equal(statSync(join(dir, n)).mode & 0o777, 0o640);
  }
  t.equal(s.stats.rotations, 11);
  const kept = [...rotated, 'duo.ndjson'].map((n) => readFileSync(join(dir, n), 'utf8')).join('');
  t.ok(all.map((e) => e.json + '\n').join('').endsWith(kept), 'the kept files are the newest data, in order, each line once');
});

t.test('rotation by age', async (t) => {
  const dir = tmp();
  const path = join(dir, 'duo.ndjson');
  const s = sink({ path, rotate: { max_age_secs: 0.2 } });
  await s.start();
  await send(s, auths(0, 1));
  await send(s, auths(1, 1));
  t.equal(readdirSync(dir).length, 1, 'young file: no rotation');
  await new Promise((r) => setTimeout(r, 300));
  await send(s, auths(2, 1));
  await s.close();
  t.equal(readdirSync(dir).length, 2, 'rotated once it was older than max_age_secs');
  t.equal(readFileSync(path, 'utf8'), auths(2, 1)[0]!.json + '\n');
});

t.test('after a crash: a batch written in part is completed, not duplicated, a cut line is finished', async (t) => {
  const dir = tmp();
  const state = tmp();
  const path = join(dir, 'duo.ndjson');
  const text = (evs: DuoEvent[]) => evs.map((e) => e.json + '\n').join('');
  const batch = auths(4, 5);
  const s1 = sink({ path }, state);
  await s1.start();
  await send(s1, auths(0, 4));
  // Dies after two whole lines and 300 bytes of the third.
  const cut = Buffer.byteLength(text(batch.slice(0, 2))) + 300;
  cutNextWrite(s1, cut);
  const failure = await send(s1, batch).then(() => undefined, (e: unknown) => e);
  t.match(failure, { retryable: true }, 'the cut write fails, retryable');
  await new Promise((r) => setTimeout(r, 20));
  t.equal(readFileSync(path, 'utf8'), text(auths(0, 4)) + text(batch).slice(0, cut), 'the crash left a cut line');

  const s2 = sink({ path }, state); // the next run: same state directory, the pipeline resends
  await s2.start();
  await send(s2, batch);
  t.equal(readFileSync(path, 'utf8'), text(auths(0, 9)), 'every event exactly once, the cut line completed in place');
  t.match(s2.stats, { resentBytesSkipped: cut, completedTornLines: 1 });
  await send(s2, auths(9, 1));
  await s2.close();
  t.equal(readFileSync(path, 'utf8'), text(auths(0, 10)));
});

t.test('the same process retrying after a failed write does not duplicate what got in', async (t) => {
  const path = join(tmp(), 'duo.ndjson');
  const s = sink({ path });
  await s.start();
  const batch = auths(0, 3);
  cutNextWrite(s, 700);
  await t.rejects(send(s, batch), { code: 'DLB_SINK_FILE_IO', retryable: true });
  await send(s, batch);
  await s.close();
  t.equal(readFileSync(path, 'utf8'), batch.map((e) => e.json + '\n').join(''));
});

t.test('a batch written whole but never acknowledged is not written again', async (t) => {
  const path = join(tmp(), 'duo.ndjson');
  const state = tmp();
  const s1 = sink({ path }, state);
  await s1.start();
  await send(s1, auths(0, 3));
  await send(s1, auths(3, 3)); // written and fsync'd; the bridge dies before its checkpoint
  const s2 = sink({ path }, state);
  await s2.start();
  await send(s2, auths(3, 3));
  await send(s2, auths(6, 2));
  await s2.close();
  t.equal(readFileSync(path, 'utf8'), auths(0, 8).map((e) => e.json + '\n').join(''));
  t.ok(s2.stats.resentBytesSkipped > 0);
});

t.test('byte-identical administrator rows across a page boundary are both kept', async (t) => {
  const path = join(tmp(), 'duo.ndjson');
  const state = tmp();
  const x = adminEvent(T, 7);
  const s1 = sink({ path }, state);
  await s1.start();
  await send(s1, [adminEvent(T, 1), x]);
  s1.beforeWriteHook = async () => {
    throw new Error('crash before any byte');
  };
  await t.rejects(send(s1, [adminEvent(T, 7), adminEvent(T, 8)]));
  const s2 = sink({ path }, state);
  await s2.start();
  await send(s2, [adminEvent(T, 7), adminEvent(T, 8)]);
  await s2.close();
  t.equal(readFileSync(path, 'utf8'), [adminEvent(T, 1), x, adminEvent(T, 7), adminEvent(T, 8)].map((e) => e.json + '\n').join(''), 'the second identical row is not mistaken for a resend');
});

t.test('after a crash with three logs: the others wait for the cut line to be completed (or close it after a while)', async (t) => {
  const text = (evs: DuoEvent[]) => evs.map((e) => e.json + '\n').join('');
  const a = auths(0, 3);
  const adm = [adminEvent(T, 1), adminEvent(T, 2)];
  const tel = [telephonyEvent(T, 1)];
  for (const wait of [30, 0.2]) {
    const path = join(tmp(), 'duo.ndjson');
    const state = tmp();
    const s1 = sink({ path }, state);
    await s1.start();
    await send(s1, adm); // written, never acknowledged
    cutNextWrite(s1, Buffer.byteLength(text(a.slice(0, 1))) + 100);
    await t.rejects(send(s1, a));
    const s2 = sink({ path, torn_line_wait_secs: wait }, state);
    await s2.start();
    if (wait === 30) {
      const telSent = send(s2, tel); // arrives first, must not land after the cut fragment
      await new Promise((r) => setTimeout(r, 100));
      await send(s2, a);
      await telSent;
      await send(s2, adm);
      await s2.close();
      t.equal(readFileSync(path, 'utf8'), text(adm) + text(a) + text(tel), 'no broken line, no duplicate');
    } else {
      // The cut line's log never comes back in time: the line is closed and the others go on.
      await send(s2, tel);
      await s2.close();
      t.equal(readFileSync(path, 'utf8'), text(adm) + text(a.slice(0, 1)) + a[1]!.json.slice(0, 100) + '\n' + text(tel));
      t.equal(s2.stats.closedTornLines, 1);
    }
  }
});

t.test('after a restart, events with Duo ids that the file already holds are not written again; admin rows are', async (t) => {
  const path = join(tmp(), 'duo.ndjson');
  const state = tmp();
  const s1 = sink({ path }, state);
  await s1.start();
  await send(s1, auths(0, 3));
  await send(s1, auths(3, 3));
  await send(s1, [adminEvent(T, 1)]);
  await s1.close();
  // The pipeline re-reads from an older checkpoint: events 2..7, then admin row 1 again.
  const s2 = sink({ path }, state);
  await s2.start();
  await send(s2, auths(2, 6));
  await send(s2, [adminEvent(T, 1)]); // the unacknowledged last admin batch, sent again: dropped
  await send(s2, [adminEvent(T, 1)]); // later in the same run: a real twin row (no Duo id), kept
  await s2.close();
  const text = readFileSync(path, 'utf8');
  t.equal(text, [...auths(0, 6), adminEvent(T, 1), ...auths(6, 2), adminEvent(T, 1)].map((e) => e.json + '\n').join(''), 'auth 2..5 and the resent admin batch dropped; the twin admin row kept');
  t.equal(s2.stats.repeatedLinesDropped, 4);
});
