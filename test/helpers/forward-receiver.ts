/**
 * A Fluentd `in_forward` stand-in for tests: forward protocol v1 over TCP or TLS, with the
 * optional `<security>` handshake (HELO / PING / PONG, shared key, user auth), every event mode
 * (Message, Forward, PackedForward, CompressedPackedForward), EventTime (ext type 0, both
 * fixext8 and ext8), and `{ack: <chunk>}` replies echoing the chunk id exactly.
 *
 * It misbehaves on demand: never ack, ack late, hold acks and release or drop them, close the
 * connection in the middle of a chunk, refuse connections for a while, restart on the same
 * port, send a reply the protocol does not allow.
 *
 * msgpack: @msgpack/msgpack, the implementation @fluent-org/logger itself depends on (it is a
 * transitive dependency, installed under node_modules; importing it from test code only is
 * deliberate, so the project adds no dependency of its own).
 */
import net from 'node:net';
import tls from 'node:tls';
import { createHash, randomBytes } from 'node:crypto';
import { gunzipSync } from 'node:zlib';
import { PassThrough } from 'node:stream';
import { Decoder, Encoder, ExtensionCodec } from '@msgpack/msgpack';

export interface EventTimeValue {
  sec: number;
  nsec: number;
}

export interface ReceivedEvent {
  tag: string;
  /** EventTime, or integer seconds as { sec, nsec: 0 } with `intTime` set. */
  time: EventTimeValue;
  intTime: boolean;
  record: Record<string, unknown>;
  /** Chunk id of the message that carried it (undefined: no ack requested). */
  chunk: string | undefined;
  mode: 'Message' | 'Forward' | 'PackedForward' | 'CompressedPackedForward';
}

export interface ReceiverOptions {
  host?: string;
  port?: number;
  /** Serve TLS with this key/cert (PEM). */
  tls?: { key: string | Buffer; cert: string | Buffer; ca?: string | Buffer; requestCert?: boolean };
  /** Require the `<security>` handshake. */
  security?: { sharedKey: string; selfHostname?: string; users?: Record<string, string> };
  /**
   * `events`: decode and keep every event (default). `count`: only count events per tag from
   * the `size` option, without decoding entries (for benchmarks).
   */
  keep?: 'events' | 'count';
}

type Conn = { socket: net.Socket; dead: boolean; authed?: boolean };

const EVENT_TIME = 0;

function extCodec(): ExtensionCodec {
  const codec = new ExtensionCodec();
  codec.register({
    type: EVENT_TIME,
    encode: () => null,
    decode: (data: Uint8Array): EventTimeValue => {
      const b = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
      return { sec: b.readUInt32BE(0), nsec: b.readUInt32BE(4) };
    },
  });
  return codec;
}

const sha512 = (...parts: Array<string | Uint8Array>): string => {
  const h = createHash('sha512');
  for (const p of parts) h.update(p);
  return h.digest('hex');
};

export class ForwardReceiver {
  readonly opts: ReceiverOptions;
  host = '127.0.0.1';
  port = 0;
  /** Every event received, in arrival order (also those never acked). Empty in `count` mode. */
  readonly events: ReceivedEvent[] = [];
  /** Events per tag received / in chunks that were acked. */
  readonly received = new Map<string, number>();
  readonly acked = new Map<string, number>();
  /** Chunk ids acked, and how many events each carried. */
  readonly ackedChunks = new Map<string, number>();
  chunksReceived = 0;
  connectionsAccepted = 0;
  handshakesFailed = 0;
  /** Protocol errors seen (bad messages); a test can assert this stays empty. */
  readonly errors: string[] = [];

  // --- misbehaviour switches ---
  /** Do not ack at all (acks are dropped). */
  neverAck = false;
  /** Delay every ack by this many ms. */
  ackDelayMs = 0;
  #held: Array<() => void> | undefined;
  #closeMidChunk = 0;

  #server: net.Server | undefined;
  #conns = new Set<Conn>();
  #waiters = new Set<() => void>();
  #timers = new Set<NodeJS.Timeout>();

  private constructor(opts: ReceiverOptions) {
    this.opts = opts;
  }

  static async start(opts: ReceiverOptions = {}): Promise<ForwardReceiver> {
    const r = new ForwardReceiver(opts);
    r.host = opts.host ?? '127.0.0.1';
    await r.listen(opts.port ?? 0);
    return r;
  }

  get listening(): boolean {
    return this.#server !== undefined;
  }

  get openConnections(): number {
    return this.#conns.size;
  }

  /** Total events received / acked (all tags). */
  get receivedCount(): number {
    let n = 0;
    for (const v of this.received.values()) n += v;
    return n;
  }
  get ackedCount(): number {
    let n = 0;
    for (const v of this.acked.values()) n += v;
    return n;
  }

  eventsFor(tag: string): ReceivedEvent[] {
    return this.events.filter((e) => e.tag === tag);
  }

  /** Events of `tag` in acked chunks only. */
  ackedEventsFor(tag: string): ReceivedEvent[] {
    return this.events.filter((e) => e.tag === tag && e.chunk !== undefined && this.ackedChunks.has(e.chunk));
  }

  // --- misbehaviour on demand ---

  /** Hold acks from now on until `releaseAcks` (sent then) or `dropHeldAcks` (never sent). */
  holdAcks(): void {
    this.#held ??= [];
  }
  releaseAcks(): void {
    const held = this.#held ?? [];
    this.#held = undefined;
    for (const send of held) send();
  }
  dropHeldAcks(): void {
    this.#held = undefined;
  }

  /** The next `n` chunks: feed only part of the bytes, then destroy the connection (no ack). */
  closeMidChunk(n = 1): void {
    this.#closeMidChunk = n;
  }

  /** Write a reply the protocol does not allow (like Vector's `{}`) on every open connection. */
  sendUnexpected(): void {
    const bytes = new Encoder().encode({});
    for (const c of this.#conns) if (!c.dead) c.socket.write(bytes);
  }

  /** Stop listening and drop every connection: connects are refused until `listen()` again. */
  async stop(): Promise<void> {
    const srv = this.#server;
    this.#server = undefined;
    for (const c of this.#conns) {
      c.dead = true;
      c.socket.destroy();
    }
    this.#conns.clear();
    if (srv) await new Promise<void>((r) => srv.close(() => r()));
  }

  /** Refuse connections for `ms`, then accept again on the same port. Resolves when listening again. */
  async refuseFor(ms: number): Promise<void> {
    await this.stop();
    await new Promise<void>((r) => this.#timer(() => r(), ms));
    await this.listen(this.port);
  }

  /** Drop everything and listen again on the same port (a Fluentd restart). Received data is kept. */
  async restart(): Promise<void> {
    await this.stop();
    await this.listen(this.port);
  }

  async listen(port: number): Promise<void> {
    const onConn = (s: net.Socket) => this.#accept(s);
    const srv = this.opts.tls
      ? tls.createServer({ key: this.opts.tls.key, cert: this.opts.tls.cert, ca: this.opts.tls.ca, requestCert: !!this.opts.tls.requestCert, rejectUnauthorized: !!this.opts.tls.requestCert }, onConn)
      : net.createServer(onConn);
    srv.on('tlsClientError', () => {
      // A client that does not trust us (wrong CA) aborts the handshake: expected in tests.
    });
    for (let i = 0; ; i++) {
      try {
        await new Promise<void>((resolve, reject) => {
          srv.once('error', reject);
          srv.listen({ host: this.host, port }, () => {
            srv.off('error', reject);
            resolve();
          });
        });
        break;
      } catch (err) {
        // The port of a restart may still be held for a moment.
        if ((err as NodeJS.ErrnoException).code !== 'EADDRINUSE' || i >= 50) throw err;
        await new Promise((r) => setTimeout(r, 100));
      }
    }
    this.#server = srv;
    this.port = (srv.address() as net.AddressInfo).port;
  }

  async close(): Promise<void> {
    for (const t of this.#timers) clearTimeout(t);
    this.#timers.clear();
    await this.stop();
  }

  /** Resolves when `pred()` holds (checked after every message), or rejects after `timeoutMs`. */
  waitFor(pred: () => boolean, timeoutMs = 60_000, what = 'condition'): Promise<void> {
    if (pred()) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const check = () => {
        if (!pred()) return;
        this.#waiters.delete(check);
        clearTimeout(t);
        resolve();
      };
      const t = setTimeout(() => {
        this.#waiters.delete(check);
        reject(new Error(`forward receiver: timed out after ${timeoutMs} ms waiting for ${what} (received ${this.receivedCount}, acked ${this.ackedCount})`));
      }, timeoutMs);
      this.#waiters.add(check);
    });
  }

  #timer(fn: () => void, ms: number): void {
    const t = setTimeout(() => {
      this.#timers.delete(t);
      fn();
    }, ms);
    this.#timers.add(t);
  }

  #notify(): void {
    for (const w of [...this.#waiters]) w();
  }

  #accept(socket: net.Socket): void {
    this.connectionsAccepted++;
    const conn: Conn = { socket, dead: false };
    this.#conns.add(conn);
    socket.setNoDelay(true);
    const input = new PassThrough();
    socket.on('data', (buf: Buffer) => {
      if (conn.dead) return;
      if (this.#closeMidChunk > 0 && conn.authed !== false) {
        this.#closeMidChunk--;
        input.write(buf.subarray(0, Math.floor(buf.length / 2)));
        conn.dead = true;
        socket.destroy();
        return;
      }
      input.write(buf);
    });
    socket.on('error', () => {});
    socket.on('close', () => {
      conn.dead = true;
      input.end();
      this.#conns.delete(conn);
    });
    void this.#serve(conn, input);
  }

  async #serve(conn: Conn, input: PassThrough): Promise<void> {
    const sec = this.opts.security;
    const decoder = new Decoder(extCodec());
    let nonce: Buffer | undefined;
    let authSalt: Buffer | undefined;
    if (sec) {
      conn.authed = false;
      nonce = randomBytes(16);
      authSalt = sec.users ? randomBytes(16) : undefined;
      conn.socket.write(new Encoder().encode(['HELO', { nonce, auth: authSalt ?? '', keepalive: true }]));
    }
    try {
      for await (const msg of decoder.decodeStream(input)) {
        if (conn.dead) break;
        if (sec && !conn.authed) {
          this.#handshake(conn, msg, nonce!, authSalt);
          continue;
        }
        this.#onMessage(conn, msg);
      }
    } catch (err) {
      if (!conn.dead) {
        this.errors.push(`decode: ${(err as Error).message}`);
        conn.socket.destroy();
      }
    }
  }

  #handshake(conn: Conn, msg: unknown, nonce: Buffer, authSalt: Buffer | undefined): void {
    const sec = this.opts.security!;
    const self = sec.selfHostname ?? 'test-fluentd';
    const fail = (reason: string) => {
      this.handshakesFailed++;
      conn.socket.end(new Encoder().encode(['PONG', false, reason, '', '']));
      conn.dead = true;
    };
    if (!Array.isArray(msg) || msg.length !== 6 || msg[0] !== 'PING') return fail('expected PING');
    const [, clientHost, salt, digest, username, pwDigest] = msg as [string, string, string | Uint8Array, string, string, string];
    if (clientHost === self) return fail('same hostname between input and output: invalid configuration');
    if (digest !== sha512(salt, clientHost, nonce, sec.sharedKey)) return fail('shared_key mismatch');
    if (sec.users) {
      const pw = sec.users[username];
      if (pw === undefined || pwDigest !== sha512(authSalt!, username, pw)) return fail('username/password mismatch');
    }
    conn.authed = true;
    conn.socket.write(new Encoder().encode(['PONG', true, '', self, sha512(salt, self, nonce, sec.sharedKey)]));
  }

  #onMessage(conn: Conn, msg: unknown): void {
    if (msg === null) return; // heartbeat
    if (!Array.isArray(msg) || msg.length < 2 || typeof msg[0] !== 'string') {
      this.errors.push(`not a forward message: ${JSON.stringify(msg)?.slice(0, 80)}`);
      return;
    }
    const tag = msg[0] as string;
    const second = msg[1];
    let option: Record<string, unknown> | undefined;
    let entries: Array<[unknown, Record<string, unknown>]> | undefined;
    let mode: ReceivedEvent['mode'];
    let count: number;
    if (second instanceof Uint8Array) {
      option = msg[2] as Record<string, unknown> | undefined;
      const gz = option?.compressed === 'gzip';
      mode = gz ? 'CompressedPackedForward' : 'PackedForward';
      if (this.opts.keep === 'count' && typeof option?.size === 'number') count = option.size;
      else {
        const bytes = gz ? gunzipSync(second) : second;
        entries = [...new Decoder(extCodec()).decodeMulti(bytes)] as Array<[unknown, Record<string, unknown>]>;
        count = entries.length;
      }
    } else if (Array.isArray(second)) {
      option = msg[2] as Record<string, unknown> | undefined;
      mode = 'Forward';
      entries = second as Array<[unknown, Record<string, unknown>]>;
      count = entries.length;
    } else {
      option = msg[3] as Record<string, unknown> | undefined;
      mode = 'Message';
      entries = [[second, msg[2] as Record<string, unknown>]];
      count = 1;
    }
    const chunk = typeof option?.chunk === 'string' ? option.chunk : undefined;
    if (option?.size !== undefined && option.size !== count) this.errors.push(`option.size ${String(option.size)} != ${count} entries`);
    this.chunksReceived++;
    this.received.set(tag, (this.received.get(tag) ?? 0) + count);
    if (entries && this.opts.keep !== 'count') {
      for (const [t, record] of entries) {
        const isInt = typeof t === 'number';
        if (!isInt && !(t && typeof t === 'object' && 'nsec' in t)) this.errors.push(`bad time ${String(t)}`);
        if (!record || typeof record !== 'object' || Array.isArray(record)) this.errors.push('record is not a map');
        this.events.push({ tag, time: isInt ? { sec: t, nsec: 0 } : (t as EventTimeValue), intTime: isInt, record, chunk, mode });
      }
    }
    this.#notify();
    if (chunk === undefined || this.neverAck) return;
    const send = () => {
      if (conn.dead || conn.socket.destroyed) return;
      conn.socket.write(new Encoder().encode({ ack: chunk }));
      this.ackedChunks.set(chunk, count);
      this.acked.set(tag, (this.acked.get(tag) ?? 0) + count);
      this.#notify();
    };
    if (this.#held) this.#held.push(send);
    else if (this.ackDelayMs > 0) this.#timer(send, this.ackDelayMs);
    else send();
  }
}

/** TLS material for the receiver's tests: the shared openssl helper. */
export { makeTestCerts, type TestCerts } from './certs.js';
