/**
 * One TCP or TLS (RFC 5425) connection to a syslog receiver, reconnected with exponential
 * backoff and jitter. `write(buf)` resolves when Node's write callback fired, i.e. the bytes
 * were handed to the kernel (TCP) or encrypted and handed to the kernel (TLS). Syslog has no
 * application ack: that is the strongest "delivered" a syslog sender can know.
 *
 * A receiver that closes an idle connection is noticed from the FIN (`end`) before the next
 * batch is written, so the next batch goes over a fresh connection instead of into a dead one.
 */
import net from 'node:net';
import tls from 'node:tls';
import { SinkError } from '../../errors.js';
import type { Logger } from '../../obs/log.js';

export interface StreamOptions {
  host: string;
  port: number;
  /** When set, the connection is TLS with these options. */
  tls?: tls.ConnectionOptions;
  connectTimeoutMs: number;
  writeTimeoutMs: number;
  reconnectMinMs: number;
  reconnectMaxMs: number;
  /** TLS 1.3: how long to wait after the handshake for the server to refuse us (default 500). */
  tlsSettleMs?: number;
  log: Logger;
}

/** TLS failures that a quick retry cannot fix: bad certificate, name, or protocol. */
const TLS_AUTH_CODES = new Set([
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'UNABLE_TO_GET_ISSUER_CERT', 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY', 'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN', 'CERT_HAS_EXPIRED', 'CERT_NOT_YET_VALID', 'ERR_TLS_CERT_ALTNAME_INVALID', 'CERT_UNTRUSTED',
  'CERT_REJECTED', 'CERT_SIGNATURE_FAILURE', 'ERR_SSL_WRONG_VERSION_NUMBER', 'ERR_SSL_TLSV1_ALERT_UNKNOWN_CA',
  'ERR_SSL_SSLV3_ALERT_BAD_CERTIFICATE', 'ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED', 'ERR_SSL_SSLV3_ALERT_HANDSHAKE_FAILURE',
  'ERR_SSL_TLSV1_ALERT_ACCESS_DENIED', 'ERR_SSL_SSLV3_ALERT_CERTIFICATE_UNKNOWN', 'ERR_TLS_REFUSED',
]);

export function isTlsAuthError(err: unknown): boolean {
  const code = (err as { code?: string } | undefined)?.code;
  return code !== undefined && TLS_AUTH_CODES.has(code);
}

export class StreamConnection {
  #sock: net.Socket | undefined;
  #connecting: Promise<net.Socket> | undefined;
  #delayMs = 0;
  #nextAttemptAt = 0;
  #closed = false;
  #pending = new Set<Promise<void>>();
  /** Connections made so far (tests read it to see reconnects). */
  connects = 0;

  constructor(private readonly o: StreamOptions) {}

  get label(): string {
    return `${this.o.tls ? 'tls' : 'tcp'}://${this.o.host.includes(':') ? `[${this.o.host}]` : this.o.host}:${this.o.port}`;
  }

  get connected(): boolean {
    return this.#sock !== undefined && !this.#sock.destroyed;
  }

  /** Connect now if not connected (no backoff wait); rejects with the connect error. */
  async connect(signal?: AbortSignal): Promise<void> {
    await this.#ensure(signal, false);
  }

  /** Write one buffer; resolves after the write callback. Rejects retryable SinkError on any failure. */
  write(buf: Buffer, signal: AbortSignal): Promise<void> {
    const p = this.#write(buf, signal);
    this.#pending.add(p);
    const done = (): void => void this.#pending.delete(p);
    p.then(done, done);
    return p;
  }

  async #write(buf: Buffer, signal: AbortSignal): Promise<void> {
    let sock: net.Socket;
    try {
      sock = await this.#ensure(signal, true);
    } catch (err) {
      throw toSinkError(err, `cannot connect to ${this.label}`);
    }
    await new Promise<void>((resolve, reject) => {
      let settled = false;
      const finish = (err?: unknown): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        sock.off('close', onClose);
        signal.removeEventListener('abort', onAbort);
        if (err) {
          this.#drop(sock, err);
          reject(toSinkError(err, `writing to ${this.label} failed`));
        } else resolve();
      };
      const onClose = (): void => finish(Object.assign(new Error('connection closed before the write completed'), { code: 'ECONNRESET' }));
      const onAbort = (): void => finish(Object.assign(new Error('aborted'), { code: 'ABORT_ERR' }));
      const timer = setTimeout(
        () => finish(Object.assign(new Error(`write not flushed within ${this.o.writeTimeoutMs} ms (receiver not reading?)`), { code: 'ETIMEDOUT' })),
        this.o.writeTimeoutMs,
      );
      sock.once('close', onClose);
      signal.addEventListener('abort', onAbort, { once: true });
      sock.write(buf, (err) => finish(err ?? undefined));
    });
  }

  async #ensure(signal: AbortSignal | undefined, waitBackoff: boolean): Promise<net.Socket> {
    if (this.#closed) throw Object.assign(new Error('sink is closed'), { code: 'ERR_CLOSED' });
    if (this.#sock && !this.#sock.destroyed) return this.#sock;
    if (!this.#connecting) {
      const wait = waitBackoff ? this.#nextAttemptAt - Date.now() : 0;
      this.#connecting = (async () => {
        if (wait > 0) await sleep(wait, signal);
        try {
          const s = await this.#open();
          this.#delayMs = 0;
          this.#nextAttemptAt = 0;
          return s;
        } catch (err) {
          this.#delayMs = Math.min(this.o.reconnectMaxMs, Math.max(this.o.reconnectMinMs, this.#delayMs * 2));
          this.#nextAttemptAt = Date.now() + this.#delayMs * (0.75 + Math.random() * 0.5);
          throw err;
        } finally {
          this.#connecting = undefined;
        }
      })();
    }
    return this.#connecting;
  }

  #open(): Promise<net.Socket> {
    return new Promise((resolve, reject) => {
      const { host, port } = this.o;
      const sock: net.Socket = this.o.tls
        ? tls.connect({ ...this.o.tls, host, port })
        : net.connect({ host, port });
      const readyEvent = this.o.tls ? 'secureConnect' : 'connect';
      const timer = setTimeout(() => {
        sock.destroy(Object.assign(new Error(`connect timed out after ${this.o.connectTimeoutMs} ms`), { code: 'ETIMEDOUT' }));
      }, this.o.connectTimeoutMs);
      let failed = false;
      const onError = (err: Error): void => {
        clearTimeout(timer);
        failed = true;
        sock.destroy();
        reject(err);
      };
      let handshook = false;
      sock.once('close', () => {
        if (failed || this.#sock === sock) return;
        const why = this.o.tls
          ? `the server closed the TLS connection ${handshook ? 'right after' : 'during'} the handshake (client certificate missing or refused? see tls.cert_file/key_file), or it is full`
          : 'the server closed the connection during setup';
        reject(Object.assign(new Error(why), { code: 'ECONNRESET' }));
      });
      sock.once('error', onError);
      sock.once(readyEvent, async () => {
        clearTimeout(timer);
        handshook = true;
        if (this.o.tls && (sock as tls.TLSSocket).getProtocol() === 'TLSv1.3') {
          // TLS 1.3: the client finishes its handshake before the server has checked the client
          // certificate, so a refusal (bad or missing client certificate) comes as an alert just
          // after. Bytes written before it would be "flushed" and silently dropped: wait for the
          // server's session ticket (sent once it accepted us) or a short while, whichever first.
          const refused = await new Promise<Error | undefined>((res) => {
            const done = (err?: Error): void => {
              clearTimeout(t);
              sock.off('session', ok);
              sock.off('close', closed);
              res(err);
            };
            // Leave the 'session' callback before writing: a write made from inside it (even a
            // microtask later) corrupts the TLS record stream (bad record MAC at the server).
            const ok = (): void => void setImmediate(() => done());
            const closed = (): void => done(Object.assign(new Error('the server closed the TLS connection right after the handshake (client certificate refused?)'), { code: 'ERR_TLS_REFUSED' }));
            const t = setTimeout(() => done(), this.o.tlsSettleMs ?? 500);
            sock.once('session', ok);
            sock.once('close', closed);
          });
          if (refused || sock.destroyed) return; // onError (or the close) already rejected
        }
        sock.off('error', onError);
        sock.setNoDelay(true);
        sock.setKeepAlive(true, 30_000);
        // A syslog receiver sends nothing; read (and drop) anything so the socket never stalls,
        // and treat its FIN as "this connection is gone" before the next batch is written.
        sock.on('data', () => {});
        sock.on('end', () => this.#drop(sock, new Error('the receiver closed the connection')));
        sock.on('error', (err) => this.#drop(sock, err));
        this.#sock = sock;
        this.connects++;
        this.o.log.info('Connected to the syslog receiver.', { target: this.label, connects: this.connects });
        resolve(sock);
      });
    });
  }

  #drop(sock: net.Socket, err: unknown): void {
    if (this.#sock === sock) {
      this.#sock = undefined;
      if (!this.#closed) this.o.log.warn('Syslog connection lost; the next batch reconnects with backoff.', { target: this.label, error: err });
    }
    sock.destroy();
  }

  async close(deadlineMs: number): Promise<void> {
    const left = Math.max(0, deadlineMs - Date.now());
    if (this.#pending.size) await Promise.race([Promise.allSettled([...this.#pending]), sleep(left).catch(() => {})]);
    this.#closed = true;
    const sock = this.#sock;
    this.#sock = undefined;
    if (!sock || sock.destroyed) return;
    await new Promise<void>((resolve) => {
      const t = setTimeout(() => {
        sock.destroy();
        resolve();
      }, Math.max(0, deadlineMs - Date.now()));
      sock.once('close', () => {
        clearTimeout(t);
        resolve();
      });
      sock.end();
    });
  }
}

export function toSinkError(err: unknown, what: string): SinkError {
  if (err instanceof SinkError) return err;
  const code = (err as { code?: string } | undefined)?.code;
  const msg = err instanceof Error ? err.message : String(err);
  if (isTlsAuthError(err)) {
    return new SinkError('DLB_SINK_SYSLOG_TLS', `${what}: TLS verification failed (${code}: ${msg}); check tls.ca_file, the server certificate and its name`, { retryable: true, cause: err });
  }
  return new SinkError('DLB_SINK_SYSLOG_IO', `${what}: ${code ? code + ': ' : ''}${msg}`, { retryable: true, cause: err });
}

export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(Object.assign(new Error('aborted'), { code: 'ABORT_ERR' }));
    const t = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, Math.max(0, ms));
    const onAbort = (): void => {
      clearTimeout(t);
      reject(Object.assign(new Error('aborted'), { code: 'ABORT_ERR' }));
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
