/**
 * The bridge CLI (dist/cli.js) against the Duo API simulator with `output: {type: file}`,
 * read by `tail -F` while the file rotates and the bridge is SIGKILLed twice: every event the
 * simulator served is read by tail exactly once, in Duo's order per log.
 */
import t from 'tap';
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { startSimulator } from '../../src/sim/server.js';
import { byLog, runBridge, spawnBridge, writeConfig } from '../helpers/bridge.js';

const LOGS = ['authentication', 'administrator', 'telephony'] as const;
const N = 5000;

t.test('run into a rotating file under tail -F, SIGKILL twice: each event read once', async (t) => {
  const sim = await startSimulator({ events: { authentication: N, administrator: N, telephony: N }, seed: 81 });
  t.teardown(() => sim.close());
  const dir = mkdtempSync(join(os.tmpdir(), 'dlb-file-cli-'));
  const out = join(dir, 'out');
  mkdirSync(out);
  const path = join(out, 'duo.ndjson');
  // Paced (one Duo request per log every 0.4 s) so that each file lives a few hundred ms:
  // `tail -F` follows a NAME, and a file that is created and rotated away before tail reopens
  // the name is never read by it (at full speed the bridge fills 2.5 MB in ~60 ms; real
  // rotations are 100 MB or a day apart). The sink is not paced: the files are checked too.
  const config = writeConfig(dir, sim, {
    api: { request_interval_secs: 0.4, backoff_initial_secs: 0.05, backoff_max_secs: 0.5 },
    output: { type: 'file', path, rotate: { max_bytes: 2_500_000, keep: 100 }, mode: '0640' },
  });
  writeFileSync(path, '', { mode: 0o640 }); // the tailer is set up on an existing file
  let tailOut = '';
  let tailErr = '';
  const tail = spawn('tail', ['-n', '+1', '-F', path], { stdio: ['ignore', 'pipe', 'pipe'] });
  tail.stdout!.setEncoding('utf8').on('data', (d: string) => (tailOut += d));
  tail.stderr!.setEncoding('utf8').on('data', (d: string) => (tailErr += d));
  t.teardown(() => void tail.kill('SIGKILL'));
  const lines = (): number => tailOut.split('\n').length - 1;

  let kills = 0;
  for (const at of [3000, 9000]) {
    const child = spawnBridge(['run', '--config', config, '--once']);
    for (let i = 0; i < 1200 && child.exitCode === null; i++) {
      if (lines() >= at) {
        child.kill('SIGKILL');
        break;
      }
      await new Promise((r) => setTimeout(r, 10));
    }
    const r = await child.result;
    if (r.signal === 'SIGKILL') kills++;
  }
  const last = await runBridge(['run', '--config', config, '--once']);
  t.equal(last.code, 0, 'the last run drains and exits 0');
  t.equal(kills, 2, 'SIGKILLed twice mid-run');

  const total = LOGS.reduce((n, l) => n + sim.expectedLines(l).length, 0);
  for (let i = 0; i < 300 && lines() < total; i++) await new Promise((r) => setTimeout(r, 100));
  await new Promise((r) => setTimeout(r, 500)); // a duplicate would show up now
  const rotated = readdirSync(out).filter((n) => n !== 'duo.ndjson');
  t.ok(rotated.length >= 3, `${rotated.length} rotations while tail -F followed`);
  t.equal(statSync(path).mode & 0o777, 0o640, 'mode 0640');
  const onDisk = byLog([...rotated.sort(), 'duo.ndjson'].map((n) => readFileSync(join(out, n), 'utf8')).join(''));
  for (const log of LOGS) t.same(onDisk[log], sim.expectedLines(log), `${log}: the files hold every event once, in order`);
  t.equal(lines(), total, `tail read ${total} lines, one per event`);
  const got = byLog(tailOut);
  for (const log of LOGS) {
    const want = sim.expectedLines(log);
    t.same(got[log], want, `${log}: every event once, in Duo's order`);
    if (got[log]?.length !== want.length) t.comment(`${log}: tail ${got[log]?.length}, expected ${want.length}; dir ${dir}`);
  }
  t.notMatch(tailErr, /truncated/, 'the file never shrank under tail');
});
