// The Dockerfile and the systemd unit, read and checked (hadolint is not available here):
// non-root user, checkpoint volume, health check on /healthz, restart policy, hardening, the
// secret through LoadCredential=, the measured NODE_OPTIONS. The unit also goes through
// `systemd-analyze verify` and `security --offline` when systemd-analyze exists, and the example
// config it points at is loaded with $CREDENTIALS_DIRECTORY the way systemd sets it.
import t from 'tap';
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ROOT, ensureBuilt, runBridge } from '../helpers/bridge.js';

const read = (p: string) => readFileSync(path.join(ROOT, p), 'utf8');

/** Dockerfile instructions (continuations joined, comments dropped), split into stages. */
function dockerStages(text: string): { from: string; ins: [string, string][] }[] {
  const logical = text
    .split('\n')
    .filter((l) => !/^\s*#/.test(l))
    .join('\n')
    .replace(/\\\n/g, ' ')
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean);
  const stages: { from: string; ins: [string, string][] }[] = [];
  for (const l of logical) {
    const m = /^([A-Z]+)\s+(.*)$/.exec(l);
    if (!m) throw new Error(`not an instruction: ${l}`);
    if (m[1] === 'FROM') stages.push({ from: m[2]!, ins: [] });
    else stages.at(-1)!.ins.push([m[1]!, m[2]!]);
  }
  return stages;
}

t.test('Dockerfile: multi-stage, small runtime, non-root, volume, health check on /healthz', async (t) => {
  const stages = dockerStages(read('Dockerfile'));
  t.ok(stages.length >= 2, 'multi-stage');
  const run = stages.at(-1)!;
  const get = (k: string) => run.ins.filter(([i]) => i === k).map(([, v]) => v);
  t.match(run.from, /^node:20-(alpine|slim|bookworm-slim)\b/, `small Node 20 runtime base (${run.from})`);
  t.notMatch(get('RUN').join(' '), /npm (ci|install)|tsc/, 'no build tools run in the runtime stage');
  t.ok(run.ins.some(([i, v]) => i === 'COPY' && /--from=/.test(v) && /\bdist\b/.test(v)), 'dist/ comes from the build stage');
  const user = get('USER').at(-1);
  t.ok(user, 'USER set');
  t.notMatch(user!, /^(root|0)(:|$)/, `runs as a non-root user (${user})`);
  const uid = /^(\d+)/.exec(user!)?.[1];
  t.ok(uid === undefined || Number(uid) > 0, 'numeric uid is not 0');
  t.ok(run.ins.findIndex(([i]) => i === 'USER') > run.ins.findIndex(([i]) => i === 'RUN'), 'USER after the last RUN as root');
  t.match(get('VOLUME').join(' '), /\/var\/lib\/duo-log-bridge/, 'checkpoint volume');
  t.match(get('RUN').join(' '), /chown [^ ]+ \/var\/lib\/duo-log-bridge/, 'the volume directory belongs to the runtime user');
  const hc = get('HEALTHCHECK');
  t.equal(hc.length, 1);
  t.match(hc[0], /CMD .*http:\/\/127\.0\.0\.1:9464\/healthz/, 'health check hits /healthz');
  const cmd = [...get('ENTRYPOINT'), ...get('CMD')].join(' ');
  t.match(cmd, /dist\/cli\.js/);
  t.match(cmd, /"--metrics-port", "9464"/, 'the endpoint the health check needs is on');
  t.match(get('ENV').join(' '), /NODE_OPTIONS="--max-semi-space-size=4 --max-old-space-size=256"/, 'measured NODE_OPTIONS kept');
  t.match(get('ENV').join(' '), /XDG_STATE_HOME=\/var\/lib\b/, 'default checkpoint_dir lands in the volume');
  t.match(get('STOPSIGNAL').join(' '), /SIGTERM/);
  const dockerignore = read('.dockerignore');
  for (const p of ['node_modules', '.git', 'test', '**/*.pem', '**/*.key']) t.ok(dockerignore.split('\n').includes(p), `.dockerignore keeps ${p} out of the build context`);
  // The health check command itself, run against a real bridge endpoint.
  const hcCmd = JSON.parse(hc[0]!.replace(/^.*CMD\s+/, '')) as string[];
  t.equal(hcCmd[0], 'node');
  const http = await import('node:http');
  const srv = http.createServer((req, res) => res.writeHead(req.url === '/healthz' ? 200 : 404).end()).listen(0, '127.0.0.1');
  await new Promise((r) => srv.once('listening', r));
  const port = (srv.address() as { port: number }).port;
  // Asynchronous spawn: the server answering the probe runs in this process.
  const probe = (code: string) => new Promise<number | null>((resolve) => spawn(process.execPath, ['-e', code]).on('close', (s) => resolve(s)));
  t.equal(await probe(hcCmd[2]!.replace('9464', String(port))), 0, 'the health check command exits 0 on 200');
  srv.close();
  t.equal(await probe(hcCmd[2]!.replace('9464', String(port))), 1, 'and 1 when nothing answers');
});

function unit(text: string): Record<string, Record<string, string[]>> {
  const out: Record<string, Record<string, string[]>> = {};
  let sec = '';
  for (const raw of text.split('\n')) {
    const l = raw.trim();
    if (!l || l.startsWith('#') || l.startsWith(';')) continue;
    const s = /^\[(.+)\]$/.exec(l);
    if (s) {
      sec = s[1]!;
      out[sec] ??= {};
      continue;
    }
    const i = l.indexOf('=');
    ((out[sec] ??= {})[l.slice(0, i)] ??= []).push(l.slice(i + 1));
  }
  return out;
}

t.test('systemd unit: restart policy, hardening, credentials, NODE_OPTIONS', async (t) => {
  const text = read('examples/systemd/duo-log-bridge.service');
  const u = unit(text);
  const s = u.Service!;
  const one = (k: string) => s[k]?.at(-1);
  t.equal(one('Restart'), 'on-failure');
  t.equal(one('RestartPreventExitStatus'), '2', 'a bad config (exit 2) is not restarted in a loop');
  t.ok(u.Unit?.StartLimitIntervalSec && u.Unit?.StartLimitBurst, 'start limits in [Unit]');
  t.equal(one('DynamicUser'), 'yes', 'runs as its own unprivileged user');
  t.notOk(s.User && /^(root|0)$/.test(one('User')!), 'never User=root');
  for (const [k, v] of Object.entries({ NoNewPrivileges: 'yes', ProtectSystem: 'strict', ProtectHome: 'yes', PrivateTmp: 'yes', PrivateDevices: 'yes', StateDirectory: 'duo-log-bridge', StateDirectoryMode: '0700', UMask: '0077', CapabilityBoundingSet: '' }))
    t.equal(one(k), v, `${k}=${v}`);
  t.notOk(s.MemoryDenyWriteExecute?.includes('yes'), 'no MemoryDenyWriteExecute=yes (V8 JIT)');
  t.ok(s.Environment?.some((e: string) => e.includes('NODE_OPTIONS=--max-semi-space-size=4 --max-old-space-size=256')), 'measured NODE_OPTIONS kept');
  const cred = /^(\w+):(\/\S+)$/.exec(one('LoadCredential') ?? '');
  t.ok(cred, 'LoadCredential=name:/path');
  t.match(one('ExecStart')!, /dist\/cli\.js run --config \/etc\/duo-log-bridge\/config\.yaml/);
  t.match(one('ExecStart')!, /--metrics-port \d+/);
  t.ok(Number(/(\d+)s$/.exec(one('TimeoutStopSec')!)?.[1]) > 30, 'stop timeout above the 30 s shutdown_timeout_secs default');
  t.equal(u.Install?.WantedBy?.[0], 'multi-user.target');
  const example = read('examples/systemd/config.yaml');
  t.match(example, new RegExp(`secret_key_file: \\$\\{CREDENTIALS_DIRECTORY\\}/${cred![1]}\\n`), 'the example config reads the credential the unit loads');
  t.match(example, /checkpoint_dir: \/var\/lib\/duo-log-bridge\n/, 'checkpoints in StateDirectory=');
  t.notMatch(example, /^\s*secret_key:/m, 'no secret in the example config');

  // The example config loads the way the service would see it.
  ensureBuilt();
  const creds = mkdtempSync(path.join(os.tmpdir(), 'dlb-creds-'));
  writeFileSync(path.join(creds, cred![1]!), 'k'.repeat(40) + '\n', { mode: 0o400 });
  const cfgDir = mkdtempSync(path.join(os.tmpdir(), 'dlb-unit-'));
  mkdirSync(path.join(cfgDir, 'etc'));
  const cfgFile = path.join(cfgDir, 'etc', 'config.yaml');
  writeFileSync(cfgFile, example);
  const cc = await runBridge(['check-config', '--config', cfgFile], { env: { CREDENTIALS_DIRECTORY: creds } });
  t.equal(cc.code, 0, cc.stderr);
  t.match(cc.stdout, /secretKey: "?\[REDACTED\]/);
  t.notMatch(cc.stdout, /kkkkkkkk/);
  t.match(cc.stdout, /^metrics:\n {2}port: 9464\n {2}host: 127\.0\.0\.1$/m);
});

t.test('systemd-analyze verify and security --offline', async (t) => {
  if (spawnSync('systemd-analyze', ['--version']).status !== 0) return t.plan(0, 'systemd-analyze is not installed');
  ensureBuilt();
  const dir = mkdtempSync(path.join(os.tmpdir(), 'dlb-sa-'));
  const file = path.join(dir, 'duo-log-bridge.service');
  // verify checks that ExecStart's binary exists: point it at this checkout.
  writeFileSync(file, read('examples/systemd/duo-log-bridge.service').replace('/usr/bin/node /usr/lib/node_modules/duo-log-bridge/dist/cli.js', `${process.execPath} ${path.join(ROOT, 'dist', 'cli.js')}`));
  const v = spawnSync('systemd-analyze', ['verify', '--man=no', file], { encoding: 'utf8', timeout: 60_000 });
  t.equal(v.status, 0, v.stderr);
  t.same(v.stderr.split('\n').filter((l) => l.includes('duo-log-bridge.service')), [], 'no unknown key or bad value reported for the unit');
  const sec = spawnSync('systemd-analyze', ['security', '--offline=yes', '--no-pager', file], { encoding: 'utf8', timeout: 60_000 });
  const level = Number(/Overall exposure level for duo-log-bridge\.service: ([\d.]+)/.exec(sec.stdout + sec.stderr)?.[1]);
  t.ok(level <= 2, `systemd's exposure score ${level} (0 best, 10 worst) is at most 2`);
});
