// migrate-config through the real CLI on real-looking configs of every kind: duo_log_sync's own
// template (comments and all, unfilled and filled in), DLS 2.x, MSP+CEF+UDP, the old
// duoclient/logs/transport form (Linux and Windows), Devo before 2.0 and 2.0. Each result must pass
// check-config, carry what maps, and name every setting it could not carry in a comment.
import t, { type Test } from 'tap';
import { existsSync, mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parse } from 'yaml';
import { ROOT, runBridge } from '../helpers/bridge.js';
import { LOG_KINDS } from '../../src/duo/logs/index.js';

const FIX = path.join(ROOT, 'test', 'fixtures', 'migrate');
const SECRET = 'Zh5wAl1UfS2Rk0bQc9Tn4vXe7YpG3mJd8LqKx6Io';
const MSP_SECRET = 'Pq8Rn2Ws5Tx1Yv4Zb7Cd0Ef3Gh6Ij9Kl2Mn5Op8';
const dir = mkdtempSync(path.join(os.tmpdir(), 'dlb-migrate-'));
const DAY = 86_400_000;

interface Out {
  code: number | null;
  text: string;
  stderr: string;
  cfg: Record<string, any>;
  comments: string;
}

async function migrate(fixture: string, ...extra: string[]): Promise<Out> {
  const r = await runBridge(['migrate-config', path.join(FIX, fixture), ...extra]);
  const comments = r.stdout
    .split('\n')
    .filter((l) => /^\s*#/.test(l))
    .map((l) => l.replace(/^\s*#\s?/, ''))
    .join('\n')
    // Undo the wrapping so phrases can be matched whole.
    .replace(/\n  /g, ' ');
  return { code: r.code, text: r.stdout, stderr: r.stderr, cfg: r.code === 0 ? (parse(r.stdout) as Record<string, any>) : {}, comments };
}

/** check-config on the emitted text, with the environment a user would set for the left-out secret. */
async function checkConfig(text: string, env: Record<string, string> = { DUO_SECRET_KEY: SECRET }) {
  const f = path.join(dir, `check-${Math.random().toString(36).slice(2)}.yaml`);
  writeFileSync(f, text);
  return runBridge(['check-config', '--config', f], { env });
}

/** Every "not carried over" source key must be named after a "migrate-config:" marker. */
function assertNamed(t: Test, o: Out, keys: string[]) {
  for (const k of keys) t.ok(o.comments.includes(k), `a migrate-config comment names ${k}`);
  t.ok(o.text.split('\n').filter((l) => /^\s*# migrate-config:/.test(l)).length >= keys.length, 'one comment per setting at least');
}

const near = (iso: string, ms: number) => Math.abs(Date.parse(iso) - ms) < 5 * 60_000;

t.test("duo_log_sync's template_config.yml as shipped (empty values, accounts list, is_msp True)", async (t) => {
  const o = await migrate('dls-template_config.yml');
  t.equal(o.code, 0, "exit 0", { stderr: o.stderr });
  t.match(o.stderr, /read .* as dls;/);
  t.same(o.cfg.credentials ?? {}, {}, 'empty ikey/hostname/skey are not written as empty strings');
  t.same(Object.keys(o.cfg.services), ['authentication', 'administrator', 'telephony'], 'no mappings: the default logs');
  t.same(o.cfg.output, { type: 'stdout' }, 'the server has no hostname/port: stdout');
  t.equal(o.cfg.poll_interval_secs, 120, 'api.timeout 120');
  t.notOk(o.cfg.services.authentication.start_datetime_utc, 'offset 180 = all Duo keeps: no start');
  assertNamed(t, o, [
    'accounts[0].ikey is empty',
    'accounts[0].skey is empty',
    'accounts[0].hostname is empty',
    'accounts[0].endpoint_server_mappings names no endpoints',
    'servers[0] has no usable hostname/port',
    'dls_settings.log_filepath (/tmp/duologsync.log) not carried over',
    'dls_settings.checkpointing.checkpoint_dir (/tmp) not carried over',
    'dls_settings.checkpointing.enabled was off',
    'from accounts[0].is_msp True',
  ]);
  t.same(o.cfg.msp, { enabled: true }, 'is_msp True: the bridge pulls the child accounts');
  // Valid once the three values DLS left empty come from the environment.
  const cc = await checkConfig(o.text, { DUO_SECRET_KEY: SECRET, DUO_INTEGRATION_KEY: 'DIWJ8X6AEYOR5OMC6TQ1', DUO_API_HOST: 'api-1a2b3c4d.duosecurity.com' });
  t.equal(cc.code, 0, "exit 0", { stderr: cc.stderr });
  const bare = await checkConfig(o.text, {});
  t.equal(bare.code, 2, 'and not valid without them');
});

t.test('the template filled in (comments kept): TCPSSL + TCP servers, adminaction/auth to both', async (t) => {
  const o = await migrate('dls-template-filled.yml');
  t.equal(o.code, 0, "exit 0", { stderr: o.stderr });
  t.same(o.cfg.credentials, { integration_key: 'DIWJ8X6AEYOR5OMC6TQ1', hostname: 'api-1a2b3c4d.duosecurity.com' });
  t.notMatch(o.text + o.stderr, SECRET, 'the secret is not in the config, its comments or messages');
  t.same(o.cfg.output, { type: 'syslog', format: 'none', host: 'siem.corp.example.com', port: 6514, protocol: 'tls', framing: 'lf', message: 'json', tls: { ca_file: '/etc/duologsync/siem-ca.pem' } });
  t.same(Object.keys(o.cfg.services), ['authentication', 'administrator', 'telephony']);
  t.equal(o.cfg.poll_interval_secs, 300);
  const start = o.cfg.services.authentication.start_datetime_utc as string;
  t.ok(near(start, Date.now() - 30 * DAY), `offset 30 days -> ${start}`);
  t.equal(o.cfg.services.telephony.start_datetime_utc, start, 'one start for all logs');
  assertNamed(t, o, [
    'DLS sent some logs to other servers (administrator → archive (also); authentication → archive (also))',
    'dls_settings.checkpointing.checkpoint_dir (/var/lib/duologsync) not carried over',
    '--import-checkpoints /var/lib/duologsync --checkpoint-dir DIR',
    'endpoint adminaction carried as administrator',
    'accounts[0].skey not written here',
  ]);
  const cc = await checkConfig(o.text);
  t.equal(cc.code, 0, "exit 0", { stderr: cc.stderr });
});

t.test('DLS 2.x config: proxy, trust monitor and activity, TCP to a Splunk forwarder', async (t) => {
  const o = await migrate('dls-config.yml');
  t.equal(o.code, 0, "exit 0", { stderr: o.stderr });
  t.same(o.cfg.api, { proxy: 'http://proxy.corp.example.com:3128' });
  t.same(o.cfg.output, { type: 'syslog', format: 'none', host: 'splunk-hf01.corp.example.com', port: 5514, protocol: 'tcp', framing: 'lf', message: 'json' });
  const expected = ['authentication', 'telephony', ...(LOG_KINDS.trust_monitor ? ['trust_monitor'] : []), ...(LOG_KINDS.activity ? ['activity'] : [])];
  t.same(Object.keys(o.cfg.services), expected, 'trust monitor and activity carried when the bridge pulls them');
  if (!LOG_KINDS.trust_monitor) assertNamed(t, o, ['endpoint trustmonitor not carried over']);
  if (!LOG_KINDS.activity) assertNamed(t, o, ['endpoint activity not carried over']);
  t.ok(near(o.cfg.services.authentication.start_datetime_utc, Date.now() - 7 * DAY));
  assertNamed(t, o, ['format: none keeps exactly that', 'format: rfc5424', 'dls_settings.log_filepath (/var/log/duologsync/duologsync.log)', 'dls_settings.proxy.proxy_server']);
  const cc = await checkConfig(o.text);
  t.equal(cc.code, 0, "exit 0", { stderr: cc.stderr });
});

t.test('DLS MSP + CEF + UDP', async (t) => {
  const o = await migrate('dls-msp-cef-udp.yml');
  t.equal(o.code, 0, "exit 0", { stderr: o.stderr });
  t.notMatch(o.text + o.stderr, MSP_SECRET);
  t.same(o.cfg.output, { type: 'syslog', format: 'none', host: '192.0.2.10', port: 514, protocol: 'udp', message: 'cef', udp_max_bytes: 65507, udp_oversize: 'refuse' });
  t.equal(o.cfg.poll_interval_secs, 120, 'timeout 60 was raised to 120 by DLS');
  t.same(o.cfg.msp, { enabled: true, exclude_accounts: ['DA1B2C3D4E5F6G7H8I9J'] });
  assertNamed(t, o, [
    'from account.is_msp True',
    'from account.block_list. DLS never applied its block_list',
    'dls_settings.log_format CEF carried as message: cef',
    '(60 s, which DLS raised to 120)',
    '_udp_failed_ingestion_logs.txt',
  ]);
  const cc = await checkConfig(o.text, { DUO_SECRET_KEY: MSP_SECRET });
  t.equal(cc.code, 0, "exit 0", { stderr: cc.stderr });
});

t.test('old DLS form (duoclient/logs/transport), Linux', async (t) => {
  const o = await migrate('dls-legacy-linux.yml');
  t.equal(o.code, 0, "exit 0", { stderr: o.stderr });
  t.match(o.stderr, /as dls-legacy;/);
  t.same(o.cfg.credentials, { integration_key: 'DIWJ8X6AEYOR5OMC6TQ1', hostname: 'api-1a2b3c4d.duosecurity.com' });
  t.same(o.cfg.output, { type: 'syslog', format: 'none', host: 'localhost', port: 8888, protocol: 'tcp', framing: 'lf', message: 'json' }, 'certFile* ignored for TCP, as DLS did');
  t.equal(o.cfg.poll_interval_secs, 300, 'polling.duration is minutes');
  t.same(Object.keys(o.cfg.services), ['authentication', 'administrator', 'telephony']);
  t.ok(near(o.cfg.services.administrator.start_datetime_utc, Date.now() - DAY), 'daysinpast 1');
  assertNamed(t, o, [
    'logs.logDir (/tmp/duologsync.log) not carried over',
    'logs.checkpointDir (/tmp)',
    'even with recoverFromCheckpoint.enabled False',
    '--import-checkpoints /tmp',
    'duoclient.skey not written here',
    'transport certificate (/tmp/selfsigned.cert) not carried over: DLS read it for TCPSSL only',
  ]);
  const cc = await checkConfig(o.text);
  t.equal(cc.code, 0, "exit 0", { stderr: cc.stderr });
});

t.test('old DLS form, Windows paths, TCPSSL, 1-minute polling', async (t) => {
  const o = await migrate('dls-legacy-windows.yml');
  t.equal(o.code, 0, "exit 0", { stderr: o.stderr });
  t.equal(o.cfg.output.tls.ca_file, 'c:\\temp\\selfsigned.cert', 'certFileDir + certFileName joined with the Windows separator');
  t.equal(o.cfg.output.protocol, 'tls');
  t.equal(o.cfg.poll_interval_secs, 120, '1 minute = 60 s, raised to DLS minimum 120');
  t.notOk(o.cfg.services.authentication.start_datetime_utc, 'daysinpast 180');
  const cc = await checkConfig(o.text);
  t.equal(cc.code, 0, "exit 0", { stderr: cc.stderr });
});

t.test('Devo collector before 2.0 (whole file: globals, outputs, inputs.duo.account)', async (t) => {
  const o = await migrate('devo-pre2.yaml');
  t.equal(o.code, 0, "exit 0", { stderr: o.stderr });
  t.match(o.stderr, /as devo-pre2;/);
  t.same(o.cfg.credentials, { integration_key: 'DIWJ8X6AEYOR5OMC6TQ1', hostname: 'api-1a2b3c4d.duosecurity.com' });
  t.same(Object.keys(o.cfg.services), ['administrator', 'authentication', 'telephony']);
  t.equal(o.cfg.poll_interval_secs, 300, 'the shortest request period');
  t.same(o.cfg.output, { type: 'stdout' });
  assertNamed(t, o, [
    'outputs.devo_1 (type devo_platform, collector-eu.devo.io:443) not carried over',
    'globals.persistence not carried over',
    'different request_period_in_seconds (600, 300, 600)',
    'inputs.duo.account (ikey, skey, hostname) carried as credentials',
    'inputs.duo.account.skey not written here',
    '/admin/v1/logs/telephony',
  ]);
  const cc = await checkConfig(o.text);
  t.equal(cc.code, 0, "exit 0", { stderr: cc.stderr });
});

t.test('Devo collector 2.0: start_datetime_utc carried exactly, tags named', async (t) => {
  const o = await migrate('devo-2.yaml');
  t.equal(o.code, 0, "exit 0", { stderr: o.stderr });
  t.match(o.stderr, /as devo-2;/);
  t.same(o.cfg.services, {
    administrator: { start_datetime_utc: '2026-09-01T00:00:00.000Z' },
    authentication: { start_datetime_utc: '2026-10-15T06:30:00.000Z' },
    telephony: { start_datetime_utc: '2026-10-15T06:30:00.000Z' },
  });
  assertNamed(t, o, [
    'inputs.duo.services.administrator.override_base_tag ("my.app.duo.admin") not carried over',
    'inputs.duo.services.telephony.override_tag ("my.app.duo.telephony") not carried over',
    "collector's persistence cannot be imported",
    'outputs.devo_1 (type devo_platform, collector-us.devo.io:443)',
  ]);
  const cc = await checkConfig(o.text);
  t.equal(cc.code, 0, "exit 0", { stderr: cc.stderr });
  t.match(cc.stdout, /startDatetimeUtc: .?2026-10-15T06:30:00.000Z/, 'the bridge reads the same start');
});

t.test("Devo's migration-guide fragment (credentials + services only)", async (t) => {
  const o = await migrate('devo-2-fragment.yaml');
  t.equal(o.code, 0, "exit 0", { stderr: o.stderr });
  t.equal(o.cfg.services.authentication.start_datetime_utc, '2024-07-01T00:00:00.000Z');
  const cc = await checkConfig(o.text);
  t.equal(cc.code, 0, "exit 0", { stderr: cc.stderr });
});

t.test('secrets: left out by default, inline with --include-secret, or a 0600 file with --secret-key-file', async (t) => {
  const inline = await migrate('dls-config.yml', '--include-secret');
  t.equal(inline.code, 0, "exit 0", { stderr: inline.stderr });
  t.equal(inline.cfg.credentials.secret_key, SECRET);
  t.equal(inline.text.split(SECRET).length, 2, 'exactly once: as the value, never in a comment');
  t.equal((await checkConfig(inline.text, {})).code, 0, 'valid with no environment');

  const keyFile = path.join(dir, 'keys', 'duo.skey');
  const filed = await migrate('dls-config.yml', '--secret-key-file', keyFile);
  t.equal(filed.code, 0, "exit 0", { stderr: filed.stderr });
  t.equal(filed.cfg.credentials.secret_key_file, keyFile);
  t.notMatch(filed.text + filed.stderr, SECRET);
  t.equal(readFileSync(keyFile, 'utf8').trim(), SECRET);
  t.equal(statSync(keyFile).mode & 0o777, 0o600);
  t.equal((await checkConfig(filed.text, {})).code, 0, 'valid with no environment');
  const again = await migrate('dls-config.yml', '--secret-key-file', keyFile);
  t.equal(again.code, 2, 'an existing key file is not overwritten without --force');
  t.match(again.stderr, /exists; add --force/);

  const both = await migrate('dls-config.yml', '--include-secret', '--secret-key-file', keyFile);
  t.equal(both.code, 2);
});

t.test('TO: written, and not overwritten without --force', async (t) => {
  const to = path.join(dir, 'out', 'bridge.yaml');
  const a = await runBridge(['migrate-config', path.join(FIX, 'devo-2.yaml'), to]);
  t.equal(a.code, 0, "exit 0", { stderr: a.stderr });
  t.equal(a.stdout, '', 'nothing on stdout when writing TO');
  t.match(readFileSync(to, 'utf8'), /^# duo-log-bridge config written by migrate-config/);
  writeFileSync(to, 'mine\n');
  const b = await runBridge(['migrate-config', path.join(FIX, 'devo-2.yaml'), to]);
  t.equal(b.code, 2);
  t.match(b.stderr, /exists; add --force/);
  t.equal(readFileSync(to, 'utf8'), 'mine\n', 'left alone');
  const c = await runBridge(['migrate-config', path.join(FIX, 'devo-2.yaml'), to, '--force']);
  t.equal(c.code, 0, "exit 0", { stderr: c.stderr });
  t.match(readFileSync(to, 'utf8'), /start_datetime_utc/);
});

t.test('unreadable or unrecognised input: exit 2, a clear message, nothing written', async (t) => {
  const to = path.join(dir, 'never.yaml');
  const cases: [string[], RegExp][] = [
    [[path.join(FIX, 'not-a-duo-config.yml'), to], /not a config migrate-config knows.*found top-level keys: filebeat\.inputs, output\.elasticsearch/],
    [[path.join(dir, 'missing.yml'), to], /cannot read .*missing\.yml \(ENOENT\)/],
    [[dir, to], /cannot read .* \(EISDIR\)/],
    [[], /needs FROM/],
    [[path.join(FIX, 'devo-2.yaml'), to, 'third'], /takes FROM and an optional TO/],
    [[path.join(FIX, 'devo-2.yaml'), '--bogus'], /Unknown option '--bogus'/],
    [[path.join(FIX, 'devo-2.yaml'), path.join(FIX, 'devo-2.yaml'), '--force'], /TO is FROM/],
  ];
  for (const [args, re] of cases) {
    const r = await runBridge(['migrate-config', ...args]);
    t.equal(r.code, 2, args.join(' '));
    t.match(r.stderr, re);
    t.equal(r.stdout, '');
  }
  // Broken YAML whose broken line holds the secret: the message names the line, not the text.
  const broken = path.join(dir, 'broken.yml');
  writeFileSync(broken, `account:\n  ikey: 'DIWJ8X6AEYOR5OMC6TQ1'\n  skey: '${SECRET}\n  hostname: x\n`);
  const r = await runBridge(['migrate-config', broken, to]);
  t.equal(r.code, 2);
  t.match(r.stderr, /not valid YAML \(line \d+, column \d+\)/);
  t.notMatch(r.stderr, SECRET);
  // A bridge config is recognised as one.
  const bridgeCfg = path.join(dir, 'already.yaml');
  writeFileSync(bridgeCfg, `credentials:\n  integration_key: DIWJ8X6AEYOR5OMC6TQ1\n  hostname: api-1a2b3c4d.duosecurity.com\noutput:\n  type: stdout\n`);
  const b = await runBridge(['migrate-config', bridgeCfg, to]);
  t.equal(b.code, 2);
  t.match(b.stderr, /already a duo-log-bridge config.*check-config/);
  t.notOk(existsSync(to), 'TO never created');
});

t.test('--help', async (t) => {
  const r = await runBridge(['migrate-config', '--help']);
  t.equal(r.code, 0);
  t.match(r.stdout, /--import-checkpoints DLS_DIR/);
});

t.test('--from-env: DUO_* stay in the environment, *_SINCE_TIME in the units users know become starts', async (t) => {
  const env = {
    DUO_API_HOST: 'api-1a2b3c4d.duosecurity.com',
    DUO_INTEGRATION_KEY: 'DIWJ8X6AEYOR5OMC6TQ1',
    DUO_SECRET_KEY: SECRET,
    ADMIN_SINCE_TIME: '1661022959',
    AUTH_SINCE_TIME: '1661022959934',
    TELEPHONY_SINCE_TIME: '1661022959', // seconds where milliseconds are meant: 10 digits can only be seconds
  };
  const r = await runBridge(['migrate-config', '--from-env'], { env });
  t.equal(r.code, 0, 'exit 0', { stderr: r.stderr });
  const cfg = parse(r.stdout) as Record<string, any>;
  t.same(cfg.credentials, {}, 'no credential copied into the file');
  t.notMatch(r.stdout + r.stderr, SECRET);
  t.same(cfg.services, {
    authentication: { start_datetime_utc: '2022-08-20T19:15:59.934Z' },
    administrator: { start_datetime_utc: '2022-08-20T19:15:59.000Z' },
    telephony: { start_datetime_utc: '2022-08-20T19:15:59.000Z' },
  });
  t.match(r.stdout.replace(/\n\s*#\s+/g, ' '), /TELEPHONY_SINCE_TIME is meant in milliseconds \(13 digits\), but 10 digits can only be seconds/);
  const cc = await checkConfig(r.stdout, env);
  t.equal(cc.code, 0, 'valid with the same environment', { stderr: cc.stderr });
  const bad = await runBridge(['migrate-config', '--from-env', '--include-secret'], { env });
  t.equal(bad.code, 2);
});
