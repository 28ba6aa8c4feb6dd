/**
 * Core benchmark: the built CLI as a child process backfills every log from the simulator
 * (running in this process, rate limiting off) with NDJSON to /dev/null. CPU and peak RSS are
 * the bridge's own (process.resourceUsage in its final "Stopped." log line); wall time runs
 * from spawn to exit, Node start-up included. Then the same at ten times the events, for the
 * memory-growth check, each with Node's defaults and with the young-generation cap the shipped
 * Dockerfile/systemd/Kubernetes files set, and a bare loop (parse Duo pages, write NDJSON) as the floor.
 * Events per log: DLB_BENCH_EVENTS (default 100,000, so 300,000 in all).
 */
import { spawn } from 'node:child_process';
import { openSync, closeSync, writeSync, mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startSimulator } from '../../src/sim/server.js';
import { EVENT_BUILDERS, buildTimeline } from '../../src/sim/generate.js';
import { CLI, ensureBuilt, writeConfig, logLines } from '../helpers/bridge.js';
import type { BenchRow } from './row.js';

const PER_LOG = Number(process.env.DLB_BENCH_EVENTS ?? 100_000);
const LOGS = ['authentication', 'administrator', 'telephony'] as const;

async function backfill(perLog: number, nodeOptions = ''): Promise<{ row: BenchRow; requests: Record<string, number>; delivered: Record<string, number> }> {
  const sim = await startSimulator({ events: { authentication: perLog, administrator: perLog, telephony: perLog }, spanMs: 24 * 3_600_000 });
  const dir = mkdtempSync(path.join(os.tmpdir(), 'dlb-bench-'));
  const cfg = writeConfig(dir, sim, { api: { request_interval_secs: 0 } });
  // The bridge writes straight into /dev/null (its own fd): this process only serves Duo pages.
  const devnull = openSync('/dev/null', 'w');
  ensureBuilt();
  const t0 = process.hrtime.bigint();
  const child = spawn(process.execPath, [CLI, 'run', '--config', cfg, '--once'], { stdio: ['ignore', devnull, 'pipe'], env: { ...process.env, NODE_OPTIONS: nodeOptions } });
  let stderr = '';
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
  const secs = Number(process.hrtime.bigint() - t0) / 1e9;
  closeSync(devnull);
  await sim.close();
  if (code !== 0) throw new Error(`bridge exited ${code}: ${stderr.slice(-2000)}`);
  const r = { stderr };
  const stopped = logLines(r.stderr).find((l) => l.msg === 'Stopped.') as { delivered: Record<string, number>; requests: Record<string, number>; cpu_ms: number; peak_rss_mb: number };
  const total = Object.values(stopped.delivered).reduce((a, b) => a + b, 0);
  return {
    row: {
      case: `core e2e stdout→/dev/null, ${perLog.toLocaleString('en')}/log${nodeOptions ? ` (${nodeOptions})` : ''}`,
      events: total,
      seconds: secs,
      eventsPerSec: total / secs,
      cpuUsPerEvent: (stopped.cpu_ms * 1000) / total,
      peakRssMb: stopped.peak_rss_mb,
      note: `requests ${LOGS.map((l) => `${l}=${stopped.requests[l]} (max ${Math.ceil(stopped.delivered[l]! / 1000) + 2})`).join(', ')}`,
    },
    requests: stopped.requests,
    delivered: stopped.delivered,
  };
}

function bareLoop(total: number): BenchRow {
  // Pre-render Duo pages of 1000 authentication events, then only parse + shape + write.
  const now = Date.now();
  const tl = buildTimeline('authentication', 10_000, now - 3_600_000, now, 1);
  const pages: string[] = [];
  for (let p = 0; p < 10; p++) {
    const items = [];
    for (let i = p * 1000; i < (p + 1) * 1000; i++) items.push(EVENT_BUILDERS.authentication(1, i, tl.times[i]!));
    pages.push(JSON.stringify({ stat: 'OK', response: { authlogs: items, metadata: { next_offset: null } } }));
  }
  const fd = openSync('/dev/null', 'w');
  const cpu0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  let n = 0;
  while (n < total) {
    const page = JSON.parse(pages[(n / 1000) % 10]!) as { response: { authlogs: Record<string, unknown>[] } };
    let out = '';
    for (const e of page.response.authlogs) {
      e.eventtype = 'authentication';
      e.host = 'api-x.duosecurity.com';
      out += JSON.stringify(e) + '\n';
    }
    writeSync(fd, out);
    n += page.response.authlogs.length;
  }
  const secs = Number(process.hrtime.bigint() - t0) / 1e9;
  const cpu = process.cpuUsage(cpu0);
  closeSync(fd);
  return { case: 'bare loop: parse Duo page + write NDJSON (one core, no network)', events: n, seconds: secs, eventsPerSec: n / secs, cpuUsPerEvent: (cpu.user + cpu.system) / n };
}

/** The memory setting the Dockerfile, systemd unit and Kubernetes examples ship with. */
const TUNED = '--max-semi-space-size=4 --max-old-space-size=256';

export default async function bench(): Promise<BenchRow[]> {
  const rows: BenchRow[] = [];
  for (const opts of ['', TUNED]) {
    const small = await backfill(PER_LOG, opts);
    const large = await backfill(PER_LOG * 10, opts);
    const growth = ((large.row.peakRssMb! - small.row.peakRssMb!) / small.row.peakRssMb!) * 100;
    large.row.note += `; peak RSS ${growth >= 0 ? '+' : ''}${growth.toFixed(1)}% for 10x the events`;
    rows.push(small.row, large.row);
  }
  rows.push(bareLoop(PER_LOG * 3));
  return rows;
}
