/**
 * Prometheus metrics, rendered on each scrape from the live counters (`Bridge.stats`, one
 * LogStats per log) and the sink's health. Nothing is kept twice: a scrape reads the same
 * numbers the progress lines and the final "Stopped." line print.
 *
 * Names: `duo_log_bridge_<name>_<unit>[_total]`. Labels only from small fixed sets:
 * `log` (authentication, administrator, telephony), `account` (the API hostname or child
 * account), `endpoint` (the Admin API path of that log), `status` (HTTP status, or `timeout` /
 * `network` when no answer came), `sink` (the output type). No values from events, no errors.
 */
import { LOG_KINDS } from '../duo/logs/index.js';
import type { LogStats } from '../pipeline/stats.js';
import type { Batch, Sink } from '../sinks/types.js';

/** What /readyz and the sink metrics need to know about the output. */
export interface SinkHealth {
  readonly type: string;
  /** `start()` resolved: the destination was reachable once. */
  started: boolean;
  /** A non-retryable failure: the bridge is stopping. */
  failed: { code: string; message: string } | undefined;
  /** Batches the sink acknowledged. */
  batchesAcked: number;
  /** The sink's own reconnect count, when it exposes one (`Sink.reconnects`). */
  reconnects(): number | undefined;
}

/**
 * Wrap a sink to observe its health without touching it: `start()` resolving marks it
 * reachable, a non-retryable rejection marks it failed. Calls pass through unchanged.
 */
export function watchSink(inner: Sink): { sink: Sink; health: SinkHealth } {
  const health: SinkHealth = {
    type: inner.type,
    started: false,
    failed: undefined,
    batchesAcked: 0,
    reconnects: () => (typeof inner.reconnects === 'number' ? inner.reconnects : undefined),
  };
  const sink: Sink = {
    type: inner.type,
    wants: inner.wants,
    async start() {
      await inner.start();
      health.started = true;
    },
    async send(batch: Batch, signal: AbortSignal) {
      try {
        await inner.send(batch, signal);
        health.batchesAcked++;
      } catch (err) {
        const e = err as { code?: string; message?: string; retryable?: boolean };
        if (e && e.retryable === false) health.failed = { code: e.code ?? 'DLB_SINK_FAILED', message: String(e.message) };
        throw err;
      }
    },
    close: (deadlineMs: number) => inner.close(deadlineMs),
  };
  return { sink, health };
}

export interface Readiness {
  ready: boolean;
  /** Why not (empty when ready). */
  reasons: string[];
}

/** Ready = Duo accepted the credentials (some log had a page accepted) and the sink is reachable. */
export function readiness(stats: readonly LogStats[], health: SinkHealth | undefined): Readiness {
  const reasons: string[] = [];
  if (!stats.some((s) => s.okRequests > 0)) reasons.push('no Duo request has succeeded yet (credentials not confirmed)');
  if (health && !health.started) reasons.push(`the ${health.type} output has not started (destination not reachable yet)`);
  if (health?.failed) reasons.push(`the ${health.type} output failed: ${health.failed.code}`);
  return { ready: reasons.length === 0, reasons };
}

type Labels = Record<string, string>;

function esc(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"');
}

function fmt(v: number): string {
  if (Number.isNaN(v)) return 'NaN';
  if (v === Infinity) return '+Inf';
  if (v === -Infinity) return '-Inf';
  return String(Math.round(v * 1000) / 1000);
}

class Out {
  readonly lines: string[] = [];
  family(name: string, type: 'counter' | 'gauge', help: string, samples: [Labels, number | undefined][]): void {
    const present = samples.filter((s): s is [Labels, number] => s[1] !== undefined);
    this.lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
    for (const [labels, v] of present) {
      const l = Object.entries(labels)
        .map(([k, x]) => `${k}="${esc(x)}"`)
        .join(',');
      this.lines.push(`${name}${l ? `{${l}}` : ''} ${fmt(v)}`);
    }
  }
}

function positionMs(st: LogStats): number | undefined {
  if (!st.position) return undefined;
  return LOG_KINDS[st.log]?.unit === 's' ? st.position.time * 1000 : st.position.time;
}

export interface MetricsInput {
  stats: readonly LogStats[];
  sink?: SinkHealth;
  now?: number;
  startedAt?: number;
}

/** The Prometheus text exposition (version 0.0.4). */
export function renderMetrics(m: MetricsInput): string {
  const now = m.now ?? Date.now();
  const o = new Out();
  const P = 'duo_log_bridge_';
  const la = (s: LogStats): Labels => ({ log: s.log, account: s.account });
  const le = (s: LogStats): Labels => ({ log: s.log, endpoint: LOG_KINDS[s.log]?.path ?? '' });
  o.family(`${P}fetched_events_total`, 'counter', 'Events read from Duo pages (boundary duplicates included).', m.stats.map((s) => [la(s), s.eventsFetched]));
  o.family(`${P}delivered_events_total`, 'counter', 'Events the output acknowledged.', m.stats.map((s) => [la(s), s.eventsDelivered]));
  const req: [Labels, number][] = [];
  for (const s of m.stats) for (const [status, n] of Object.entries(s.responses).sort()) req.push([{ ...le(s), status }, n]);
  o.family(`${P}api_requests_total`, 'counter', 'Admin API requests by HTTP status (timeout/network: no answer).', req);
  o.family(`${P}api_rate_limited_requests_total`, 'counter', 'Admin API requests Duo answered with 429 (rate limited).', m.stats.map((s) => [le(s), s.rateLimited]));
  o.family(`${P}api_retries_total`, 'counter', 'Failed Admin API requests, each retried after a backoff (429 included).', m.stats.map((s) => [le(s), s.rateLimited + s.errors]));
  const sinkType = m.sink?.type ?? 'unknown';
  o.family(`${P}sink_retries_total`, 'counter', 'Batches the output refused and the bridge resent.', m.stats.map((s) => [{ log: s.log, sink: sinkType }, s.sinkRetries]));
  o.family(`${P}in_flight_events`, 'gauge', 'Events handed to the output and not yet acknowledged.', m.stats.map((s) => [la(s), s.inFlight]));
  o.family(`${P}checkpoint_age_seconds`, 'gauge', 'Seconds since the checkpoint in use was written.', m.stats.map((s) => [la(s), s.checkpointAt === undefined ? undefined : Math.max(0, (now - s.checkpointAt) / 1000)]));
  o.family(`${P}lag_seconds`, 'gauge', 'Seconds between now and the checkpoint position (Duo hides the newest 2 minutes).', m.stats.map((s) => {
    const p = positionMs(s);
    return [la(s), p === undefined ? undefined : Math.max(0, (now - p) / 1000)];
  }));
  o.family(`${P}catch_up_eta_seconds`, 'gauge', 'Estimated seconds to catch up at the current pace (absent when unknown).', m.stats.map((s) => [la(s), s.etaSecs]));
  if (m.sink) {
    o.family(`${P}sink_up`, 'gauge', '1 when the output started and has not failed.', [[{ sink: sinkType }, m.sink.started && !m.sink.failed ? 1 : 0]]);
    o.family(`${P}sink_reconnects_total`, 'counter', 'Connections the output re-established (outputs that report it).', [[{ sink: sinkType }, m.sink.reconnects()]]);
  }
  o.family(`${P}ready`, 'gauge', '1 when Duo accepted the credentials and the output is reachable (as /readyz).', [[{}, readiness(m.stats, m.sink).ready ? 1 : 0]]);
  const mem = process.memoryUsage();
  const cpu = process.cpuUsage();
  o.family(`${P}process_resident_memory_bytes`, 'gauge', 'Resident set size.', [[{}, mem.rss]]);
  o.family(`${P}process_heap_used_bytes`, 'gauge', 'V8 heap in use.', [[{}, mem.heapUsed]]);
  o.family(`${P}process_cpu_seconds_total`, 'counter', 'User and system CPU time.', [[{}, (cpu.user + cpu.system) / 1e6]]);
  if (m.startedAt !== undefined) o.family(`${P}process_start_time_seconds`, 'gauge', 'Start time, seconds since the epoch.', [[{}, m.startedAt / 1000]]);
  return o.lines.join('\n') + '\n';
}

/** Parse the text format back (tests, `status`-like tools): `name{labels}` → value. */
export function parseMetrics(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const i = line.lastIndexOf(' ');
    out.set(line.slice(0, i), Number(line.slice(i + 1)));
  }
  return out;
}
