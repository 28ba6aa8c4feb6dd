// Security hardening: a known secret never leaves the process (stdout, stderr, metrics, status,
// files written), insecure settings warn on every start, secret files readable by others warn,
// TLS 1.2 is the floor, ${CREDENTIALS_DIRECTORY} reaches the secret, paths work Windows-style.
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { stringify } from 'yaml';
import { startSimulator } from '../../src/sim/server.js';
import { expandEnvPath } from '../../src/config/env-path.js';
import { loadConfigText } from '../../src/config/load.js';
import { configSecrets, looseMode, securityWarnings } from '../../src/obs/security.js';
import { ensureBuilt, logLines, runBridge, spawnBridge, writeConfig } from '../helpers/bridge.js';

const tmp = () => mkdtempSync(path.join(os.tmpdir(), 'dlb-sec-'));

function allFiles(dir: string): string[] {
  const out: string[] = [];
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) out.push(...allFiles(p));
    else out.push(p);
  }
  return out;
}

async function waitFor<T>(what: string, fn: () => Promise<T | undefined> | T | undefined): Promise<T> {
  for (let i = 0; i < 600; i++) {
    const v = await fn();
    if (v !== undefined) return v;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out waiting for ${what}`);
}

t.test('a known secret appears nowhere: stdout, stderr, metrics, health, status, check-config, files written; success and error paths', async (t) => {
  const SECRET = 'Cn' + randomBytes(19).toString('hex'); // 40 characters, like a Duo secret key
  const WRONG = 'Wr' + randomBytes(19).toString('hex');
  const forms = (s: string) => [s, Buffer.from(s).toString('base64'), Buffer.from(s).toString('hex')];
  const sim = await startSimulator({ skey: SECRET, events: { authentication: 1500, administrator: 800, telephony: 600 } });
  t.teardown(() => sim.close());
  const dir = tmp();
  const secretFile = path.join(dir, 'secret_key');
  writeFileSync(secretFile, SECRET + '\n', { mode: 0o600 });
  const haystack: { what: string; text: string }[] = [];
  const seen = (what: string, text: string) => haystack.push({ what, text });

  // 1. The stdout output path, with Duo faults on the way, scraped while it runs.
  sim.injectFaults(['429', '500', 'truncated', 'html', '40105', '503', 'reset'], '/admin/v2/logs/authentication');
  const config = writeConfig(dir, { ...sim, skey: undefined as unknown as string }, {
    credentials: { integration_key: sim.ikey, secret_key_file: secretFile, hostname: sim.hostname },
    poll_interval_secs: 3600,
    log_level: 'debug',
  });
  let err1 = '';
  const child = spawnBridge(['run', '--config', config, '--metrics-port', '0']);
  child.stderr!.on('data', (d: string) => (err1 += d));
  t.teardown(() => child.kill('SIGKILL'));
  const port = await waitFor('metrics port', () => logLines(err1).find((l) => l.msg === 'Metrics and health endpoint listening.')?.port as number | undefined);
  await waitFor('catch-up', async () => {
    const m = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
    return (m.match(/catch_up_eta_seconds\{[^}]*\} 0$/gm) ?? []).length === 3 ? true : undefined;
  });
  for (const p of ['/metrics', '/healthz', '/readyz', '/nope']) seen(`GET ${p}`, await (await fetch(`http://127.0.0.1:${port}${p}`)).text());
  child.kill('SIGTERM');
  const r1 = await child.result;
  t.equal(r1.code, 0);
  t.equal(r1.stdout.split('\n').filter(Boolean).length, 1500 + 800 + 600, 'the run delivered everything');
  t.match(r1.stderr, /Duo request failed; retrying/, 'the error paths were taken');
  seen('run stdout', r1.stdout);
  seen('run stderr', r1.stderr);

  // 2. status and check-config read the same config.
  for (const args of [['status', '--config', config], ['status', '--config', config, '--json'], ['check-config', '--config', config]]) {
    const r = await runBridge(args);
    t.equal(r.code, 0, args.join(' '));
    seen(`${args[0]} stdout`, r.stdout);
    seen(`${args[0]} stderr`, r.stderr);
  }

  // 3. The secret inline in the config, and check-config printing it back.
  const inlineDir = tmp();
  const inline = writeConfig(inlineDir, sim, { services: { telephony: {} } });
  chmodSync(inline, 0o600);
  const cc = await runBridge(['check-config', '--config', inline]);
  t.equal(cc.code, 0);
  t.match(cc.stdout, /secretKey: "?\[REDACTED\]/);
  seen('check-config inline stdout', cc.stdout);
  const inlineRun = await runBridge(['run', '--config', inline, '--once']);
  t.equal(inlineRun.code, 0);
  seen('inline run stderr', inlineRun.stderr);

  // 4. A wrong secret (Duo answers 401): exit 1, the wrong secret is not echoed either.
  const wrongDir = tmp();
  const wrong = writeConfig(wrongDir, { ...sim, skey: WRONG }, { services: { administrator: {} } });
  const rw = await runBridge(['run', '--config', wrong, '--once']);
  t.equal(rw.code, 1, 'credentials refused: exit 1');
  t.match(rw.stderr, /401/);
  seen('wrong-secret stdout', rw.stdout);
  seen('wrong-secret stderr', rw.stderr);

  // 5. A config error next to the secret: exit 2, every problem listed, no secret.
  const badDir = tmp();
  const bad = path.join(badDir, 'config.yaml');
  writeFileSync(bad, stringify({ credentials: { integration_key: 'nope', secret_key: SECRET, hostname: sim.hostname }, api: { request_interval_secs: -1 }, output: { type: 'stdout', bogus: SECRET } }), { mode: 0o600 });
  const rb = await runBridge(['run', '--config', bad]);
  t.equal(rb.code, 2);
  t.match(rb.stderr, /integration_key/);
  seen('bad-config stderr', rb.stderr);
  seen('bad-config check-config', (await runBridge(['check-config', '--config', bad])).stderr);

  // 6. The reader of stdout goes away mid-run (EPIPE).
  const pipeDir = tmp();
  const pipeCfg = writeConfig(pipeDir, sim);
  chmodSync(pipeCfg, 0o600);
  const pc = spawnBridge(['run', '--config', pipeCfg, '--once']);
  pc.stdout!.once('data', () => pc.stdout!.destroy());
  const rp = await pc.result;
  t.ok(rp.code === 0 || rp.code === 1, `EPIPE path ends (${rp.code})`);
  seen('epipe stderr', rp.stderr);

  // 7. Every file any of these runs wrote (checkpoints, status.json, ...), besides the inputs.
  const inputs = new Set([secretFile, config, inline, wrong, bad, pipeCfg]);
  let files = 0;
  for (const d of [dir, inlineDir, wrongDir, badDir, pipeDir]) {
    for (const f of allFiles(d)) {
      if (inputs.has(f)) continue;
      files++;
      seen(`file ${path.relative(d, f)}`, readFileSync(f, 'utf8'));
    }
  }
  t.ok(files >= 8, `${files} files written by the bridge were searched`);

  for (const s of [SECRET, WRONG]) {
    for (const form of forms(s)) {
      const hits = haystack.filter((h) => h.text.includes(form)).map((h) => h.what);
      t.same(hits, [], `the secret (${form === s ? 'raw' : form.length === 80 ? 'hex' : 'base64'}) is in none of ${haystack.length} outputs`);
    }
  }
});

t.test('start-up warnings: secret files and configs with inline secrets readable by others; insecure TLS settings', async (t) => {
  const sim = await startSimulator({ events: { authentication: 20, administrator: 20, telephony: 20 } });
  t.teardown(() => sim.close());
  const dir = tmp();
  const secretFile = path.join(dir, 'skey');
  writeFileSync(secretFile, sim.skey, { mode: 0o640 });
  chmodSync(secretFile, 0o640);
  const cfg = writeConfig(dir, sim, { credentials: { integration_key: sim.ikey, secret_key_file: 'skey', hostname: sim.hostname }, services: { telephony: {} } });
  chmodSync(cfg, 0o644);
  const run = async (env: NodeJS.ProcessEnv = {}) => logLines((await runBridge(['run', '--config', cfg, '--once'], { env })).stderr).filter((l) => l.level === 'warn');
  let warns = await run();
  t.same(warns.map((w) => w.mode), ['0640'], 'one warning: the group-readable secret file (the config holds no secret, 0644 is fine)');
  t.match(warns[0]!.msg, /secret file named by credentials\.secret_key_file can be read by other users/);
  t.equal(warns[0]!.file, secretFile);
  chmodSync(secretFile, 0o600);
  t.same(await run(), [], 'no warning once it is 0600');

  const inlineCfg = writeConfig(dir, sim, { services: { telephony: {} } });
  chmodSync(inlineCfg, 0o604);
  warns = logLines((await runBridge(['run', '--config', inlineCfg, '--once'])).stderr).filter((l) => l.level === 'warn');
  t.equal(warns.length, 1);
  t.match(warns[0]!.msg, /config file holds a secret \(credentials\.secret_key\) and can be read by other users \(mode 0604\)/);
  chmodSync(inlineCfg, 0o600);

  warns = logLines((await runBridge(['run', '--config', inlineCfg, '--once'], { env: { NODE_TLS_REJECT_UNAUTHORIZED: '0' } })).stderr).filter((l) => l.level === 'warn');
  t.ok(warns.some((w) => /NODE_TLS_REJECT_UNAUTHORIZED=0: TLS certificate checks are OFF for every connection, Duo included/.test(String(w.msg))), 'the global switch warns on every start');

  // output.tls.verify: false is the only per-output switch; it warns at every start whatever the output.
  const cfgObj = loadConfigText(stringify({ credentials: { integration_key: sim.ikey, secret_key: sim.skey, hostname: sim.hostname }, output: { type: 'syslog', host: '127.0.0.1', protocol: 'tls', tls: { verify: false } } }), path.join(dir, 'x.yaml'));
  const w = securityWarnings(cfgObj, undefined, {});
  t.equal(w.length, 1);
  t.match(w[0]!.msg, /TLS certificate checks are OFF for the syslog output \(output\.tls\.verify: false\)/);
  const safe = loadConfigText(stringify({ credentials: { integration_key: sim.ikey, secret_key: sim.skey, hostname: sim.hostname }, output: { type: 'syslog', host: '127.0.0.1', protocol: 'tls' } }), path.join(dir, 'x.yaml'));
  t.same(securityWarnings(safe, undefined, {}), []);
});

t.test('TLS 1.2 floor: a --tls-min-v1.0 in NODE_OPTIONS is overridden at start', async (t) => {
  ensureBuilt();
  const url = new URL('../../dist/obs/security.js', import.meta.url).href;
  const code = `import tls from 'node:tls'; const m = await import(${JSON.stringify(url)}); const before = tls.DEFAULT_MIN_VERSION; const old = m.applyTlsFloor(); console.log(JSON.stringify({ before, old, after: tls.DEFAULT_MIN_VERSION }));`;
  const low = spawnSync(process.execPath, ['--tls-min-v1.0', '--input-type=module', '-e', code], { encoding: 'utf8' });
  t.same(JSON.parse(low.stdout), { before: 'TLSv1', old: 'TLSv1', after: 'TLSv1.2' });
  const dflt = spawnSync(process.execPath, ['--input-type=module', '-e', code], { encoding: 'utf8' });
  t.same(JSON.parse(dflt.stdout), { before: 'TLSv1.2', after: 'TLSv1.2' }, 'the default is already 1.2 (or newer): untouched');
  const v13 = spawnSync(process.execPath, ['--tls-min-v1.3', '--input-type=module', '-e', code], { encoding: 'utf8' });
  t.same(JSON.parse(v13.stdout), { before: 'TLSv1.3', after: 'TLSv1.3' }, 'a stricter floor is kept');
  // The CLI says so in its log.
  const sim = await startSimulator({ events: { authentication: 5, administrator: 5, telephony: 5 } });
  t.teardown(() => sim.close());
  const cfg = writeConfig(tmp(), sim, { services: { telephony: {} } });
  chmodSync(cfg, 0o600);
  // Through NODE_OPTIONS, as an operator would lower it (and asynchronously: the simulator runs in this process).
  const r = await runBridge(['run', '--config', cfg, '--once'], { env: { NODE_OPTIONS: '--tls-min-v1.1' } });
  t.equal(r.code, 0);
  t.match(r.stderr, /minimum TLS version was lowered to TLSv1\.1 .* raises it back to TLS 1\.2/);
});

t.test('${CREDENTIALS_DIRECTORY} in secret_key_file (systemd LoadCredential=): used when set, a clear error when not', async (t) => {
  const sim = await startSimulator({ events: { authentication: 50, administrator: 50, telephony: 50 } });
  t.teardown(() => sim.close());
  const dir = tmp();
  const creds = path.join(dir, 'credentials');
  (await import('node:fs')).mkdirSync(creds, { mode: 0o700 });
  writeFileSync(path.join(creds, 'duo_secret_key'), sim.skey, { mode: 0o400 });
  const cfg = writeConfig(dir, sim, { credentials: { integration_key: sim.ikey, secret_key_file: '${CREDENTIALS_DIRECTORY}/duo_secret_key', hostname: sim.hostname } });
  const ok = await runBridge(['run', '--config', cfg, '--once'], { env: { CREDENTIALS_DIRECTORY: creds } });
  t.equal(ok.code, 0, ok.stderr);
  t.equal(ok.stdout.split('\n').filter(Boolean).length, 150, 'the secret from the credentials directory signed every request');
  const missing = await runBridge(['check-config', '--config', cfg], { env: { CREDENTIALS_DIRECTORY: '' } });
  t.equal(missing.code, 2);
  t.match(missing.stderr, /credentials\.secret_key_file: uses \$\{CREDENTIALS_DIRECTORY\}, which is not set in the environment/);
});

t.test('paths: Windows-style values, no mode-bit checks on Windows', async (t) => {
  t.same(expandEnvPath('${LOCALAPPDATA}\\duo-log-bridge\\secret_key', { LOCALAPPDATA: 'C:\\Users\\svc\\AppData\\Local' }), { value: 'C:\\Users\\svc\\AppData\\Local\\duo-log-bridge\\secret_key' });
  t.same(expandEnvPath('$HOME/${X}', { X: 'a' }), { value: '$HOME/a' }, 'only ${NAME} is expanded');
  t.same(expandEnvPath('${NOPE}/k', {}), { missing: 'NOPE' });
  t.equal(path.win32.join('C:\\Users\\svc\\AppData\\Local', 'duo-log-bridge', '127.0.0.1.telephony.json'), 'C:\\Users\\svc\\AppData\\Local\\duo-log-bridge\\127.0.0.1.telephony.json');
  const dir = tmp();
  const f = path.join(dir, 'k');
  writeFileSync(f, 'x', { mode: 0o644 });
  chmodSync(f, 0o644);
  t.equal(looseMode(f, 'linux'), '0644');
  t.equal(looseMode(f, 'win32'), undefined, 'Windows: ACLs, not mode bits: no warning');
  t.equal(statSync(f).mode & 0o777, 0o644);
  const cfg = path.join(dir, 'c.yaml');
  writeFileSync(cfg, stringify({ credentials: { secret_key_file: 'keys/duo', secret_key: '' }, output: { type: 'http', auth: { password_file: '${CREDS}/pw', token: 'abc' }, tls: { ca_file: 'ca.pem', key_file: 'client.key' } } }));
  const s = configSecrets(cfg, { CREDS: '/run/creds' });
  t.same(s.files.map((x) => [x.key, x.file]), [
    ['credentials.secret_key_file', path.join(dir, 'keys', 'duo')],
    ['output.auth.password_file', '/run/creds/pw'],
    ['output.tls.key_file', path.join(dir, 'client.key')],
  ], 'secret files found and resolved against the config directory (ca_file is not a secret)');
  t.same(s.inline, ['output.auth.token']);
});
