#!/usr/bin/env node
/**
 * The command line. The only place that exits the process:
 * 0 success, 1 runtime failure (said why on stderr), 2 bad usage or config.
 */
import os from 'node:os';
import path from 'node:path';
import { mkdtempSync, readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { stringify } from 'yaml';
import { ConfigError, formatProblem } from './errors.js';
import { loadConfigFile, loadConfigText, redactedConfig } from './config/load.js';
import type { BridgeConfig } from './config/schema.js';
import { DuoClient } from './duo/client.js';
import { createLogger, type Logger } from './obs/log.js';
import { Bridge } from './pipeline/bridge.js';
import type { LogStats } from './pipeline/stats.js';
import { startObservability, ttyProgress } from './obs/runtime.js';
import { SINKS } from './sinks/registry.js';
import { USER_AGENT, VERSION } from './version.js';
import { parseShard } from './util/shard.js';

const HELP = `duo-log-bridge ${VERSION}: pull Duo's authentication, administrator and telephony logs without loss or duplicates.

Usage:
  duo-log-bridge run --config FILE [--once] [--shard I/N] [--metrics-port P] [--metrics-host H]
                                                poll forever (or drain up to now-2min and exit with --once);
                                                --shard I/N: this replica's share of MSP child accounts;
                                                P serves /metrics, /healthz, /readyz (host default 127.0.0.1)
  duo-log-bridge status --config FILE [--json]  every log's checkpoint, age, lag and last error, from the files only
  duo-log-bridge check-config --config FILE     validate and print the effective config, secrets redacted
  duo-log-bridge migrate-config FROM [TO]       turn a duo_log_sync or Devo collector config into a bridge config
                                                (--import-checkpoints DLS_DIR --checkpoint-dir DIR carries DLS positions over)
  duo-log-bridge demo [--events N] [--once]     run against a built-in Duo API simulator (no credentials needed)
  duo-log-bridge sim [--port P] [--events N] [--rate-limit R] [--faults RATE]
                                                run the simulator alone and print its credentials
  duo-log-bridge --help | --version

Events go to the configured output (stdout NDJSON by default); the bridge's own logs are JSON lines on stderr.
Exit codes: 0 success, 1 runtime failure, 2 bad usage or config. SIGINT/SIGTERM: finish the write in flight,
save checkpoints, exit 0.`;

class UsageError extends Error {}

async function main(argv: string[]): Promise<number> {
  const [cmd, ...rest] = argv;
  if (!cmd || cmd === '--help' || cmd === '-h' || cmd === 'help') {
    process.stdout.write(HELP + '\n');
    return cmd ? 0 : 2;
  }
  if (cmd === '--version' || cmd === '-v') {
    process.stdout.write(VERSION + '\n');
    return 0;
  }
  switch (cmd) {
    case 'run':
      return cmdRun(rest);
    case 'check-config':
      return cmdCheckConfig(rest);
    case 'status':
      return cmdStatus(rest);
    case 'demo':
      return cmdDemo(rest);
    case 'sim':
      return cmdSim(rest);
    case 'migrate-config':
      return (await import('./migrate/cli.js')).migrateConfigMain(rest);
    default:
      throw new UsageError(`unknown command "${cmd}"; see duo-log-bridge --help`);
  }
}

function args<T extends Record<string, { type: 'string' | 'boolean'; short?: string }>>(argv: string[], options: T) {
  try {
    return parseArgs({ args: argv, options: { ...options, help: { type: 'boolean', short: 'h' } }, allowPositionals: false, strict: true }).values;
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
}

function intArg(v: string | boolean | undefined, name: string, dflt: number): number {
  if (v === undefined) return dflt;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) throw new UsageError(`--${name} must be a whole number, not ${JSON.stringify(v)}`);
  return n;
}

async function cmdCheckConfig(argv: string[]): Promise<number> {
  const v = args(argv, { config: { type: 'string', short: 'c' } });
  if (v.help) return help();
  if (!v.config) throw new UsageError('check-config needs --config FILE');
  const cfg = loadConfigFile(v.config);
  process.stdout.write(`# ${path.resolve(v.config)}: valid\n` + stringify(redactedConfig(cfg)));
  return 0;
}

async function cmdRun(argv: string[]): Promise<number> {
  const v = args(argv, { config: { type: 'string', short: 'c' }, once: { type: 'boolean' }, shard: { type: 'string' }, 'metrics-port': { type: 'string' }, 'metrics-host': { type: 'string' } });
  if (v.help) return help();
  if (!v.config) throw new UsageError('run needs --config FILE');
  const port = v['metrics-port'] === undefined ? undefined : intArg(v['metrics-port'], 'metrics-port', 0);
  if (port !== undefined && port > 65_535) throw new UsageError('--metrics-port must be at most 65535');
  const cfg = loadConfigFile(v.config);
  if (port !== undefined) cfg.metrics.port = port;
  if (v.shard !== undefined) {
    const shard = parseShard(v.shard);
    if (!shard) throw new UsageError('--shard must be I/N with 0 <= I < N, e.g. --shard 0/3');
    if (!cfg.msp.enabled) throw new UsageError('--shard splits MSP child accounts; enable msp in the config');
    cfg.msp.shard = shard;
  }
  if (v['metrics-host']) cfg.metrics.host = v['metrics-host'];
  return runBridge(cfg, !!v.once, undefined, v.config);
}

async function cmdStatus(argv: string[]): Promise<number> {
  const v = args(argv, { config: { type: 'string', short: 'c' }, json: { type: 'boolean' } });
  if (v.help) return help();
  if (!v.config) throw new UsageError('status needs --config FILE');
  const { collectStatus, formatStatus, loadStatusConfig } = await import('./obs/status.js');
  const cfg = loadStatusConfig(v.config);
  const rows = collectStatus(cfg);
  process.stdout.write(v.json ? JSON.stringify({ checkpoint_dir: cfg.checkpointDir, logs: rows }, null, 2) + '\n' : formatStatus(rows, cfg.checkpointDir));
  return 0;
}

async function runBridge(cfg: BridgeConfig, once: boolean, onStop?: () => Promise<void>, configFile?: string): Promise<number> {
  let stats: readonly LogStats[] = [];
  const tty = ttyProgress(() => stats, process.env, cfg.output.type === 'stdout');
  const log = createLogger({ level: cfg.logLevel, write: tty?.writeLog });
  const clientOptions = {
    ikey: cfg.credentials.integrationKey,
    skey: cfg.credentials.secretKey,
    sigVersion: cfg.credentials.sigVersion,
    digest: cfg.credentials.digest,
    timeoutMs: cfg.api.timeoutSecs * 1000,
    caFile: cfg.api.caFile,
    proxy: cfg.api.proxy,
    userAgent: USER_AGENT,
  };
  const client = new DuoClient({ ...clientOptions, hostname: cfg.credentials.hostname });
  const childClients: DuoClient[] = [];
  // MSP children answer at their own api_hostname, reached the way the parent is (https; http only for a loopback simulator).
  const clientFor = (apiHostname: string) => {
    const hostname = /^https?:\/\//i.test(apiHostname) || client.endpoint.scheme === 'https' ? apiHostname : `http://${apiHostname}`;
    const c = new DuoClient({ ...clientOptions, hostname });
    childClients.push(c);
    return c;
  };
  const factory = SINKS[cfg.output.type]!;
  const rawSink = factory.create(cfg.output, { log: log.child({ sink: cfg.output.type }), hostname: os.hostname(), stateDir: cfg.checkpointDir });
  const obs = await startObservability({ cfg, configFile, log, sink: rawSink, stats: () => stats, tty });
  const bridge = new Bridge({ config: cfg, client, clientFor, sink: obs.sink, log, once });
  stats = bridge.stats;
  const enabled = Object.entries(cfg.services).filter(([, s]) => s.enabled).map(([n]) => n);
  log.info('Starting.', { version: VERSION, host: client.host, logs: enabled, output: cfg.output.type, once, checkpoint_dir: cfg.checkpointDir, pid: process.pid });
  let signals = 0;
  const onSignal = (sig: NodeJS.Signals) => {
    signals++;
    log.info(signals === 1 ? 'Stopping: finishing the delivery in flight and saving checkpoints.' : 'Second signal: stopping now.', { signal: sig });
    bridge.stop(signals === 1 ? undefined : 0);
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  // Windows: Ctrl+Break (and service wrappers that send it) arrives as SIGBREAK; SIGTERM is never delivered there.
  if (process.platform === 'win32') process.on('SIGBREAK', onSignal);
  try {
    await bridge.run();
    log.info('Stopped.', runSummary(bridge.stats));
    return 0;
  } catch (err) {
    const e = err as { code?: string; message?: string };
    if (e.code === 'DLB_SINK_STDOUT_CLOSED') {
      log.warn('The reader of stdout went away; stopped. Checkpoints cover only what was written.', { error: e.message });
      return 0;
    }
    log.error('Stopped on an error that retrying cannot fix.', { error: err, error_code: e.code, ...runSummary(bridge.stats) });
    return 1;
  } finally {
    client.close();
    for (const c of childClients) c.close();
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    process.off('SIGBREAK', onSignal);
    await obs.stop();
    await onStop?.();
  }
}

/** Totals per log (summed over MSP child accounts), the process's CPU time and peak RSS: the last log line of a run. */
function runSummary(stats: readonly LogStats[]): Record<string, unknown> {
  const sum = (pick: (s: LogStats) => number) => {
    const out: Record<string, number> = {};
    for (const s of stats) out[s.log] = (out[s.log] ?? 0) + pick(s);
    return out;
  };
  const ru = process.resourceUsage();
  return {
    delivered: sum((s) => s.eventsDelivered),
    requests: sum((s) => s.requests),
    rate_limited: sum((s) => s.rateLimited),
    accounts: new Set(stats.map((s) => s.account)).size,
    cpu_ms: Math.round((ru.userCPUTime + ru.systemCPUTime) / 1000),
    peak_rss_mb: peakRssMb(ru.maxRSS),
  };
}

/**
 * This process's peak RSS in MB: VmHWM on Linux. Not getrusage's maxRSS alone: Linux carries it
 * across execve, so a bridge started by a larger process (a test runner, Vector's exec source,
 * a supervisor) would report its parent's RSS at fork time (a 340 MB parent: 304 MB reported,
 * 39 MB real).
 */
function peakRssMb(maxRssKb: number): number {
  if (process.platform === 'linux') {
    try {
      const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync('/proc/self/status', 'utf8'));
      if (m) return Math.round(Number(m[1]) / 1024);
    } catch {
      // no /proc: fall back to getrusage
    }
  }
  return Math.round(maxRssKb / 1024);
}

async function cmdDemo(argv: string[]): Promise<number> {
  const v = args(argv, { events: { type: 'string' }, once: { type: 'boolean' }, 'checkpoint-dir': { type: 'string' } });
  if (v.help) return help();
  const events = intArg(v.events, 'events', 2000);
  const once = !!v.once;
  const { startSimulator } = await import('./sim/server.js');
  // Live demo: part of the timeline lies in the future and becomes visible as time passes.
  const sim = await startSimulator({
    events: { authentication: events, administrator: events, telephony: events },
    spanMs: 6 * 3_600_000,
    endAgoMs: once ? 180_000 : -3_600_000,
  });
  const dir = v['checkpoint-dir'] ?? mkdtempSync(path.join(os.tmpdir(), 'duo-log-bridge-demo-'));
  const text = stringify({
    credentials: { integration_key: sim.ikey, secret_key: sim.skey, hostname: sim.hostname },
    checkpoint_dir: dir,
    poll_interval_secs: 10,
    api: { request_interval_secs: 0.2 },
    services: { authentication: {}, administrator: {}, telephony: {} },
    output: { type: 'stdout' },
  });
  const log = createLogger();
  log.info('Demo: a Duo API simulator is serving generated events on loopback.', { hostname: sim.hostname, events_per_log: events, checkpoint_dir: dir });
  return runBridge(loadConfigText(text, 'demo.yaml'), once, () => sim.close());
}

async function cmdSim(argv: string[]): Promise<number> {
  const v = args(argv, {
    port: { type: 'string', short: 'p' },
    host: { type: 'string' },
    events: { type: 'string' },
    'rate-limit': { type: 'string' },
    faults: { type: 'string' },
    'tls-cert': { type: 'string' },
    'tls-key': { type: 'string' },
    'final-next-offset': { type: 'string' },
  });
  if (v.help) return help();
  const events = intArg(v.events, 'events', 10_000);
  const rate = v['rate-limit'] === undefined ? undefined : intArg(v['rate-limit'], 'rate-limit', 2);
  const faults = v.faults === undefined ? undefined : Number(v.faults);
  if (faults !== undefined && !(faults >= 0 && faults <= 1)) throw new UsageError('--faults must be a probability between 0 and 1');
  if (!!v['tls-cert'] !== !!v['tls-key']) throw new UsageError('--tls-cert and --tls-key go together');
  const fno = v['final-next-offset'];
  if (fno !== undefined && fno !== 'null' && fno !== 'cursor') throw new UsageError('--final-next-offset must be null or cursor');
  const { readFileSync } = await import('node:fs');
  const { startSimulator } = await import('./sim/server.js');
  const sim = await startSimulator({
    port: intArg(v.port, 'port', 0),
    host: v.host,
    events: { authentication: events, administrator: events, telephony: events },
    rateLimit: rate ? { requests: rate, windowMs: 60_000 } : undefined,
    faults: faults ? { rate: faults, kinds: ['500', '429', 'truncated', 'html', 'slow'] } : undefined,
    tls: v['tls-cert'] ? { cert: readFileSync(v['tls-cert']), key: readFileSync(v['tls-key']!) } : undefined,
    finalNextOffset: fno as 'null' | 'cursor' | undefined,
    slowMs: 500,
  });
  process.stdout.write(
    stringify({ credentials: { integration_key: sim.ikey, secret_key: sim.skey, hostname: sim.hostname } }) +
      `# Simulator listening; ${events} events per log. Paste the lines above into a config. Ctrl-C stops it.\n`,
  );
  await new Promise<void>((resolve) => {
    process.once('SIGINT', () => resolve());
    process.once('SIGTERM', () => resolve());
  });
  await sim.close();
  return 0;
}

function help(): number {
  process.stdout.write(HELP + '\n');
  return 0;
}

function fail(log: Logger | undefined, err: unknown): number {
  if (err instanceof ConfigError) {
    process.stderr.write(`duo-log-bridge: the config is not valid:\n${err.problems.map((p) => '  ' + formatProblem(p)).join('\n')}\n`);
    return 2;
  }
  if (err instanceof UsageError) {
    process.stderr.write(`duo-log-bridge: ${err.message}\n`);
    return 2;
  }
  (log ?? createLogger()).error('Failed.', { error: err, error_code: (err as { code?: string }).code });
  return 1;
}

// A throw no promise chain caught is a bug: say so as a JSON log line (never a bare stack on
// stderr) and exit 1. Nothing past the last acknowledged batch was checkpointed, so a restart
// resumes from there.
for (const event of ['uncaughtException', 'unhandledRejection'] as const) {
  process.on(event, (err: unknown) => {
    createLogger().error('Stopped on an unexpected error (a bug: please report it); checkpoints cover only acknowledged events.', {
      error: err,
      error_code: (err as { code?: string })?.code,
      stack: err instanceof Error ? err.stack?.split('\n').slice(0, 6).join(' | ') : undefined,
    });
    process.exit(1);
  });
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err) => {
    process.exitCode = fail(undefined, err);
  },
);
