/**
 * The bridge's settings: types, defaults and units, read from YAML through ConfigReader.
 * Shape follows the Devo collector 2.0 (`credentials`, `services`), plus the bridge's own keys.
 */
import os from 'node:os';
import path from 'node:path';
import { readFileSync } from 'node:fs';
import { DEFAULT_LOGS, LOG_KINDS } from '../duo/logs/index.js';
import { parseEndpoint } from '../duo/client.js';
import { parseUtcDatetime } from '../util/time.js';
import { registerSecret } from '../obs/log.js';
import { SINKS } from '../sinks/registry.js';
import { closest, type ConfigReader } from './reader.js';
import { START_ENV, sinceToIso } from './env-starts.js';
import { parseShard, type Shard } from '../util/shard.js';
import { expandEnvPath } from './env-path.js';

export interface ServiceConfig {
  enabled: boolean;
  /** As written in the config ('' when not set); recorded in the checkpoint. */
  startDatetimeUtc: string;
  /** ms since epoch; undefined = Duo's whole 180-day window. */
  startMs: number | undefined;
}

export interface BridgeConfig {
  credentials: {
    integrationKey: string;
    secretKey: string;
    hostname: string;
    sigVersion: 2 | 5;
    digest: 'sha512' | 'sha1';
  };
  checkpointDir: string;
  pollIntervalSecs: number;
  api: {
    requestIntervalSecs: number;
    delaySecs: number;
    timeoutSecs: number;
    backoffInitialSecs: number;
    backoffMaxSecs: number;
    /** Duo pages held in memory at once, across every log and account (bounds memory). */
    maxPagesInFlight: number;
    caFile: string | undefined;
    proxy: string | undefined;
  };
  services: Record<string, ServiceConfig>;
  output: { type: string; [k: string]: unknown };
  logLevel: 'debug' | 'info' | 'warn' | 'error';
  shutdownTimeoutSecs: number;
  /** MSP: pull every child account listed by the Accounts API (the credentials are the Accounts API application's). */
  msp: { enabled: boolean; refreshSecs: number; shard: Shard | undefined; include: string[]; exclude: string[] };
  /** The /metrics, /healthz, /readyz endpoint; off when port is undefined. */
  metrics: { port: number | undefined; host: string };
}

export function defaultCheckpointDir(env = process.env): string {
  if (process.platform === 'win32') return path.join(env.LOCALAPPDATA ?? path.join(os.homedir(), 'AppData', 'Local'), 'duo-log-bridge');
  return path.join(env.XDG_STATE_HOME ?? path.join(os.homedir(), '.local', 'state'), 'duo-log-bridge');
}

export const DEFAULTS = {
  pollIntervalSecs: 300,
  requestIntervalSecs: 30,
  delaySecs: 120,
  timeoutSecs: 60,
  backoffInitialSecs: 1,
  backoffMaxSecs: 300,
  shutdownTimeoutSecs: 30,
};

const IKEY = /^DI[0-9A-Z]{18}$/;

/** The start for `log` from AUTH_/ADMIN_/TELEPHONY_SINCE_TIME, '' when unset; a bad value is a config problem. */
function startFromEnv(log: string, env: NodeJS.ProcessEnv, r: ConfigReader): string {
  const entry = START_ENV.find(([, l]) => l === log);
  const raw = entry ? env[entry[0]] : undefined;
  if (!entry || raw === undefined || raw === '') return '';
  const got = sinceToIso(raw);
  if ('error' in got) {
    r.problem([], `environment variable ${entry[0]}: ${got.error}`);
    return '';
  }
  return got.iso;
}

export function readConfig(r: ConfigReader, env: NodeJS.ProcessEnv, baseDir: string): BridgeConfig {
  const cred = r.obj('credentials');
  const ikey = cred?.str('integration_key') ?? env.DUO_INTEGRATION_KEY;
  if (!ikey) (cred ?? r).error(cred ? 'integration_key' : 'credentials', cred ? 'is required (or set DUO_INTEGRATION_KEY)' : 'is required: integration_key, secret_key, hostname');
  else if (!IKEY.test(ikey)) (cred ?? r).error(cred ? 'integration_key' : 'credentials', 'must look like DIXXXXXXXXXXXXXXXXXX (20 characters, starting with DI)');

  const inline = cred?.str('secret_key');
  const file = cred?.str('secret_key_file');
  let secret = inline;
  if (inline && file) cred!.error('secret_key_file', 'cannot be combined with secret_key; keep one');
  const expanded = file ? expandEnvPath(file, env) : undefined;
  if (expanded?.missing) cred!.error('secret_key_file', `uses \${${expanded.missing}}, which is not set in the environment (systemd sets CREDENTIALS_DIRECTORY only with LoadCredential=)`);
  else if (file) {
    try {
      secret = readFileSync(path.resolve(baseDir, expanded!.value!), 'utf8').trim();
      if (!secret) cred!.error('secret_key_file', `${file} is empty`);
    } catch (err) {
      cred!.error('secret_key_file', `cannot be read (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
    }
  }
  secret ??= env.DUO_SECRET_KEY;
  if (!secret && ikey) (cred ?? r).error(cred ? 'secret_key' : 'credentials', 'is required (or secret_key_file, or DUO_SECRET_KEY)');
  else if (secret && secret.length < 20) (cred ?? r).error(cred ? 'secret_key' : 'credentials', 'is too short to be a Duo secret key (40 characters expected)');
  registerSecret(secret);

  const hostname = cred?.str('hostname') ?? env.DUO_API_HOST;
  if (!hostname) (cred ?? r).error(cred ? 'hostname' : 'credentials', 'is required (api-xxxxxxxx.duosecurity.com), or set DUO_API_HOST');
  else {
    try {
      parseEndpoint(hostname);
    } catch (err) {
      cred!.error('hostname', (err as Error).message);
    }
  }
  const sigVersion = (cred?.oneOf('signature_version', ['2', '5'] as const) ?? '5') === '2' ? 2 : 5;
  const digest = cred?.oneOf('signature_digest', ['sha512', 'sha1'] as const, { default: 'sha512' }) ?? 'sha512';
  if (digest === 'sha1' && sigVersion === 5) cred!.error('signature_digest', 'sha1 applies to signature_version 2 only');
  cred?.finish();

  const checkpointDir = r.str('checkpoint_dir') ?? defaultCheckpointDir(env);
  const pollIntervalSecs = r.num('poll_interval_secs', { min: 1, max: 86_400, unit: 'seconds', default: DEFAULTS.pollIntervalSecs })!;

  const a = r.obj('api');
  const api = {
    requestIntervalSecs: a?.num('request_interval_secs', { min: 0, max: 3600, unit: 'seconds' }) ?? DEFAULTS.requestIntervalSecs,
    delaySecs: a?.num('delay_secs', { min: 120, max: 86_400, unit: 'seconds' }) ?? DEFAULTS.delaySecs,
    timeoutSecs: a?.num('timeout_secs', { min: 1, max: 600, unit: 'seconds' }) ?? DEFAULTS.timeoutSecs,
    backoffInitialSecs: a?.num('backoff_initial_secs', { min: 0.001, max: 600, unit: 'seconds' }) ?? DEFAULTS.backoffInitialSecs,
    backoffMaxSecs: a?.num('backoff_max_secs', { min: 0.01, max: 3600, unit: 'seconds' }) ?? DEFAULTS.backoffMaxSecs,
    maxPagesInFlight: a?.int('max_pages_in_flight', { min: 1, max: 256 }) ?? 6,
    caFile: a?.str('ca_file'),
    proxy: a?.str('proxy') ?? env.HTTPS_PROXY ?? env.https_proxy ?? undefined,
  };
  if (api.caFile) {
    api.caFile = path.resolve(baseDir, api.caFile);
    try {
      readFileSync(api.caFile);
    } catch (err) {
      a!.error('ca_file', `cannot be read (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
    }
  }
  if (api.proxy) {
    try {
      const u = new URL(api.proxy);
      if (u.protocol !== 'http:') throw new Error();
    } catch {
      (a ?? r).error(a ? 'proxy' : 'api', 'must be an http:// proxy URL (from api.proxy or HTTPS_PROXY)');
    }
  }
  if (api.backoffMaxSecs < api.backoffInitialSecs) a!.error('backoff_max_secs', 'must be at least backoff_initial_secs');
  a?.finish();

  const services: Record<string, ServiceConfig> = {};
  const s = r.obj('services');
  const names = Object.keys(LOG_KINDS);
  if (s) {
    for (const name of Object.keys(s.value)) {
      if (!names.includes(name)) {
        s.raw(name);
        const guess = closest(name, names);
        s.error(name, `is not a Duo log the bridge knows (${names.join(', ')})${guess ? `; did you mean "${guess}"?` : ''}`);
        continue;
      }
      const svc = s.value[name] === null ? undefined : s.obj(name);
      if (s.value[name] === null) s.raw(name);
      const enabled = svc?.bool('enabled', { default: true }) ?? true;
      const start = svc?.str('start_datetime_utc') ?? startFromEnv(name, env, s);
      let startMs: number | undefined;
      if (start) {
        startMs = parseUtcDatetime(start);
        if (Number.isNaN(startMs)) {
          svc!.error('start_datetime_utc', `must be an ISO-8601 UTC time like 2026-07-01T00:00:00.000Z, not ${JSON.stringify(start)}`);
          startMs = undefined;
        }
      }
      svc?.finish();
      services[name] = { enabled, startDatetimeUtc: start, startMs };
    }
    s.finish();
    if (!Object.values(services).some((x) => x.enabled)) s.problem(s.path, `enables no log; add at least one of ${names.join(', ')}`);
  } else {
    for (const name of DEFAULT_LOGS) {
      const start = startFromEnv(name, env, r);
      services[name] = { enabled: true, startDatetimeUtc: start, startMs: start ? parseUtcDatetime(start) : undefined };
    }
  }

  const o = r.obj('output');
  let output: BridgeConfig['output'] = { type: 'stdout' };
  if (o) {
    const typeRaw = o.value.type;
    const type = o.oneOf('type', Object.keys(SINKS), { default: 'stdout' }) ?? 'stdout';
    // With an unknown type, its other keys cannot be judged: report the type alone.
    if (typeRaw === undefined || typeRaw === null || SINKS[String(typeRaw)]) {
      output = { ...SINKS[type]!.parse(o), type };
      o.finish();
    }
  }

  const ms = r.obj('msp');
  const shardText = ms?.str('shard');
  const shard = shardText === undefined ? undefined : parseShard(shardText);
  if (shardText !== undefined && !shard) ms!.error('shard', 'must be "I/N" with 0 <= I < N, e.g. "0/3"');
  const msp = {
    enabled: ms?.bool('enabled', { default: true }) ?? false,
    refreshSecs: ms?.num('refresh_secs', { min: 10, max: 86_400, unit: 'seconds' }) ?? 3600,
    shard,
    include: ms?.strList('accounts') ?? [],
    exclude: ms?.strList('exclude_accounts') ?? [],
  };
  ms?.finish();

  const logLevel = r.oneOf('log_level', ['debug', 'info', 'warn', 'error'] as const, { default: 'info' })!;
  const shutdownTimeoutSecs = r.num('shutdown_timeout_secs', { min: 1, max: 3600, unit: 'seconds', default: DEFAULTS.shutdownTimeoutSecs })!;
  const m = r.obj('metrics');
  const metrics = { port: m?.int('port', { min: 0, max: 65_535 }), host: m?.str('host') ?? '127.0.0.1' };
  m?.finish();
  r.finish();

  return {
    credentials: { integrationKey: ikey ?? '', secretKey: secret ?? '', hostname: hostname ?? '', sigVersion, digest },
    checkpointDir: path.resolve(baseDir, checkpointDir),
    pollIntervalSecs,
    api,
    services,
    output,
    logLevel,
    shutdownTimeoutSecs,
    msp,
    metrics,
  };
}
