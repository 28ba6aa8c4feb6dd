/**
 * Vector output benchmarks (`npm run bench`, or alone:
 * `node --import=./node_modules/@tapjs/typescript/dist/esm/import.mjs test/bench/vector.bench.ts`;
 * events per log: VECTOR_BENCH_EVENTS, default 50,000).
 *
 * - `vector gRPC e2e (CLI)` / `+ gzip`: the built CLI as a child process backfills N events per log
 *   from the in-process Duo simulator into the test Vector gRPC server (count-only: it walks the
 *   PushEvents framing without decoding events), every call acknowledged. Wall time from spawn to
 *   exit (startup included); CPU and peak RSS of the bridge process from /proc (sampled every 50 ms).
 * - `http e2e (CLI)` / `+ gzip`: the same into the HTTP NDJSON test server (counts lines).
 * - `stdout e2e (CLI)`: the same run to NDJSON on stdout, as the exec-source peer.
 * - `vector encode only`: encodePushEventsRequest on 1000-event batches of the simulator's records.
 * - `proto-loader serialize`: the same requests built as objects and serialized by protobufjs
 *   through @grpc/proto-loader (the path the hand-written encoder replaces), for comparison.
 * - `vector sink only`: VectorSink.send of 1000-event batches to the server in this process.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startSimulator } from '../../src/sim/server.js';
import { DuoEvent } from '../../src/format/event.js';
import { silentLogger } from '../../src/obs/log.js';
import { encodePushEventsRequest } from '../../src/sinks/vector/encode.js';
import { loadVectorProto } from '../../src/sinks/vector/proto.js';
import { VectorSink } from '../../src/sinks/vector/sink.js';
import { defaultVectorSinkConfig } from '../../src/sinks/vector/config.js';
import { spawnBridge, writeConfig } from '../helpers/bridge.js';
import { startVectorServer } from '../helpers/vector-grpc-server.js';
import { startHttpServer } from '../helpers/http-ndjson-server.js';
import type { BenchRow } from './row.js';
import { CLK_TCK, sampleWhileRunning } from './proc.js';

const PER_LOG = Number(process.env.VECTOR_BENCH_EVENTS ?? 50_000);
const LOGS = ['authentication', 'administrator', 'telephony'] as const;

function round(n: number, d: number): number {
  const f = 10 ** d;
  return Math.round(n * f) / f;
}

type Sim = Awaited<ReturnType<typeof startSimulator>>;

async function cliRun(name: string, output: Record<string, unknown>, sim: Sim, total: number, acked: (() => number) | undefined, note: string): Promise<BenchRow> {
  const dir = mkdtempSync(path.join(tmpdir(), 'dlb-bench-vector-'));
  try {
    const cfg = writeConfig(dir, sim, { output, poll_interval_secs: 1, api: { request_interval_secs: 0 } });
    const before = acked?.() ?? 0;
    const t0 = process.hrtime.bigint();
    const child = spawnBridge(['run', '--config', cfg, '--once']);
    const stopSampling = sampleWhileRunning(child.pid!);
    const r = await child.result;
    const last = stopSampling();
    const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
    if (r.code !== 0) throw new Error(`${name}: bridge exited ${r.code}: ${r.stderr.slice(-2000)}`);
    const got = acked ? acked() - before : r.stdout.split('\n').length - 1;
    if (got < total) throw new Error(`${name}: only ${got} of ${total} events acknowledged`);
    return {
      case: name,
      events: total,
      seconds: round(seconds, 3),
      eventsPerSec: Math.round(total / seconds),
      cpuUsPerEvent: round(((last.cpuTicks / CLK_TCK) * 1e6) / total, 2),
      peakRssMb: round(last.hwmKb / 1024, 1),
      note,
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function timed(name: string, events: number, fn: () => void, note: string): BenchRow {
  const c0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  fn();
  const s = Number(process.hrtime.bigint() - t0) / 1e9;
  const cpu = process.cpuUsage(c0);
  return { case: name, events, seconds: round(s, 3), eventsPerSec: Math.round(events / s), cpuUsPerEvent: round((cpu.user + cpu.system) / events, 2), note };
}

/** A record as a Vector Value object for protobufjs (the object path the encoder avoids). */
function toValueObject(v: unknown): Record<string, unknown> {
  if (typeof v === 'string') return { raw_bytes: Buffer.from(v) };
  if (typeof v === 'number') return Number.isSafeInteger(v) ? { integer: v } : { float: v };
  if (typeof v === 'boolean') return { boolean: v };
  if (v === null || v === undefined) return { null: 0 };
  if (Array.isArray(v)) return { array: { items: v.map(toValueObject) } };
  const fields: Record<string, unknown> = {};
  for (const [k, x] of Object.entries(v as object)) if (x !== undefined) fields[k] = toValueObject(x);
  return { map: { fields } };
}

export default async function bench(): Promise<BenchRow[]> {
  const rows: BenchRow[] = [];
  const sim = await startSimulator({ events: { authentication: PER_LOG, administrator: PER_LOG, telephony: PER_LOG } });
  const grpcServer = await startVectorServer({ countOnly: true });
  const httpServer = await startHttpServer({ countOnly: true });
  const total = LOGS.reduce((n, l) => n + sim.expectedLines(l).length, 0);
  try {
    const grpcAcked = () => grpcServer.ackedCount();
    const httpAcked = () => httpServer.ackedCount();
    const note = 'sim + receiver in the bench process';
    rows.push(await cliRun('vector gRPC e2e (CLI)', { type: 'vector', address: grpcServer.address }, sim, total, grpcAcked, `${note}; batch_size 1000, max_in_flight 4`));
    rows.push(await cliRun('vector gRPC e2e (CLI), batch_size 250', { type: 'vector', address: grpcServer.address, batch_size: 250 }, sim, total, grpcAcked, `${note}; 4 calls of 250 per page in flight`));
    rows.push(await cliRun('vector gRPC e2e (CLI) + gzip', { type: 'vector', address: grpcServer.address, compression: 'gzip' }, sim, total, grpcAcked, note));
    rows.push(await cliRun('http e2e (CLI)', { type: 'http', url: httpServer.url }, sim, total, httpAcked, note));
    rows.push(await cliRun('http e2e (CLI) + gzip', { type: 'http', url: httpServer.url, compression: 'gzip' }, sim, total, httpAcked, note));
    rows.push(await cliRun('stdout e2e (CLI), exec-source peer', { type: 'stdout' }, sim, total, undefined, 'NDJSON piped to the bench process'));

    const events: DuoEvent[] = [];
    for (const log of LOGS) {
      const lines = sim.expectedLines(log);
      for (let i = 0; i < lines.length; i++) events.push(new DuoEvent(log, 1.7e15 + i * 1001, String(i), JSON.parse(lines[i]!) as Record<string, unknown>));
    }
    const opts = { timestampKey: 'timestamp', includeMessage: false };
    let bytes = 0;
    encodePushEventsRequest(events.slice(0, 1000), opts); // warm up
    rows.push(
      timed('vector encode only', events.length, () => {
        for (let i = 0; i < events.length; i += 1000) bytes += encodePushEventsRequest(events.slice(i, i + 1000), opts).length;
      }, ''),
    );
    rows[rows.length - 1]!.note = `${Math.round(bytes / events.length)} protobuf bytes/event`;
    const ser = (loadVectorProto()['vector.Vector'] as unknown as { PushEvents: { requestSerialize: (o: unknown) => Buffer } }).PushEvents.requestSerialize;
    const sample = events.slice(0, Math.min(events.length, 30_000));
    rows.push(
      timed('proto-loader serialize (comparison)', sample.length, () => {
        for (let i = 0; i < sample.length; i += 1000) {
          const part = sample.slice(i, i + 1000);
          ser({
            events: part.map((e) => {
              const v = toValueObject(e.record) as { map: { fields: Record<string, unknown> } };
              v.map.fields.timestamp = { timestamp: { seconds: Math.floor(e.timeUs / 1e6), nanos: (e.timeUs % 1e6) * 1000 } };
              return { log: { value: v } };
            }),
          });
        }
      }, 'objects built per event + protobufjs fromObject/encode'),
    );

    const sink = new VectorSink({ ...defaultVectorSinkConfig(), address: grpcServer.address }, { log: silentLogger });
    await sink.start();
    const never = new AbortController().signal;
    const c0 = process.cpuUsage();
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < events.length; i += 1000) {
      const batch = events.slice(i, i + 1000);
      await sink.send({ logType: batch[0]!.logType, account: 'bench', events: batch }, never);
    }
    const s = Number(process.hrtime.bigint() - t0) / 1e9;
    const cpu = process.cpuUsage(c0);
    await sink.close(1000);
    rows.push({ case: 'vector sink only (send -> OK)', events: events.length, seconds: round(s, 3), eventsPerSec: Math.round(events.length / s), cpuUsPerEvent: round((cpu.user + cpu.system) / events.length, 2), note: 'one batch at a time; server in the same process' });
  } finally {
    await grpcServer.close();
    await httpServer.close();
    await sim.close();
  }
  return rows;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  for (const row of await bench()) console.log(JSON.stringify(row));
}
