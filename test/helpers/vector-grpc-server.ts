/**
 * A stand-in for Vector's `vector` source (protocol v2): a real @grpc/grpc-js server that
 * implements `vector.Vector` from the repo's own vector/proto/ files and decodes every PushEvents call
 * with them. It records what it acknowledged (answered OK) separately from what it merely
 * received, and can fail on demand like Vector does:
 *   - failNext(n, code)      the next n PushEvents calls read the events, then answer `code`
 *                            (INTERNAL = Vector "Delivery error", DATA_LOSS = "Delivery failed" ...);
 *   - unavailableFor(ms)     every call answers UNAVAILABLE for a while (pipeline closed);
 *   - delayMs                answer each call only after this long (slow delivery);
 *   - stop() / restart()     really close the port, and bind the same port again;
 *   - health                 what HealthCheck answers.
 * Also: makeTestCerts() builds a CA, a server and a client certificate with openssl.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ChildProcess } from 'node:child_process';
import * as grpc from '@grpc/grpc-js';
import type * as protoLoader from '@grpc/proto-loader';
import { loadVectorProto } from '../../src/sinks/vector/proto.js';


/** proto-loader output for a Value: one oneof member set, named in `kind`. */
export interface RawValue {
  kind?: string;
  raw_bytes?: Buffer;
  timestamp?: { seconds?: string; nanos?: number };
  integer?: string;
  float?: number;
  boolean?: boolean;
  map?: { fields?: Record<string, RawValue> };
  array?: { items?: RawValue[] };
  null?: string;
}
export interface RawEventWrapper {
  event?: string;
  log?: { value?: RawValue; fields?: Record<string, RawValue> };
}

/** A Vector timestamp after decoding: whole seconds (exact, as bigint) and nanoseconds. */
export class VectorTimestamp {
  constructor(
    readonly seconds: bigint,
    readonly nanos: number,
  ) {}
  /** Microseconds since the epoch (exact while below 2^53). */
  get micros(): number {
    return Number(this.seconds * 1_000_000n) + Math.floor(this.nanos / 1000);
  }
}

/** Decoded Vector value as plain JavaScript (strings from raw_bytes, integers as numbers, Timestamp as VectorTimestamp). */
export function toJs(v: RawValue | undefined): unknown {
  if (!v || !v.kind) throw new Error(`Value without a kind: ${JSON.stringify(v)}`);
  switch (v.kind) {
    case 'raw_bytes':
      return v.raw_bytes!.toString('utf8');
    case 'integer': {
      const n = Number(v.integer);
      if (!Number.isSafeInteger(n)) throw new Error(`integer out of safe range: ${v.integer}`);
      return n;
    }
    case 'float':
      return v.float;
    case 'boolean':
      return v.boolean;
    case 'null':
      return null;
    case 'timestamp':
      return new VectorTimestamp(BigInt(v.timestamp?.seconds ?? '0'), v.timestamp?.nanos ?? 0);
    case 'map': {
      const out: Record<string, unknown> = {};
      for (const [k, x] of Object.entries(v.map?.fields ?? {})) out[k] = toJs(x);
      return out;
    }
    case 'array':
      return (v.array?.items ?? []).map(toJs);
    default:
      throw new Error(`unknown Value kind ${v.kind}`);
  }
}

export interface ReceivedCall {
  /** Decoded events (empty with `countOnly`). */
  events: RawEventWrapper[];
  /** How many events the call carried. */
  count: number;
  /** What the server answered: 'OK' or a status name. */
  answer: string;
}

export interface VectorTestServer {
  readonly address: string;
  readonly port: number;
  /** Every PushEvents call, in arrival order, with the answer given. */
  readonly calls: ReceivedCall[];
  /** Events of calls answered OK (the only ones a client may checkpoint). */
  acked(): RawEventWrapper[];
  ackedCount(): number;
  failNext(n: number, code: grpc.status, details?: string): void;
  unavailableFor(ms: number): void;
  delayMs: number;
  health: 'SERVING' | 'NOT_SERVING';
  healthChecks: number;
  /** Called for each PushEvents call before it is answered. */
  onCall?: (events: RawEventWrapper[]) => void;
  stop(): Promise<void>;
  restart(): Promise<void>;
  close(): Promise<void>;
}

export interface TestServerTls {
  cert: Buffer;
  key: Buffer;
  /** Ask for (and check) client certificates signed by this CA. */
  clientCa?: Buffer;
}

/** The repo's protos, loaded the way the sink's own decoder loads them (src/sinks/vector/proto.ts). */
export const loadRepoProtos = loadVectorProto;

/** Decode the bytes of a PushEventsRequest with the repo's protos. */
export function decodePushEventsRequest(buf: Buffer): { events?: RawEventWrapper[] } {
  const svc = loadRepoProtos()['vector.Vector'] as protoLoader.ServiceDefinition;
  return svc.PushEvents!.requestDeserialize(buf) as { events?: RawEventWrapper[] };
}

/** Count the `events` entries of a PushEventsRequest without decoding them (for benchmarks). */
export function countPushEvents(buf: Buffer): number {
  let pos = 0;
  let n = 0;
  const varint = (): number => {
    let v = 0;
    let mul = 1;
    for (;;) {
      const b = buf[pos++]!;
      v += (b & 0x7f) * mul;
      if (b < 0x80) return v;
      mul *= 128;
    }
  };
  while (pos < buf.length) {
    const tag = varint();
    if (tag !== 0x0a) throw new Error(`unexpected field tag ${tag} in PushEventsRequest`);
    const len = varint(); // (not `pos += varint()`: that would add to the old pos)
    pos += len;
    n++;
  }
  return n;
}

export async function startVectorServer(opts: { port?: number; tls?: TestServerTls; countOnly?: boolean } = {}): Promise<VectorTestServer> {
  const loaded = loadRepoProtos()['vector.Vector'] as grpc.ServiceDefinition;
  const svcDef: grpc.ServiceDefinition = opts.countOnly
    ? { ...loaded, PushEvents: { ...loaded.PushEvents!, requestDeserialize: (b: Buffer) => ({ count: countPushEvents(b) }) } }
    : loaded;
  const failures: { code: grpc.status; details: string }[] = [];
  let unavailableUntil = 0;
  let server: grpc.Server | undefined;
  let port = opts.port ?? 0;

  const state: VectorTestServer = {
    address: '',
    port: 0,
    calls: [],
    delayMs: 0,
    health: 'SERVING',
    healthChecks: 0,
    acked() {
      return this.calls.filter((c) => c.answer === 'OK').flatMap((c) => c.events);
    },
    ackedCount() {
      let n = 0;
      for (const c of this.calls) if (c.answer === 'OK') n += c.count;
      return n;
    },
    failNext(n, code, details = 'injected failure') {
      for (let i = 0; i < n; i++) failures.push({ code, details });
    },
    unavailableFor(ms) {
      unavailableUntil = Date.now() + ms;
    },
    stop,
    restart: bind,
    async close() {
      await stop();
    },
  };

  const impl: grpc.UntypedServiceImplementation = {
    PushEvents(call: grpc.ServerUnaryCall<{ events?: RawEventWrapper[]; count?: number }, unknown>, callback: grpc.sendUnaryData<unknown>) {
      const events = call.request.events ?? [];
      const count = call.request.count ?? events.length;
      state.onCall?.(events);
      const answer = (): void => {
        let code: grpc.status = grpc.status.OK;
        let details = '';
        if (Date.now() < unavailableUntil) [code, details] = [grpc.status.UNAVAILABLE, 'injected: pipeline unavailable'];
        else if (failures.length) ({ code, details } = failures.shift()!);
        if (call.cancelled) {
          state.calls.push({ events, count, answer: 'CANCELLED' });
          return;
        }
        if (code === grpc.status.OK) {
          state.calls.push({ events, count, answer: 'OK' });
          callback(null, {});
        } else {
          state.calls.push({ events, count, answer: grpc.status[code]! });
          callback({ code, details });
        }
      };
      if (state.delayMs > 0) setTimeout(answer, state.delayMs);
      else answer();
    },
    HealthCheck(_call: grpc.ServerUnaryCall<unknown, unknown>, callback: grpc.sendUnaryData<unknown>) {
      state.healthChecks++;
      callback(null, { status: state.health });
    },
  };

  async function bind(): Promise<void> {
    const s = new grpc.Server({ 'grpc.max_receive_message_length': 256 * 1024 * 1024 });
    s.addService(svcDef, impl);
    const creds = opts.tls
      ? grpc.ServerCredentials.createSsl(opts.tls.clientCa ?? null, [{ cert_chain: opts.tls.cert, private_key: opts.tls.key }], Boolean(opts.tls.clientCa))
      : grpc.ServerCredentials.createInsecure();
    port = await new Promise<number>((resolve, reject) => s.bindAsync(`127.0.0.1:${port}`, creds, (err, p) => (err ? reject(err) : resolve(p))));
    server = s;
    (state as { port: number }).port = port;
    (state as { address: string }).address = `127.0.0.1:${port}`;
  }

  async function stop(): Promise<void> {
    const s = server;
    server = undefined;
    if (s) s.forceShutdown();
  }

  await bind();
  return state;
}


/**
 * What a receiver acknowledged, per log, checked against the bridge's checkpoints while it runs.
 * The pipeline delivers each log in Duo's order, so a checkpoint saying `events_delivered: K`
 * claims the first K expected lines of that log were acknowledged: `check()` verifies that claim
 * against the acknowledgements recorded so far (a receiver records an acknowledgement before it
 * answers, so any checkpoint on disk must already be covered). Multisets: administrator rows
 * have no id and two of them can be byte-identical.
 */
export class AckLedger {
  readonly acked = new Map<string, Map<string, number>>();
  readonly violations: string[] = [];
  checkpointsSeen = 0;
  readonly #verified = new Map<string, { upTo: number; need: Map<string, number> }>();
  readonly #lastK = new Map<string, number>();

  constructor(
    readonly expected: Record<string, string[]>,
    readonly stateDir: string,
  ) {}

  add(log: string, line: string): void {
    let m = this.acked.get(log);
    if (!m) this.acked.set(log, (m = new Map()));
    m.set(line, (m.get(line) ?? 0) + 1);
  }

  /** Read every checkpoint file now and verify it is not ahead of what was acknowledged. */
  check(): void {
    let names: string[];
    try {
      names = readdirSync(this.stateDir);
    } catch {
      return;
    }
    for (const name of names) {
      if (!name.endsWith('.json')) continue;
      let cp: { log?: string; events_delivered?: number };
      try {
        cp = JSON.parse(readFileSync(join(this.stateDir, name), 'utf8'));
      } catch {
        continue;
      }
      const log = cp.log!;
      const k = cp.events_delivered ?? 0;
      if (this.#lastK.get(log) !== k) {
        this.#lastK.set(log, k);
        this.checkpointsSeen++;
      }
      const exp = this.expected[log] ?? [];
      let v = this.#verified.get(log);
      if (!v) this.#verified.set(log, (v = { upTo: 0, need: new Map() }));
      if (k > exp.length) {
        this.violations.push(`${log}: checkpoint claims ${k} events, only ${exp.length} exist`);
        continue;
      }
      const acked = this.acked.get(log) ?? new Map<string, number>();
      while (v.upTo < k) {
        const line = exp[v.upTo]!;
        const need = (v.need.get(line) ?? 0) + 1;
        if (need > (acked.get(line) ?? 0)) {
          this.violations.push(`${log}: checkpoint at ${k} events, but event #${v.upTo} was not acknowledged yet`);
          break;
        }
        v.need.set(line, need);
        v.upTo++;
      }
    }
  }

  /** Expected lines (as a multiset) never acknowledged. */
  missing(log: string): number {
    const acked = this.acked.get(log) ?? new Map<string, number>();
    const want = new Map<string, number>();
    for (const l of this.expected[log] ?? []) want.set(l, (want.get(l) ?? 0) + 1);
    let n = 0;
    for (const [l, c] of want) n += Math.max(0, c - (acked.get(l) ?? 0));
    return n;
  }

  /** Acknowledged lines that are not expected at all. */
  unexpected(log: string): number {
    const exp = new Set(this.expected[log] ?? []);
    let n = 0;
    for (const [l, c] of this.acked.get(log) ?? []) if (!exp.has(l)) n += c;
    return n;
  }

  total(log: string): number {
    let n = 0;
    for (const c of (this.acked.get(log) ?? new Map<string, number>()).values()) n += c;
    return n;
  }
}

/**
 * Watch a bridge run every 5 ms: take in what the peer acknowledged, check every checkpoint
 * against it, and SIGKILL the bridge once `fraction` of `total` events were acknowledged.
 * Returns the function that stops watching.
 */
export function killWhenAcked(child: ChildProcess, ledger: AckLedger, ingest: () => void, total: number, fraction = 0.45): () => void {
  let killed = false;
  const watch = setInterval(() => {
    ingest();
    ledger.check();
    let acked = 0;
    for (const l of Object.keys(ledger.expected)) acked += ledger.total(l);
    if (!killed && acked >= total * fraction) {
      killed = true;
      child.kill('SIGKILL');
    }
  }, 5);
  return () => clearInterval(watch);
}
