// duo_log_sync checkpoint files -> bridge checkpoints, through the real CLI. The end-to-end case
// writes the files DLS would have written after delivering event K (with DLS's own arithmetic),
// imports them, runs the migrated config with `run --once` against the simulator into a TCP
// receiver standing in for DLS's server, and checks that what arrives is exactly the events after K:
// nothing DLS delivered comes again, nothing after it is skipped, also inside a same-millisecond run.
import t from 'tap';
import net from 'node:net';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parse, parseDocument } from 'yaml';
import { ROOT, runBridge } from '../helpers/bridge.js';
import { startSimulator } from '../../src/sim/server.js';
import { LOG_KINDS } from '../../src/duo/logs/index.js';
import { convertValue } from '../../src/migrate/checkpoints.js';
import { accountFor } from '../../src/migrate/index.js';
import { isoToMicros } from '../../src/util/time.js';

const dir = mkdtempSync(path.join(os.tmpdir(), 'dlb-migrate-cp-'));
const NOW = Date.now();

t.test('each DLS checkpoint value becomes the position of the last event DLS delivered', async (t) => {
  const id = '1c40324f-eb60-4e87-9ffb-656295fd235b';
  t.same(convertValue('auth', '["1597671838335", "1f6e1807-0dd6-4bb6-9b66-1f6e1807aaaa"]\n', NOW).position, { time: 1597671838335, ids: ['1f6e1807-0dd6-4bb6-9b66-1f6e1807aaaa'] }, 'auth: [ms, txid] is the last event itself');
  t.same(convertValue('telephony', `"1664576469636,${id}"\n`, NOW).position, { time: 1664576469635, ids: [id] }, 'telephony: ms+1 undone, id kept');
  t.same(convertValue('telephony', `1664576469636,${id}`, NOW).position, { time: 1664576469635, ids: [id] }, 'also without JSON quotes');
  t.same(convertValue('telephony', '1597671839\n', NOW).position, { time: 1597671838000, ids: [] }, 'old DLS telephony v1: seconds+1 -> the start of that second, in ms');
  t.same(convertValue('adminaction', '1597671839\n', NOW).position, { time: 1597671838, ids: [] }, 'adminaction: seconds+1 -> that second, inclusive');
  t.equal(convertValue('adminaction', '1597671839', NOW).log, 'administrator');
  if (LOG_KINDS.activity) t.same(convertValue('activity', `"1664576469636,${id}"`, NOW).position, { time: 1664576469635, ids: [id] });
  if (LOG_KINDS.trust_monitor) t.same(convertValue('trustmonitor', '1664576469636', NOW).position, { time: 1664576469635, ids: [] }, 'trust monitor: ms+1 undone, no id');
  else t.throws(() => convertValue('trustmonitor', '1664576469636', NOW), /does not pull the trust_monitor log/);
  t.throws(() => convertValue('telephony', `"${NOW + 3 * 86_400_000},${id}"`, NOW), /in the future.*UTC/, 'a future time (DLS on a non-UTC clock) is refused');
  t.throws(() => convertValue('auth', '{"x": 1}', NOW), /not a DLS checkpoint for auth/);
  t.throws(() => convertValue('auth', 'null', NOW), /empty/);
  t.equal(accountFor('HTTPS://API-1A2B3C4D.duosecurity.com:443'), 'api-1a2b3c4d.duosecurity.com', 'the account as the bridge records it');
});

t.test('import through the CLI (offline): files, account, start, MSP child, UDP leftovers, refusal to overwrite', async (t) => {
  const dls = path.join(dir, 'dls-state');
  mkdirSync(dls);
  const tel = 'b3a2a7ce-7cd1-4b3f-9d8e-4f0b7c1a2d3e';
  writeFileSync(path.join(dls, 'auth_checkpoint_data.txt'), '["1763000000123", "9f1c2d3e-0000-4000-8000-000000000001"]\n');
  writeFileSync(path.join(dls, 'telephony_checkpoint_data.txt'), `"1763000000457,${tel}"\n`);
  writeFileSync(path.join(dls, 'adminaction_checkpoint_data.txt'), '1763000001\n');
  writeFileSync(path.join(dls, 'auth_checkpoint_data_DA1B2C3D4E5F6G7H8I9J.txt'), '["1763000000999", "9f1c2d3e-0000-4000-8000-000000000002"]\n');
  writeFileSync(path.join(dls, 'auth_udp_failed_ingestion_logs.txt'), '{"a":1}\n{"a":2}\n{"a":3}\n');
  writeFileSync(path.join(dls, 'duologsync.log'), 'not a checkpoint\n');
  const out = path.join(dir, 'bridge-state');
  const to = path.join(dir, 'bridge.yaml');
  const r = await runBridge(['migrate-config', path.join(ROOT, 'test/fixtures/migrate/dls-config.yml'), to, '--import-checkpoints', dls, '--checkpoint-dir', out, '--offline']);
  t.equal(r.code, 0, "exit 0", { stderr: r.stderr });
  const cfg = parse(readFileSync(to, 'utf8')) as Record<string, any>;
  t.equal(cfg.checkpoint_dir, out, 'the config points at the imported checkpoints');
  const host = 'api-1a2b3c4d.duosecurity.com';
  const read = (f: string) => JSON.parse(readFileSync(path.join(out, f), 'utf8'));
  const auth = read(`${host}.authentication.json`);
  t.match(auth, { version: 1, account: host, log: 'authentication', unit: 'ms', position: { time: 1763000000123, ids: ['9f1c2d3e-0000-4000-8000-000000000001'] }, events_delivered: 0 });
  t.equal(auth.start_datetime_utc, cfg.services.authentication.start_datetime_utc, "start equals the config's, or the bridge would reset it");
  t.ok(auth.start_datetime_utc, 'offset 7 days gave a start');
  t.equal(auth.position_utc, '2025-11-13T02:13:20.123000+00:00');
  const telCp = read(`${host}.telephony.json`);
  t.same(telCp.position, { time: 1763000000456, ids: [tel] });
  const child = read('da1b2c3d4e5f6g7h8i9j.authentication.json');
  t.equal(child.account, 'DA1B2C3D4E5F6G7H8I9J', 'an MSP child file is kept per child account id, as the bridge names it');
  t.notOk(existsSync(path.join(out, `${host}.administrator.json`)), 'adminaction is not imported when the config does not enable administrator');
  t.match(r.stderr, /adminaction_checkpoint_data\.txt: not carried over: the administrator log is not enabled/);
  t.match(r.stderr, /auth_udp_failed_ingestion_logs\.txt: 3 event\(s\) DLS could not send over UDP/);
  t.match(r.stderr, /offline \(--offline\)/);
  t.match(r.stderr, /older than the 180 days Duo keeps/, 'a position Duo no longer serves is pointed out');
  const text = readFileSync(to, 'utf8');
  t.match(text, /# migrate-config: DLS checkpoints imported from/);
  t.notMatch(text, /--import-checkpoints \/var\/lib/, 'the "how to import" hint is gone once imported');
  t.same(readdirSync(out).filter((f) => f.includes('.tmp')), [], 'no temp files left');

  const before = readFileSync(path.join(out, `${host}.authentication.json`), 'utf8');
  const again = await runBridge(['migrate-config', path.join(ROOT, 'test/fixtures/migrate/dls-config.yml'), path.join(dir, 'other.yaml'), '--import-checkpoints', dls, '--checkpoint-dir', out, '--offline']);
  t.equal(again.code, 2, 'an existing bridge checkpoint is not replaced without --force');
  t.match(again.stderr, /exists \(the bridge already has a position there\); add --force/);
  t.notOk(existsSync(path.join(dir, 'other.yaml')), 'and nothing else was written either');
  t.equal(readFileSync(path.join(out, `${host}.authentication.json`), 'utf8'), before);

  const noDir = await runBridge(['migrate-config', path.join(ROOT, 'test/fixtures/migrate/dls-config.yml'), '--import-checkpoints', dls]);
  t.equal(noDir.code, 2);
  t.match(noDir.stderr, /needs --checkpoint-dir/);
  const empty = path.join(dir, 'empty');
  mkdirSync(empty);
  const none = await runBridge(['migrate-config', path.join(ROOT, 'test/fixtures/migrate/dls-config.yml'), '--import-checkpoints', empty, '--checkpoint-dir', path.join(dir, 'x')]);
  t.equal(none.code, 2);
  t.match(none.stderr, /no duo_log_sync checkpoint files/);
});

/** A TCP server standing in for DLS's server: collects the JSON payload of each syslog line. */
async function receiver() {
  const lines: string[] = [];
  const open = new Set<net.Socket>();
  let closed: (() => void)[] = [];
  const server = net.createServer((s) => {
    open.add(s);
    let buf = '';
    s.setEncoding('utf8');
    s.on('data', (d: string) => {
      buf += d;
      let nl;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        lines.push(line.slice(line.indexOf('{')));
      }
    });
    s.on('close', () => {
      open.delete(s);
      if (!open.size) for (const f of closed.splice(0)) f();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    port: (server.address() as net.AddressInfo).port,
    lines,
    /** Resolves once every connection the bridge made has closed. */
    drained: () => (open.size ? new Promise<void>((r) => closed.push(r)) : Promise.resolve()),
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}

const msOf = (line: string, field: string) => Math.floor(isoToMicros((JSON.parse(line) as Record<string, string>)[field]!) / 1000);

t.test('end to end: DLS auth and telephony checkpoints imported, then run --once: no re-read, no gap', async (t) => {
  const sim = await startSimulator({ events: { authentication: 3000, telephony: 3000, administrator: 0 } });
  t.teardown(() => sim.close());
  const rx = await receiver();
  t.teardown(() => rx.close());
  const auth = sim.expectedLines('authentication');
  const tel = sim.expectedLines('telephony');
  t.equal(auth.length, 3000);

  // Auth: DLS stopped at event K inside the simulator's 1500-event same-millisecond burst.
  const K = 2434; // 1200 into the burst: the lookup has to page past 1000 events of one ms
  const kMs = msOf(auth[K]!, 'isotimestamp');
  const firstAtK = auth.findIndex((l) => msOf(l, 'isotimestamp') === kMs);
  t.ok(firstAtK < K - 100 && msOf(auth[K + 1]!, 'isotimestamp') === kMs, `K=${K} is inside a run of one ms (from ${firstAtK})`);
  // Telephony: DLS stopped at event J, the first of two sharing a ms (DLS itself, resuming at ms+1, would skip J+1).
  let J = 400;
  while (!(msOf(tel[J]!, 'ts') === msOf(tel[J + 1]!, 'ts') && msOf(tel[J - 1]!, 'ts') !== msOf(tel[J]!, 'ts'))) J++;
  t.ok(J < 1200, `J=${J}`);

  // What DLS wrote, with its own arithmetic (Python floats are IEEE doubles, as here).
  const dls = path.join(dir, 'e2e-dls');
  mkdirSync(dls);
  const a = JSON.parse(auth[K]!) as Record<string, string>;
  const authMs = Math.trunc((isoToMicros(a.isotimestamp!) / 1e6) * 1000); // int(total_seconds() * 1000)
  writeFileSync(path.join(dls, 'auth_checkpoint_data.txt'), `["${authMs}", "${a.txid}"]\n`); // json.dumps: ", "
  const p = JSON.parse(tel[J]!) as Record<string, string>;
  const telMs = Math.trunc((isoToMicros(p.ts!) / 1e6) * 1000) + 1; // int(timestamp() * 1000) + 1
  writeFileSync(path.join(dls, 'telephony_checkpoint_data.txt'), `"${telMs},${p.telephony_id}"\n`);

  const dlsConfig = path.join(dir, 'e2e-dls.yml');
  writeFileSync(
    dlsConfig,
    `version: '1.0.0'
dls_settings:
  log_format: 'JSON'
  api:
    offset: 1
    timeout: 120
  checkpointing:
    enabled: True
    directory: '${dls}'
servers:
  - id: 'siem'
    hostname: '127.0.0.1'
    port: ${rx.port}
    protocol: 'TCP'
account:
  ikey: '${sim.ikey}'
  skey: '${sim.skey}'
  hostname: '${sim.hostname}'
  endpoint_server_mappings:
    - endpoints: ['auth', 'telephony']
      server: 'siem'
  is_msp: False
`,
  );

  async function migrateAndRun(name: string, extra: string[]) {
    const to = path.join(dir, `${name}.yaml`);
    const state = path.join(dir, `${name}-state`);
    const m = await runBridge(['migrate-config', dlsConfig, to, '--import-checkpoints', dls, '--checkpoint-dir', state, ...extra]);
    t.equal(m.code, 0, "exit 0", { stderr: m.stderr });
    t.notMatch(readFileSync(to, 'utf8') + m.stderr, sim.skey, 'no secret in the config or the messages');
    // The emitted config as is, except no 30 s pacing between requests in a test.
    const doc = parseDocument(readFileSync(to, 'utf8'));
    doc.setIn(['api', 'request_interval_secs'], 0);
    writeFileSync(to, doc.toString());
    rx.lines.length = 0;
    const r = await runBridge(['run', '--config', to, '--once'], { env: { DUO_SECRET_KEY: sim.skey } });
    t.equal(r.code, 0, "exit 0", { stderr: r.stderr });
    await rx.drained();
    const got: Record<string, string[]> = {};
    for (const l of rx.lines) (got[(JSON.parse(l) as { eventtype: string }).eventtype] ??= []).push(l);
    return { migrate: m, got };
  }

  // Asking Duo (the simulator) which events share the boundary ms: exact.
  const online = await migrateAndRun('online', []);
  t.match(online.migrate.stderr, new RegExp(`asked Duo: ${K - firstAtK + 1} event\\(s\\) at that ms already delivered`));
  t.equal(online.got.authentication?.length, auth.length - K - 1, 'authentication: only the events after K');
  t.same(online.got.authentication, auth.slice(K + 1), 'authentication: exactly the events after K, in order (no re-read, no gap)');
  t.same(online.got.telephony, tel.slice(J + 1), 'telephony: exactly the events after J, including J+1 in the same ms');

  // Offline: DLS kept only its last id, so the other events DLS sent in that one ms come again, and nothing else.
  const offline = await migrateAndRun('offline', ['--offline']);
  t.match(offline.migrate.stderr, /offline \(--offline\)/);
  t.same(offline.got.authentication, [...auth.slice(firstAtK, K), ...auth.slice(K + 1)], 'offline: the same-ms events before K again (a duplicate), never a gap');
  t.same(offline.got.telephony, tel.slice(J + 1), 'offline telephony: J was the first of its ms, so exact');

  // DLS's float arithmetic can land 1 ms low; asking Duo looks at the next ms too and is still exact.
  writeFileSync(path.join(dls, 'auth_checkpoint_data.txt'), `["${authMs - 1}", "${a.txid}"]\n`);
  const low = await migrateAndRun('online-low', []);
  t.match(low.migrate.stderr, new RegExp(`asked Duo: ${K - firstAtK + 1} event\\(s\\) at that ms already delivered`));
  t.same(low.got.authentication, auth.slice(K + 1), 'a DLS ms 1 too low: still exactly the events after K');
});

t.test('end to end, MSP: per-child DLS checkpoints land where the bridge looks for each child, exactly', async (t) => {
  const sim = await startSimulator({ events: { authentication: 0, administrator: 0, telephony: 0 }, msp: { children: 2, events: { authentication: 3000 } } });
  t.teardown(() => sim.close());
  const rx = await receiver();
  t.teardown(() => rx.close());
  const dls = path.join(dir, 'msp-dls');
  mkdirSync(dls);
  const cut: Record<string, number> = { [sim.children[0]!]: 1934, [sim.children[1]!]: 2999 - 10 };
  for (const [child, k] of Object.entries(cut)) {
    const a = JSON.parse(sim.expectedLines('authentication', child)[k]!) as Record<string, string>;
    const ms = Math.trunc((isoToMicros(a.isotimestamp!) / 1e6) * 1000);
    writeFileSync(path.join(dls, `auth_checkpoint_data_${child}.txt`), `["${ms}", "${a.txid}"]\n`);
  }
  const dlsConfig = path.join(dir, 'msp-dls.yml');
  writeFileSync(
    dlsConfig,
    `version: '1.0.0'
dls_settings:
  checkpointing: {enabled: True, directory: '${dls}'}
servers:
  - {id: 'siem', hostname: '127.0.0.1', port: ${rx.port}, protocol: 'TCP'}
account:
  ikey: '${sim.ikey}'
  skey: '${sim.skey}'
  hostname: '${sim.hostname}'
  endpoint_server_mappings:
    - {endpoints: ['auth'], server: 'siem'}
  is_msp: True
`,
  );
  const to = path.join(dir, 'msp.yaml');
  const m = await runBridge(['migrate-config', dlsConfig, to, '--import-checkpoints', dls, '--checkpoint-dir', path.join(dir, 'msp-state')]);
  t.equal(m.code, 0, 'exit 0', { stderr: m.stderr });
  t.equal((m.stderr.match(/asked Duo: \d+ event\(s\) at that ms/g) ?? []).length, 2, 'each child asked at its own host with account_id', { stderr: m.stderr });
  const doc = parseDocument(readFileSync(to, 'utf8'));
  doc.setIn(['api', 'request_interval_secs'], 0);
  writeFileSync(to, doc.toString());
  const r = await runBridge(['run', '--config', to, '--once'], { env: { DUO_SECRET_KEY: sim.skey } });
  t.equal(r.code, 0, 'exit 0', { stderr: r.stderr });
  await rx.drained();
  for (const [child, k] of Object.entries(cut)) {
    const got = rx.lines.filter((l) => (JSON.parse(l) as Record<string, string>).child_account_id === child);
    t.same(got, sim.expectedLines('authentication', child).slice(k + 1), `child ${child}: exactly the events after its checkpoint`);
  }
});

t.test('asking Duo finds no such id near that time: the offline position stands, and says so', async (t) => {
  const sim = await startSimulator({ events: { authentication: 500, administrator: 0, telephony: 0 } });
  t.teardown(() => sim.close());
  const a = JSON.parse(sim.expectedLines('authentication')[100]!) as Record<string, string>;
  const ms = Math.floor(isoToMicros(a.isotimestamp!) / 1000);
  const dls = path.join(dir, 'bogus-dls');
  mkdirSync(dls);
  writeFileSync(path.join(dls, 'auth_checkpoint_data.txt'), `["${ms}", "00000000-0000-4000-8000-00000000beef"]\n`);
  const cfg = path.join(dir, 'bogus.yml');
  writeFileSync(cfg, `version: '1.0.0'\nservers: [{id: s, hostname: 127.0.0.1, port: 1, protocol: TCP}]\naccount: {ikey: '${sim.ikey}', skey: '${sim.skey}', hostname: '${sim.hostname}', endpoint_server_mappings: [{endpoints: [auth], server: s}]}\n`);
  const state = path.join(dir, 'bogus-state');
  const r = await runBridge(['migrate-config', cfg, path.join(dir, 'bogus.yaml'), '--import-checkpoints', dls, '--checkpoint-dir', state]);
  t.equal(r.code, 0, 'exit 0', { stderr: r.stderr });
  t.match(r.stderr, /asked Duo, but it did not return that id near that time; offline position kept/);
  const cp = JSON.parse(readFileSync(path.join(state, '127.0.0.1.authentication.json'), 'utf8'));
  t.same(cp.position, { time: ms, ids: ['00000000-0000-4000-8000-00000000beef'] });
  t.notMatch(r.stderr, sim.skey);
});
