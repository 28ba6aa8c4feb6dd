// Trust monitor, activity, offline enrollment and telephony v1 through the CLI: 5,000 events
// each with same-timestamp runs, a graceful stop midway and a restart: every event exactly once.
import t from 'tap';
import { mkdtempSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startSimulator } from '../../src/sim/server.js';
import { byLog, runBridge, spawnBridge, writeConfig } from '../helpers/bridge.js';

const LOGS = { trust_monitor: 'trust_monitor', activity: 'activity', offline_enrollment: 'offline_enrollment', telephony_v1: 'telephony' } as const;
const N = 5000;

t.test('four more logs: every event once across a stop and restart; sorted logs in order', async (t) => {
  const sim = await startSimulator({ events: { authentication: 0, administrator: 0, telephony: 0, trust_monitor: N, activity: N, offline_enrollment: N, telephony_v1: N } });
  t.teardown(() => sim.close());
  const dir = mkdtempSync(path.join(os.tmpdir(), 'dlb-more-'));
  const config = writeConfig(dir, sim, {
    services: { trust_monitor: {}, activity: {}, offline_enrollment: {}, telephony_v1: {} },
    api: { request_interval_secs: 0.01, backoff_initial_secs: 0.02, backoff_max_secs: 0.2 },
  });
  const child = spawnBridge(['run', '--config', config]);
  let seen = 0;
  let stopped = false;
  child.stdout!.on('data', (d: string) => {
    seen += d.split('\n').length - 1;
    if (!stopped && seen >= 9000) {
      stopped = true;
      child.kill('SIGTERM');
    }
  });
  const first = await child.result;
  t.equal(first.code, 0);
  const tm = JSON.parse(readFileSync(path.join(dir, 'state', '127.0.0.1.trust_monitor.json'), 'utf8'));
  t.ok(tm.position, 'trust monitor checkpointed');
  t.ok(tm.walk?.walk?.nextOffset, 'stopped mid-walk: the unsorted trust monitor saved the walk to resume at its offset');
  const second = await runBridge(['run', '--config', config, '--once']);
  t.equal(second.code, 0, second.stderr.slice(-500));
  const a = byLog(first.stdout);
  const b = byLog(second.stdout);
  for (const [log, eventtype] of Object.entries(LOGS)) {
    const all = [...(a[eventtype] ?? []), ...(b[eventtype] ?? [])];
    const expected = sim.expectedLines(log as 'activity');
    t.ok(expected.length >= N - 1, `${log}: ${expected.length} served`);
    t.same([...all].sort(), [...expected].sort(), `${log}: every event exactly once (${all.length})`);
    if (log !== 'trust_monitor') t.ok(all.join('\n') === expected.join('\n'), `${log}: in Duo's order`);
  }
  const action = byLog(second.stdout + first.stdout).activity!.map((l) => typeof JSON.parse(l).action);
  t.ok(action.includes('string') && action.includes('object'), 'activity action as a string and as an object, both passed through');
  t.match(a.telephony?.[0] ?? b.telephony![0]!, /"timestamp":\d+,"type":"(sms|phone)","eventtype":"telephony","host":"127.0.0.1"\}$/, 'telephony v1 records carry eventtype telephony');
});
