// `demo` and `sim` as a user runs them, and the bridge over real TLS trusting a private CA
// through NODE_EXTRA_CA_CERTS (the system store path, not ca_file).
import t from 'tap';
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parse } from 'yaml';
import { byLog, runBridge, spawnBridge } from '../helpers/bridge.js';
import { makeTestCerts } from '../helpers/certs.js';

t.test('demo --once drains every log of the built-in simulator and exits 0', async (t) => {
  const r = await runBridge(['demo', '--once', '--events', '700']);
  t.equal(r.code, 0, r.stderr.slice(-300));
  const logs = byLog(r.stdout);
  for (const log of ['authentication', 'administrator', 'telephony']) t.equal(logs[log]?.length, 700, `${log}: 700 events`);
  t.match(r.stderr, /"msg":"Demo: a Duo API simulator/);
});

/** Start `sim` as a child process and read the credentials it prints. */
async function startSimProcess(args: string[], env: NodeJS.ProcessEnv = {}) {
  const child = spawnBridge(['sim', '--port', '0', ...args], { env });
  const creds = await new Promise<{ integration_key: string; secret_key: string; hostname: string }>((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (d: string) => {
      out += d;
      if (out.includes('# Simulator listening')) resolve(parse(out).credentials);
    });
    child.on('exit', () => reject(new Error('sim exited: ' + out)));
  });
  return { child, creds };
}

t.test('sim over HTTPS: untrusted CA is retried with a TLS hint; NODE_EXTRA_CA_CERTS makes it work', async (t) => {
  const certs = makeTestCerts(mkdtempSync(path.join(os.tmpdir(), 'dlb-simtls-')));
  const { child, creds } = await startSimProcess(['--events', '1200', '--tls-cert', certs.serverCert, '--tls-key', certs.serverKey]);
  t.teardown(() => {
    child.kill('SIGTERM');
  });
  t.match(creds.hostname, /^https:\/\/127\.0\.0\.1:\d+$/);
  const dir = mkdtempSync(path.join(os.tmpdir(), 'dlb-simcfg-'));
  const config = path.join(dir, 'c.yaml');
  writeFileSync(
    config,
    `credentials: {integration_key: ${creds.integration_key}, secret_key: ${creds.secret_key}, hostname: "${creds.hostname.replace('https://', '')}"}\ncheckpoint_dir: ${dir}/state\napi: {request_interval_secs: 0, backoff_initial_secs: 0.05, backoff_max_secs: 0.1}\nservices: {authentication: {}}\n`,
  );
  // Untrusted: the bridge must not give up (a TLS error may be a transient proxy problem); it says how to fix it.
  const bad = spawnBridge(['run', '--config', config, '--once']);
  const hint = await new Promise<string>((resolve) => {
    let err = '';
    bad.stderr!.on('data', (d: string) => {
      err += d;
      if (/NODE_EXTRA_CA_CERTS/.test(err)) resolve(err);
    });
  });
  bad.kill('SIGTERM');
  t.equal((await bad.result).code, 0, 'a stop while retrying is still a clean exit');
  t.match(hint, /TLS certificate was not trusted/);
  const good = await runBridge(['run', '--config', config, '--once'], { env: { NODE_EXTRA_CA_CERTS: certs.caCert } });
  t.equal(good.code, 0, good.stderr.slice(-300));
  t.equal(byLog(good.stdout).authentication?.length, 1200);
});
