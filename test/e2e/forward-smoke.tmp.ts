import { startSimulator } from '../../src/sim/server.js';
import { ForwardReceiver } from '../helpers/forward-receiver.js';
import { writeConfig, spawnBridge } from '../helpers/bridge.js';
const sim = await startSimulator({ events: { authentication: 10000, administrator: 10000, telephony: 10000 } });
const rx = await ForwardReceiver.start();
const cfg = writeConfig('/tmp/fwdsmoke/' + Date.now(), sim, { output: { type: 'forward', port: rx.port } });
const t0 = Date.now();
const child = spawnBridge(['run', '--config', cfg, '--once']);
const r = await child.result;
console.log('code', r.code, 'secs', (Date.now() - t0) / 1000, 'received', rx.receivedCount, 'acked', rx.ackedCount, Object.fromEntries(rx.acked));
console.log(r.stderr.split('\n').slice(0, 12).join('\n'));
for (const log of ['authentication', 'administrator', 'telephony'] as const) {
  const exp = sim.expectedLines(log);
  const got = rx.eventsFor('duo.' + log).map((e) => JSON.stringify(e.record));
  const set = new Set(got);
  console.log(log, exp.length, got.length, exp.filter((l) => !set.has(JSON.stringify(JSON.parse(l)))).length, 'missing');
}
await rx.close(); await sim.close();
