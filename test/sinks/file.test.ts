import t from 'tap';
import { chmodSync, mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
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
function sink(output: Record<string, unknown>): FileSink {
  const { c, problems } = parse(output);
  if (problems.length) throw new Error(JSON.stringify(problems));
  return fileSink.create(c, ctx) as FileSink;
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
  const path = join(dir, 'duo.ndjson');
  const acked = auths(0, 4);
  const batch = auths(4, 5);
  const text = (evs: DuoEvent[]) => evs.map((e) => e.json + '\n').join('');
  // The previous run: 4 events acknowledged, then 2 whole lines and half of the third of the next batch.
  const partial = text(batch.slice(0, 2)) + batch[2]!.json.slice(0, 300);
  writeFileSync(path, text(acked) + partial);
  const s = sink({ path });
  await s.start();
  await send(s, batch); // the pipeline resends the unacknowledged batch
  t.equal(readFileSync(path, 'utf8'), text(acked) + text(batch), 'every event exactly once, the cut line completed in place');
  t.match(s.stats, { skippedLines: 2, completedTornLines: 1 });
  await send(s, auths(9, 1));
  await s.close();
  t.equal(readFileSync(path, 'utf8'), text(auths(0, 10)));

  // The batch was written whole but the checkpoint did not move: the resend writes nothing.
  writeFileSync(path, text(auths(0, 6)));
  const s2 = sink({ path });
  await s2.start();
  await send(s2, auths(3, 3));
  await send(s2, auths(6, 2));
  await s2.close();
  t.equal(readFileSync(path, 'utf8'), text(auths(0, 8)));
});

t.test('after a crash with three logs: the others wait for the cut line to be completed (or close it after a while)', async (t) => {
  const dir = tmp();
  const path = join(dir, 'duo.ndjson');
  const text = (evs: DuoEvent[]) => evs.map((e) => e.json + '\n').join('');
  const a = auths(0, 3);
  const adm = [adminEvent(T, 1), adminEvent(T, 2)];
  const tel = [telephonyEvent(T, 1)];
  // Crash while writing the auth batch: admin batch whole (unacked), auth batch cut.
  writeFileSync(path, text(adm) + text(a.slice(0, 1)) + a[1]!.json.slice(0, 100));
  const s = sink({ path, torn_line_wait_secs: 30 });
  await s.start();
  const telSent = send(s, tel); // arrives first, must not land after the cut fragment
  await new Promise((r) => setTimeout(r, 100));
  await send(s, a);
  await telSent;
  await send(s, adm);
  await s.close();
  t.equal(readFileSync(path, 'utf8'), text(adm) + text(a) + text(tel), 'no broken line, no duplicate');

  // The cut line's log never comes back in time: the line is closed and the others go on.
  writeFileSync(path, text(a.slice(0, 1)) + a[1]!.json.slice(0, 100));
  const s2 = sink({ path, torn_line_wait_secs: 0.2 });
  await s2.start();
  await send(s2, tel);
  await s2.close();
  t.equal(readFileSync(path, 'utf8'), text(a.slice(0, 1)) + a[1]!.json.slice(0, 100) + '\n' + text(tel));
  t.equal(s2.stats.closedTornLines, 1);
});
