// check-config through the real CLI: every bad config exits 2 with a message naming the key (and its line).
import t from 'tap';
import { mkdtempSync, writeFileSync, chmodSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { runBridge } from '../helpers/bridge.js';
import { loadConfigText } from '../../src/config/load.js';
import { ConfigError } from '../../src/errors.js';

const SECRET = 'Zh5eGmUq9zpfQnyUIu5OL9iWoMMv5ZNmk3zLJ4Ep';
const GOOD = `credentials:
  integration_key: DIWJ8X6AEYOR5OMC6TQ1
  secret_key: ${SECRET}
  hostname: api-xxxxxxxx.duosecurity.com
services:
  authentication: {start_datetime_utc: "2026-07-01T00:00:00.000Z"}
  administrator: {}
  telephony: {enabled: false}
`;
const dir = mkdtempSync(path.join(os.tmpdir(), 'dlb-cfg-'));
let n = 0;
const file = (text: string) => {
  const f = path.join(dir, `c${n++}.yaml`);
  writeFileSync(f, text);
  return f;
};

t.test('a valid config prints the effective config with the secret redacted', async (t) => {
  const r = await runBridge(['check-config', '--config', file(GOOD)]);
  t.equal(r.code, 0, r.stderr);
  t.match(r.stdout, /valid/);
  t.match(r.stdout, /integrationKey: DIWJ8X6AEYOR5OMC6TQ1/);
  t.match(r.stdout, /secretKey: "?\[REDACTED\]"?/);
  t.notMatch(r.stdout + r.stderr, SECRET, 'the secret never appears');
  t.match(r.stdout, /requestIntervalSecs: 30/, 'defaults shown');
});

const BAD: [string, string, RegExp][] = [
  ['unknown top-level key (typo)', GOOD + 'poll_intervall_secs: 10\n', /:9: poll_intervall_secs: is not a known setting \(did you mean "poll_interval_secs"\?\)/],
  ['missing integration key', GOOD.replace(/  integration_key: .*\n/, ''), /credentials\.integration_key: is required/],
  ['malformed integration key', GOOD.replace('DIWJ8X6AEYOR5OMC6TQ1', 'XYZ'), /:2: credentials\.integration_key: must look like DI/],
  ['missing secret', GOOD.replace(/  secret_key: .*\n/, ''), /credentials\.secret_key: is required/],
  ['secret and secret file both', GOOD.replace('  hostname:', '  secret_key_file: /nonexistent\n  hostname:'), /credentials\.secret_key_file: cannot be combined with secret_key/],
  ['unreadable secret file', GOOD.replace(/  secret_key: .*\n/, '  secret_key_file: /nonexistent/secret\n'), /credentials\.secret_key_file: cannot be read \(ENOENT\)/],
  ['plain http to a remote host', GOOD.replace('api-xxxxxxxx.duosecurity.com', 'http://api-xxxxxxxx.duosecurity.com'), /credentials\.hostname: plain http:\/\/ is only allowed for loopback/],
  ['bad start time', GOOD.replace('2026-07-01T00:00:00.000Z', 'last tuesday'), /:6: services\.authentication\.start_datetime_utc: must be an ISO-8601 UTC time/],
  ['unknown log', GOOD + '  authentification: {}\n', /services\.authentification: is not a Duo log the bridge knows .*did you mean "authentication"/],
  ['enabled not a boolean', GOOD.replace('enabled: false', 'enabled: "no"'), /services\.telephony\.enabled: must be true or false/],
  ['number out of range', GOOD + 'api:\n  delay_secs: 30\n', /api\.delay_secs: must be between 120 and 86400 seconds, not 30/],
  ['not a number', GOOD + 'poll_interval_secs: soon\n', /poll_interval_secs: must be a number seconds, not "soon"|poll_interval_secs: must be a number/],
  ['unknown output type', GOOD + 'output:\n  type: splunk\n', /output\.type: must be one of .*stdout.*not "splunk"/],
  ['every log disabled', GOOD.replace('{start_datetime_utc: "2026-07-01T00:00:00.000Z"}', '{enabled: false}').replace('administrator: {}', 'administrator: {enabled: false}'), /services: enables no log/],
  ['a list where a mapping belongs', GOOD + 'api: [1, 2]\n', /api: must be a mapping of keys to values, not a list/],
  ['YAML syntax error', GOOD + 'output: {type: stdout\n', /YAML syntax error/],
  ['sha1 with v5 signatures', GOOD.replace('  hostname:', '  signature_digest: sha1\n  hostname:'), /credentials\.signature_digest: sha1 applies to signature_version 2 only/],
  ['proxy that is not http', GOOD + 'api:\n  proxy: socks5://127.0.0.1:1080\n', /api\.proxy: must be an http:\/\/ proxy URL/],
];

for (const [name, text, want] of BAD) {
  t.test(`rejected: ${name}`, async (t) => {
    const r = await runBridge(['check-config', '--config', file(text)]);
    t.equal(r.code, 2, 'exit code 2');
    t.match(r.stderr, want);
    t.notMatch(r.stderr + r.stdout, SECRET, 'the secret never appears');
  });
}

t.test('several problems are reported together', async (t) => {
  const r = await runBridge(['check-config', '--config', file(GOOD.replace('DIWJ8X6AEYOR5OMC6TQ1', 'bad') + 'bogus: 1\n')]);
  t.equal(r.code, 2);
  t.match(r.stderr, /integration_key/);
  t.match(r.stderr, /bogus/);
});

t.test('a missing config file and bad usage exit 2', async (t) => {
  const r = await runBridge(['check-config', '--config', path.join(dir, 'nope.yaml')]);
  t.equal(r.code, 2);
  t.match(r.stderr, /nope\.yaml: cannot read the config file \(ENOENT\)/);
  t.equal((await runBridge(['run'])).code, 2, 'run without --config');
  t.equal((await runBridge(['frobnicate'])).code, 2, 'unknown command');
  t.equal((await runBridge(['run', '--config', 'x', '--bogus'])).code, 2, 'unknown flag');
  const v = await runBridge(['--version']);
  t.equal(v.code, 0);
  t.match(v.stdout, /^\d+\.\d+\.\d+\n$/);
  const h = await runBridge(['--help']);
  t.equal(h.code, 0);
  t.match(h.stdout, /check-config/);
});

t.test('secrets from a file or the environment; DUO_* variables fill the credentials', async (t) => {
  const secretFile = path.join(dir, 'skey');
  writeFileSync(secretFile, SECRET + '\n');
  chmodSync(secretFile, 0o600);
  const cfg = loadConfigText(GOOD.replace(/  secret_key: .*\n/, `  secret_key_file: ${secretFile}\n`), 'x.yaml', {});
  t.equal(cfg.credentials.secretKey, SECRET, 'trailing newline trimmed');
  const env = loadConfigText('services: {administrator: {}}\n', 'y.yaml', { DUO_INTEGRATION_KEY: 'DIWJ8X6AEYOR5OMC6TQ1', DUO_SECRET_KEY: SECRET, DUO_API_HOST: 'api-1.duosecurity.com' });
  t.equal(env.credentials.hostname, 'api-1.duosecurity.com');
  t.same(Object.keys(env.services), ['administrator']);
  t.throws(() => loadConfigText('services: {administrator: {}}\n', 'y.yaml', {}), ConfigError);
});

t.test('per-log start times from the environment, in the units users know', async (t) => {
  const base = GOOD.replace(/services:[\s\S]*$/, '');
  const cfg = loadConfigText(base, 'z.yaml', { ADMIN_SINCE_TIME: '1782864000', AUTH_SINCE_TIME: '1782864000123', TELEPHONY_SINCE_TIME: '1782864000' });
  t.equal(cfg.services.administrator!.startDatetimeUtc, '2026-07-01T00:00:00.000Z', 'administrator: seconds');
  t.equal(cfg.services.authentication!.startDatetimeUtc, '2026-07-01T00:00:00.123Z', 'authentication: milliseconds');
  t.equal(cfg.services.telephony!.startDatetimeUtc, '2026-07-01T00:00:00.000Z', 'a 10-digit value is seconds whatever the name says');
  const withFile = loadConfigText(GOOD, 'z.yaml', { AUTH_SINCE_TIME: '1782864000123' });
  t.equal(withFile.services.authentication!.startDatetimeUtc, '2026-07-01T00:00:00.000Z', 'the config file wins');
  t.throws(() => loadConfigText(base, 'z.yaml', { AUTH_SINCE_TIME: 'yesterday' }), /AUTH_SINCE_TIME: "yesterday" is not a Unix time/);
});

t.test('examples/config.yaml is valid once its secret file exists', async (t) => {
  const { readFileSync } = await import('node:fs');
  const text = readFileSync(new URL('../../examples/config.yaml', import.meta.url), 'utf8');
  const secretFile = path.join(dir, 'example-skey');
  writeFileSync(secretFile, SECRET);
  const cfg = loadConfigText(text.replace('/etc/duo-log-bridge/skey', secretFile), 'examples/config.yaml', {});
  t.equal(cfg.api.requestIntervalSecs, 30);
  t.equal(cfg.services.authentication!.startDatetimeUtc, '2026-07-01T00:00:00.000Z');
});
