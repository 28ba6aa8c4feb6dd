/**
 * Everything `run` switches on around the Bridge, in one call so the CLI stays small:
 * start-up security checks, the sink health watch, the optional metrics/health endpoint,
 * the status file next to the checkpoints, and the terminal progress line.
 */
import { BridgeError } from '../errors.js';
import type { BridgeConfig } from '../config/schema.js';
import type { LogStats } from '../pipeline/stats.js';
import type { Sink } from '../sinks/types.js';
import type { Logger } from './log.js';
import { readiness, renderMetrics, watchSink } from './metrics.js';
import { startObsServer, type ObsServer } from './http.js';
import { ProgressLine, progressTtyEnabled } from './progress.js';
import { applyTlsFloor, securityWarnings } from './security.js';
import { StatusWriter } from './status.js';
import { parseEndpoint } from '../duo/client.js';

/**
 * The terminal status line, when stderr is a TTY (or DLB_PROGRESS_TTY=1). Create it before the
 * logger: it owns stderr's writes. Not when the events themselves go to the same terminal
 * (stdout output on a TTY): the line would land in the middle of them.
 */
export function ttyProgress(stats: () => readonly LogStats[], env: NodeJS.ProcessEnv = process.env, eventsOnStdout = false): ProgressLine | undefined {
  if (eventsOnStdout && process.stdout.isTTY && env.DLB_PROGRESS_TTY !== '1') return undefined;
  return progressTtyEnabled(env) ? new ProgressLine(stats) : undefined;
}

export interface Observability {
  /** Pass this to the Bridge instead of the raw sink. */
  sink: Sink;
  /** The endpoint, when one was asked for. */
  server: ObsServer | undefined;
  stop(): Promise<void>;
}

const LOOPBACK = /^(127\.\d+\.\d+\.\d+|localhost|::1|\[::1\])$/i;

/**
 * The TLS 1.2 floor is raised when the CLI loads this module, before any sink or client builds a
 * TLS context (a context takes the default minimum when it is created); the warning is logged at start.
 */
const TLS_LOWERED = applyTlsFloor();

export async function startObservability(o: {
  cfg: BridgeConfig;
  configFile: string | undefined;
  log: Logger;
  sink: Sink;
  stats: () => readonly LogStats[];
  tty?: ProgressLine;
}): Promise<Observability> {
  const { cfg, log } = o;
  const lowered = TLS_LOWERED ?? applyTlsFloor();
  if (lowered) log.warn(`The minimum TLS version was lowered to ${lowered} (NODE_OPTIONS?); the bridge raises it back to TLS 1.2 for every connection.`, { tls_min_version: 'TLSv1.2' });
  for (const w of securityWarnings(cfg, o.configFile)) log.warn(w.msg, w.fields);
  const { sink, health } = watchSink(o.sink);
  const startedAt = Date.now();
  let server: ObsServer | undefined;
  if (cfg.metrics.port !== undefined) {
    const { port, host } = cfg.metrics;
    try {
      server = await startObsServer({
        port,
        host,
        metrics: () => renderMetrics({ stats: o.stats(), sink: health, startedAt }),
        ready: () => readiness(o.stats(), health),
      });
    } catch (err) {
      throw new BridgeError('DLB_METRICS_LISTEN', `cannot serve metrics on ${host}:${port}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, { cause: err });
    }
    const shown = host.includes(':') ? `[${host}]` : host;
    log.info('Metrics and health endpoint listening.', { url: `http://${shown}:${server.port}/metrics`, port: server.port, host });
    if (!LOOPBACK.test(host)) log.warn('The metrics endpoint listens beyond loopback; it has no authentication (it serves counts, never events or secrets). Firewall it.', { host });
  }
  const status = new StatusWriter(cfg.checkpointDir, parseEndpoint(cfg.credentials.hostname).signHost, o.stats, log);
  status.start();
  o.tty?.start();
  return {
    sink,
    server,
    async stop() {
      o.tty?.stop();
      await status.stop();
      await server?.close();
    },
  };
}
