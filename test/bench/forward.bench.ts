/**
 * Forward output benchmarks (`npm run bench`, or alone:
 * `node --import=./node_modules/@tapjs/typescript/dist/esm/import.mjs test/bench/forward.bench.ts`).
 *
 * - `forward e2e (CLI)`: the built CLI as a child process backfills N events per log from the
 *   in-process Duo simulator into the test forward receiver on loopback, every chunk acked.
 *   Wall time from spawn to exit (startup included); CPU and peak RSS are the bridge's own
 *   (its final "Stopped." log line; /proc samples every 50 ms as a fallback).
 *   Events per log: DLB_BENCH_EVENTS (default 100,000, as core.bench.ts).
 * - Its peer is core.bench.ts's `core e2e stdout→/dev/null` (same simulator settings).
 * - `forward sink only`: ForwardSink.send of pre-built 1000-event batches to the receiver in
 *   this process (no Duo, no pipeline): the sink's own cost, receiver included.
 * - `bare msgpack`: the floor: JSON.parse of each line + msgpack encode of [EventTime, record].
 * The receiver counts events from each chunk's `size` option (it does not decode entries).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import path from 'node:path';
import { Encoder, ExtensionCodec } from '@msgpack/msgpack';
import { startSimulator } from '../../src/sim/server.js';
import { DuoEvent } from '../../src/format/event.js';
import { silentLogger } from '../../src/obs/log.js';
import { ForwardSink } from '../../src/sinks/forward/sink.js';
import type { ForwardConfig } from '../../src/sinks/forward/config.js';
import { ForwardReceiver } from '../helpers/forward-receiver.js';
import { logLines, spawnBridge, writeConfig } from '../helpers/bridge.js';
import type { BenchRow } from './row.js';
import { CLK_TCK, sampleWhileRunning } from './proc.js';

const PER_LOG = Number(process.env.DLB_BENCH_EVENTS ?? 100_000);
const LOGS = ['authentication', 'administrator', 'telephony'] as const;

async function cliRun(name: string, output: Record<string, unknown>, sim: Awaited<ReturnType<typeof startSimulator>>, total: number, note: string): Promise<BenchRow> {
  const dir = mkdtempSync(path.join(tmpdir(), 'dlb-bench-fwd-'));
  try {
    const cfg = writeConfig(dir, sim, { output, poll_interval_secs: 1, api: { request_interval_secs: 0 } });
    const t0 = process.hrtime.bigint();
    const here0 = process.cpuUsage();
    const child = spawnBridge(['run', '--config', cfg, '--once']);
    const stopSampling = sampleWhileRunning(child.pid!);
    const r = await child.result;
    const last = stopSampling();
    const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
    const here = process.cpuUsage(here0);
    const hereSecs = (here.user + here.system) / 1e6;
    if (r.code !== 0) throw new Error(`${name}: bridge exited ${r.code}: ${r.stderr.slice(-2000)}`);
    // The bridge reports its own CPU and peak RSS when it stops; /proc samples are the fallback.
    const stopped = logLines(r.stderr).find((l) => l.msg === 'Stopped.') as { cpu_ms?: number; peak_rss_mb?: number } | undefined;
    const cpuSecs = stopped?.cpu_ms !== undefined ? stopped.cpu_ms / 1000 : last.cpuTicks / CLK_TCK;
    return {
      case: name,
      events: total,
      seconds: round(seconds, 3),
      eventsPerSec: Math.round(total / seconds),
      cpuUsPerEvent: round((cpuSecs * 1e6) / total, 2),
      peakRssMb: round(stopped?.peak_rss_mb ?? last.hwmKb / 1024, 1),
      note: `${note}; load average ${loadavg()[0]!.toFixed(1)} on ${cpus().length} cores; bench process (simulator + receiver) used ${round(hereSecs, 2)} s CPU, the bridge ${round(cpuSecs, 2)} s`,
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function sinkConfig(port: number): ForwardConfig {
  return {
    type: 'forward',
    host: '127.0.0.1',
    port,
    tagPrefix: 'duo',
    ackTimeoutMs: 60_000,
    connectTimeoutMs: 10_000,
    chunkMaxEvents: 1000,
    maxEventsInFlight: 10_000,
    compress: 'none',
    reconnect: { initialDelayMs: 500, maxDelayMs: 10_000 },
    tls: undefined,
    security: undefined,
    sharedKey: undefined,
    password: undefined,
  };
}

export default async function bench(): Promise<BenchRow[]> {
  const rows: BenchRow[] = [];
  const sim = await startSimulator({ events: { authentication: PER_LOG, administrator: PER_LOG, telephony: PER_LOG }, spanMs: 24 * 3_600_000 });
  const rx = await ForwardReceiver.start({ keep: 'count' });
  const total = 3 * PER_LOG;
  try {
    rows.push(await cliRun('forward e2e (CLI), acked, loopback', { type: 'forward', host: '127.0.0.1', port: rx.port }, sim, total, 'sim + receiver in the bench process'));
    if (rx.ackedCount < total) throw new Error(`forward e2e: only ${rx.ackedCount} of ${total} acked`);

    // The sink alone, on the same records.
    const events: DuoEvent[] = [];
    for (const log of LOGS) {
      const lines = sim.expectedLines(log);
      for (let i = 0; i < lines.length; i++) events.push(new DuoEvent(log, 1.7e15 + i * 1001, String(i), JSON.parse(lines[i]!) as Record<string, unknown>));
    }
    const sink = new ForwardSink(sinkConfig(rx.port), { log: silentLogger });
    await sink.start();
    const c0 = process.cpuUsage();
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < events.length; i += 1000) {
      const batch = events.slice(i, i + 1000);
      await sink.send({ logType: batch[0]!.logType, account: 'bench', events: batch });
    }
    const s = Number(process.hrtime.bigint() - t0) / 1e9;
    const cpu = process.cpuUsage(c0);
    await sink.close(1000);
    rows.push({ case: 'forward sink only (send -> ack)', events: events.length, seconds: round(s, 3), eventsPerSec: Math.round(events.length / s), cpuUsPerEvent: round((cpu.user + cpu.system) / events.length, 2), note: 'one batch in flight; receiver in the same process' });

    // Floor: parse + encode, nothing else.
    const lines = LOGS.flatMap((l) => sim.expectedLines(l));
    const codec = new ExtensionCodec();
    codec.register({ type: 0, encode: (o) => (o instanceof Uint8Array ? o : null), decode: (d) => d });
    const enc = new Encoder(codec);
    const time = new Uint8Array(8);
    const b0 = process.hrtime.bigint();
    let bytes = 0;
    for (const l of lines) bytes += enc.encode([time, JSON.parse(l)]).length;
    const bs = Number(process.hrtime.bigint() - b0) / 1e9;
    rows.push({ case: 'bare JSON.parse + msgpack encode', events: lines.length, seconds: round(bs, 3), eventsPerSec: Math.round(lines.length / bs), note: `${Math.round(bytes / lines.length)} msgpack bytes/event` });
  } finally {
    await rx.close();
    await sim.close();
  }
  return rows;
}

function round(n: number, d: number): number {
  const f = 10 ** d;
  return Math.round(n * f) / f;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  for (const row of await bench()) console.log(JSON.stringify(row));
}
