/**
 * The sinks the chaos suite delivers to, behind one small interface: the real test peers
 * (forward receiver, Vector gRPC server, HTTP NDJSON server) and stdout as a baseline.
 *
 * "Delivered" means acknowledged: a record counts only when it was in a forward chunk the
 * receiver acked, a PushEvents call answered OK, an HTTP request answered 2xx, or a complete
 * line on the bridge's stdout. Each acknowledged copy counts (a resend that is acked again is
 * a duplicate), except that a forward chunk id is counted once however often it arrived: the
 * receiver records acks per chunk id, not per copy (see forwardDelivered).
 *
 * Every delivered record is normalised to the JSON text of its record object, compared with
 * `sim.expectedLines(log)` normalised the same way (JSON.parse + stringify keeps key order).
 */
import * as grpc from '@grpc/grpc-js';
import { ForwardReceiver } from '../helpers/forward-receiver.js';
import { startVectorServer, toJs, type VectorTestServer } from '../helpers/vector-grpc-server.js';
import { startHttpServer, type HttpTestServer } from '../helpers/http-ndjson-server.js';

export type SinkName = 'stdout' | 'forward' | 'vector' | 'http';
export const LOGS = ['authentication', 'administrator', 'telephony'] as const;
export type Log = (typeof LOGS)[number];

export interface Peer {
  readonly name: SinkName;
  /** The `output:` section of the bridge config. */
  output(): Record<string, unknown>;
  /** Acknowledged events so far (cheap; used to time kills and faults). */
  ackedCount(): number;
  /** Acknowledged records per log (normalised JSON), every acknowledged copy. */
  delivered(): Record<Log, string[]>;
  /** stdout only: feed the bridge's stdout as it arrives (complete lines count). */
  feedStdout?(chunk: string): void;
  /** stdout only: a run ended; drop its trailing partial line (never written whole, never checkpointed). */
  endRun?(): void;
  /** Close the port and every connection (refused until up()). */
  down(): Promise<void>;
  up(): Promise<void>;
  /** Answer every delivery only after `ms` (0: back to normal). */
  slow(ms: number): void;
  /** The next `n` deliveries are refused with a retryable error (read, then not acknowledged). */
  fail(n: number): void;
  close(): Promise<void>;
}

const norm = (line: string): string => JSON.stringify(JSON.parse(line));

function emptyByLog(): Record<Log, string[]> {
  return { authentication: [], administrator: [], telephony: [] };
}

class StdoutPeer implements Peer {
  readonly name = 'stdout' as const;
  #done: string[] = [];
  #partial = '';
  #count = 0;
  output() {
    return { type: 'stdout' };
  }
  feedStdout(chunk: string): void {
    const text = this.#partial + chunk;
    const cut = text.lastIndexOf('\n');
    if (cut < 0) {
      this.#partial = text;
      return;
    }
    const lines = text.slice(0, cut).split('\n');
    this.#partial = text.slice(cut + 1);
    for (const l of lines) if (l) this.#done.push(l);
    this.#count += lines.length;
  }
  endRun(): void {
    this.#partial = '';
  }
  ackedCount() {
    return this.#count;
  }
  delivered() {
    const out = emptyByLog();
    for (const l of this.#done) {
      const r = JSON.parse(l) as { eventtype: Log };
      out[r.eventtype]?.push(JSON.stringify(r));
    }
    return out;
  }
  async down() {
    throw new Error('stdout cannot go down');
  }
  async up() {}
  slow() {}
  fail() {}
  async close() {}
}

class ForwardPeer implements Peer {
  readonly name = 'forward' as const;
  constructor(readonly rx: ForwardReceiver) {}
  output() {
    return {
      type: 'forward',
      host: '127.0.0.1',
      port: this.rx.port,
      // Long: a healthy ack must never time out on a loaded machine (a spurious timeout
      // re-sends a chunk that may then be acked twice, which this suite would count).
      ack_timeout_secs: 30,
      connect_timeout_secs: 5,
      reconnect: { initial_delay_secs: 0.05, max_delay_secs: 1 },
    };
  }
  ackedCount() {
    return this.rx.ackedCount;
  }
  /** Events of acked chunks; a chunk id seen twice (a resend of an unacked chunk) is counted once. */
  delivered() {
    const out = emptyByLog();
    const seen = new Map<string, number>();
    for (const e of this.rx.events) {
      if (e.chunk === undefined) continue;
      const want = this.rx.ackedChunks.get(e.chunk);
      if (want === undefined) continue;
      const n = seen.get(e.chunk) ?? 0;
      if (n >= want) continue;
      seen.set(e.chunk, n + 1);
      const log = e.tag.replace(/^duo\./, '') as Log;
      out[log]?.push(JSON.stringify(e.record));
    }
    return out;
  }
  down() {
    return this.rx.stop();
  }
  up() {
    return this.rx.listen(this.rx.port);
  }
  slow(ms: number) {
    this.rx.ackDelayMs = ms;
  }
  fail(n: number) {
    // Fluentd failing a chunk: the connection drops in the middle of it, nothing acked.
    this.rx.closeMidChunk(n);
  }
  close() {
    return this.rx.close();
  }
}

class VectorPeer implements Peer {
  readonly name = 'vector' as const;
  #done = 0;
  readonly #out = emptyByLog();
  constructor(
    readonly server: VectorTestServer,
    readonly batchSize?: number,
  ) {}
  output() {
    // Default batch_size (1000 = one page per call): see `vectorBatchSize` for smaller ones.
    return { type: 'vector', address: this.server.address, compression: 'gzip', timeout_secs: 20, include_message: true, ...(this.batchSize ? { batch_size: this.batchSize } : {}) };
  }
  ackedCount() {
    return this.server.ackedCount();
  }
  delivered() {
    for (; this.#done < this.server.calls.length; this.#done++) {
      const call = this.server.calls[this.#done]!;
      if (call.answer !== 'OK') continue;
      for (const w of call.events) {
        const obj = toJs(w.log!.value) as Record<string, unknown>;
        const line = norm(String(obj.message));
        const log = String(obj.eventtype) as Log;
        this.#out[log]?.push(line);
      }
    }
    return { authentication: [...this.#out.authentication], administrator: [...this.#out.administrator], telephony: [...this.#out.telephony] };
  }
  down() {
    return this.server.stop();
  }
  up() {
    return this.server.restart();
  }
  slow(ms: number) {
    this.server.delayMs = ms;
  }
  fail(n: number) {
    this.server.failNext(n, grpc.status.INTERNAL, 'chaos: Delivery error');
  }
  close() {
    return this.server.close();
  }
}

class HttpPeer implements Peer {
  readonly name = 'http' as const;
  #kinds = 0;
  constructor(readonly server: HttpTestServer) {}
  output() {
    // Default batch_max_bytes (10 MB): a page is one request.
    return { type: 'http', url: this.server.url, compression: 'gzip', timeout_secs: 20 };
  }
  ackedCount() {
    return this.server.ackedCount();
  }
  delivered() {
    const out = emptyByLog();
    for (const r of this.server.requests) {
      if (r.status < 200 || r.status >= 300) continue;
      for (const line of r.lines) {
        const rec = JSON.parse(line) as { eventtype: Log };
        out[rec.eventtype]?.push(JSON.stringify(rec));
      }
    }
    return out;
  }
  down() {
    return this.server.stop();
  }
  up() {
    return this.server.restart();
  }
  slow(ms: number) {
    this.server.delayMs = ms;
  }
  fail(n: number) {
    // Rotate through what Vector's http_server and proxies answer when they cannot take a batch.
    for (let i = 0; i < n; i++) {
      const k = this.#kinds++ % 4;
      if (k === 0) this.server.failNext(1, 500, 'chaos: Delivery error');
      else if (k === 1) this.server.failNext(1, 503, 'chaos: busy', { 'retry-after': '0.2' });
      else if (k === 2) this.server.failNext(1, 429, 'chaos: slow down');
      else this.server.resetNext(1);
    }
  }
  close() {
    return this.server.close();
  }
}

/** `vectorBatchSize`: split each page into PushEvents calls of this many events (default: one call per page). */
export async function startPeer(name: SinkName, opts: { vectorBatchSize?: number } = {}): Promise<Peer> {
  switch (name) {
    case 'stdout':
      return new StdoutPeer();
    case 'forward':
      return new ForwardPeer(await ForwardReceiver.start());
    case 'vector':
      return new VectorPeer(await startVectorServer(), opts.vectorBatchSize);
    case 'http':
      return new HttpPeer(await startHttpServer({ path: '/duo' }));
  }
}

/** Expected records per log, normalised like `Peer.delivered()`. */
export function normalisedExpected(lines: string[]): string[] {
  return lines.map(norm);
}
