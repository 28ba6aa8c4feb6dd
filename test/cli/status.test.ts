// `duo-log-bridge status`: every enabled log's checkpoint, age, lag, delivered count and last
// error, from the files only. The simulator's request counts prove Duo is never contacted.
import t from 'tap';
import { existsSync, mkdtempSync, readFileSync, readdirSync, unlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startSimulator } from '../../src/sim/server.js';
import { runBridge, writeConfig } from '../helpers/bridge.js';

const LOGS = ['authentication', 'administrator', 'telephony'] as const;
const tmp = () => mkdtempSync(path.join(os.tmpdir(), 'dlb-status-'));
const total = (c: Record<string, Record<number, number>>) => Object.values(c).reduce((a, s) => a + Object.values(s).reduce((x, y) => x + y, 0), 0);

t.test('status after a run: positions and counts from the checkpoints, the last error from status.json, no request to Duo', async (t) => {
  const sim = await startSimulator({ events: { authentication: 1200, administrator: 900, telephony: 700 } });
  t.teardown(() => sim.close());
  sim.injectFaults(['503'], '/admin/v2/logs/telephony');
  const dir = tmp();
  const config = writeConfig(dir, sim);
  const run = await runBridge(['run', '--config', config, '--once']);
  t.equal(run.code, 0, run.stderr);
  const served = total(sim.counts);

  const r = await runBridge(['status', '--config', config, '--json']);
  t.equal(r.code, 0, r.stderr);
  t.equal(r.stderr, '', 'nothing on stderr');
  t.equal(total(sim.counts), served, 'status made no request to Duo');
  const js = JSON.parse(r.stdout) as { checkpoint_dir: string; logs: Record<string, unknown>[] };
  t.equal(js.checkpoint_dir, path.join(dir, 'state'));
  t.same(js.logs.map((l) => l.log), LOGS);
  for (const row of js.logs) {
    const log = row.log as (typeof LOGS)[number];
    const cp = JSON.parse(readFileSync(path.join(dir, 'state', `127.0.0.1.${log}.json`), 'utf8'));
    t.equal(row.checkpoint, 'ok');
    t.equal(row.position_utc, cp.position_utc, `${log}: position from the checkpoint`);
    t.equal(row.events_delivered, sim.expectedLines(log).length, `${log}: delivered = the events the simulator served`);
    t.equal(row.checkpoint_written_at, cp.updated_at);
    t.type(row.checkpoint_age_secs, 'number');
    const posMs = cp.unit === 's' ? cp.position.time * 1000 : cp.position.time;
    t.ok(Math.abs((row.lag_secs as number) - (Date.now() - posMs) / 1000) < 60, `${log}: lag measured from the position`);
    t.equal(row.bridge_state, 'stopped');
  }
  const tel = js.logs.find((l) => l.log === 'telephony')!;
  t.match(tel.last_error, { code: /^DLB_DUO_/, message: /answered 503/ }, 'the 503 the run retried is the last error on record');
  t.equal(js.logs.find((l) => l.log === 'authentication')!.last_error, null);

  const text = await runBridge(['status', '--config', config]);
  t.equal(text.code, 0);
  const lines = text.stdout.split('\n');
  t.match(lines[1], /^LOG +POSITION \(UTC\) +AGE +LAG +DELIVERED +LAST ERROR$/);
  t.match(text.stdout, /^authentication +\S+ +.* 1,200 +-$/m);
  t.match(text.stdout, /^telephony +\S+ +.* 700 +DLB_DUO_\w+ \d+s ago: .*503/m);
  t.equal(total(sim.counts), served);
});

t.test('status with missing, corrupt and old-format files: says so, changes nothing, still no Duo', async (t) => {
  const sim = await startSimulator({ events: { authentication: 300, administrator: 300, telephony: 300 } });
  t.teardown(() => sim.close());
  const dir = tmp();
  const config = writeConfig(dir, sim);
  t.equal((await runBridge(['run', '--config', config, '--once'])).code, 0);
  const state = path.join(dir, 'state');
  unlinkSync(path.join(state, '127.0.0.1.status.json')); // as left by a bridge from before status.json
  writeFileSync(path.join(state, '127.0.0.1.administrator.json'), '{ not json');
  unlinkSync(path.join(state, '127.0.0.1.telephony.json'));
  const before = readdirSync(state).sort();
  const served = total(sim.counts);
  const r = await runBridge(['status', '--config', config]);
  t.equal(r.code, 0);
  t.match(r.stdout, /^authentication +\S+ .* 300 +-$/m, 'an old checkpoint without status.json still shows');
  t.match(r.stdout, /administrator: checkpoint file is corrupt/);
  t.match(r.stdout, /telephony: no checkpoint yet/);
  t.same(readdirSync(state).sort(), before, 'the corrupt file is not set aside by status (only a running bridge does that)');
  t.ok(existsSync(path.join(state, '127.0.0.1.administrator.json')));
  t.equal(total(sim.counts), served);
  // Duo unreachable altogether: status does not care.
  await sim.close();
  const down = await runBridge(['status', '--config', config, '--json']);
  t.equal(down.code, 0);
  t.equal(JSON.parse(down.stdout).logs.length, 3);
});

t.test('status usage errors', async (t) => {
  const r = await runBridge(['status']);
  t.equal(r.code, 2);
  t.match(r.stderr, /status needs --config FILE/);
  const bad = await runBridge(['status', '--config', path.join(tmp(), 'missing.yaml')]);
  t.equal(bad.code, 2);
});

t.test('status does not need the secret (systemd credentials exist only inside the service); other config errors still count', async (t) => {
  const sim = await startSimulator({ events: { authentication: 200, administrator: 200, telephony: 200 } });
  t.teardown(() => sim.close());
  const dir = tmp();
  const creds = path.join(dir, 'creds');
  (await import('node:fs')).mkdirSync(creds);
  writeFileSync(path.join(creds, 'duo_secret_key'), sim.skey, { mode: 0o600 });
  const config = writeConfig(dir, sim, { credentials: { integration_key: sim.ikey, secret_key_file: '${CREDENTIALS_DIRECTORY}/duo_secret_key', hostname: sim.hostname } });
  t.equal((await runBridge(['run', '--config', config, '--once'], { env: { CREDENTIALS_DIRECTORY: creds } })).code, 0);
  const r = await runBridge(['status', '--config', config, '--json'], { env: { CREDENTIALS_DIRECTORY: '' } });
  t.equal(r.code, 0, r.stderr);
  t.same(JSON.parse(r.stdout).logs.map((l: { events_delivered: number }) => l.events_delivered), [200, 200, 200], 'read without the secret');
  t.notMatch(r.stdout + r.stderr, /status-does-not-read/, 'the placeholder is never shown');
  const broken = writeConfig(tmp(), sim, { poll_interval_secs: -5, credentials: { integration_key: sim.ikey, secret_key_file: '${CREDENTIALS_DIRECTORY}/duo_secret_key', hostname: sim.hostname } });
  const b = await runBridge(['status', '--config', broken], { env: { CREDENTIALS_DIRECTORY: '' } });
  t.equal(b.code, 2);
  t.match(b.stderr, /poll_interval_secs/);
});
