// Checkpoint files: atomic writes, forgiving reads, reset on a changed start.
import t from 'tap';
import { mkdtempSync, readdirSync, readFileSync, writeFileSync, chmodSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { CheckpointStore, CHECKPOINT_VERSION, type Checkpoint } from '../../src/pipeline/checkpoint.js';
import { createLogger } from '../../src/obs/log.js';

function store() {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'dlb-cp-'));
  const lines: Record<string, unknown>[] = [];
  const log = createLogger({ write: (l) => lines.push(JSON.parse(l)) });
  return { dir, lines, s: new CheckpointStore(dir, log) };
}

const cp = (time: number, start = ''): Checkpoint => ({
  version: CHECKPOINT_VERSION,
  account: 'api-x.duosecurity.com',
  log: 'authentication',
  start_datetime_utc: start,
  unit: 'ms',
  position: { time, ids: ['a', 'b'] },
  position_utc: '',
  events_delivered: 10,
  updated_at: '',
});

t.test('commit then load round-trips; the file is readable JSON; no temp file is left', async (t) => {
  const { dir, s } = store();
  await s.ensureDir();
  await s.commit(cp(1000));
  const r = await s.load('api-x.duosecurity.com', 'authentication', '');
  t.same(r.checkpoint?.position, { time: 1000, ids: ['a', 'b'] });
  t.same(readdirSync(dir), ['api-x.duosecurity.com.authentication.json']);
  t.match(readFileSync(path.join(dir, 'api-x.duosecurity.com.authentication.json'), 'utf8'), /\n  "position": \{/);
});

t.test('commits queued behind a slow write collapse to the newest', async (t) => {
  const { s } = store();
  await s.ensureDir();
  await Promise.all([s.commit(cp(1)), s.commit(cp(2)), s.commit(cp(3))]);
  t.equal((await s.load('api-x.duosecurity.com', 'authentication', '')).checkpoint?.position.time, 3);
});

t.test('missing, empty, null and corrupt files give a warning and the configured start, never a crash', async (t) => {
  const { dir, s, lines } = store();
  await s.ensureDir();
  const file = s.fileFor('api-x.duosecurity.com', 'authentication');
  t.same(await s.load('api-x.duosecurity.com', 'authentication', ''), { checkpoint: null, reason: 'missing' });
  for (const [text, reason] of [['', 'empty'], ['null\n', 'empty'], ['{"version":1,"log":"authentication"', 'corrupt'], ['{"version":1,"log":"telephony","position":{"time":1,"ids":[]}}', 'corrupt'], ['[1,2]', 'corrupt']] as const) {
    writeFileSync(file, text);
    t.equal((await s.load('api-x.duosecurity.com', 'authentication', '')).reason, reason, JSON.stringify(text));
  }
  t.ok(lines.some((l) => /corrupt; set it aside/.test(String(l.msg))), 'loud warning');
  t.ok(readdirSync(dir).some((f) => f.includes('.corrupt-')), 'the corrupt file is kept for inspection');
});

t.test('a changed start_datetime_utc resets the log', async (t) => {
  const { s, lines } = store();
  await s.ensureDir();
  await s.commit(cp(5, '2026-07-01T00:00:00Z'));
  t.equal((await s.load('api-x.duosecurity.com', 'authentication', '2026-07-01T00:00:00Z')).checkpoint?.position.time, 5);
  t.same(await s.load('api-x.duosecurity.com', 'authentication', '2026-08-01T00:00:00Z'), { checkpoint: null, reason: 'start_changed' });
  t.ok(lines.some((l) => /start_datetime_utc changed/.test(String(l.msg))));
});

t.test('an unwritable directory is a clear, retryable error', { skip: process.getuid?.() === 0 ? 'root ignores file modes' : false }, async (t) => {
  const { dir, s } = store();
  chmodSync(dir, 0o500);
  await t.rejects(s.commit(cp(1)), { code: 'DLB_CHECKPOINT_WRITE', retryable: true });
  chmodSync(dir, 0o700);
});

t.test('a checkpoint directory that cannot exist is a clear, retryable error', async (t) => {
  // A path under a regular file: the kernel answers ENOTDIR, as real as a read-only mount, without needing root.
  const { dir } = store();
  const blocker = path.join(dir, 'not-a-dir');
  writeFileSync(blocker, 'x');
  const s = new CheckpointStore(path.join(blocker, 'state'), createLogger({ write: () => {} }));
  await t.rejects(s.commit(cp(1)), { code: 'DLB_CHECKPOINT_WRITE', retryable: true, message: /cannot write checkpoint/ });
  await t.rejects(s.ensureDir(), { code: 'DLB_CHECKPOINT_DIR', message: /is not writable/ });
});
