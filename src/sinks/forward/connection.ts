/**
 * Keeps one established @fluent-org/logger client to Fluentd, forever.
 *
 * The library's own reconnect is switched off (`disableReconnect`): after an unexpected server
 * reply or a failed handshake its socket goes FATAL and never reconnects, and after a dropped
 * connection its unacked chunks linger until the ack timeout. Instead, every lost, refused,
 * timed-out or FATAL connection retires that client (its in-flight batches fail as retryable
 * at once, see `onRetire`) and a new client is created after a capped exponential backoff
 * with jitter. The wait is logged: the first failure, then a reminder every 30 s.
 *
 * Errors that retrying cannot fix (shared key or user rejected, the server wants a handshake
 * we are not configured for, an untrusted TLS certificate) are permanent: waiting sends
 * reject with a non-retryable SinkError that says what to change, and no reconnect happens.
 *
 * States: idle -> connecting (TCP/TLS) -> handshaking (only with security) -> ready;
 * any -> waiting (backoff) -> connecting; any -> failed (permanent) | closed (close()).
 */
import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import type { ConnectionOptions } from 'node:tls';
import { FluentClient, FluentSocketEvent, type FluentClientOptions } from '@fluent-org/logger';
import { SinkError } from '../../errors.js';
import type { Logger } from '../../obs/log.js';
import type { ForwardConfig } from './config.js';
import { abandonClient, checkClientShape } from './client-internals.js';
import { classifyClientError } from './errors.js';

type State = 'idle' | 'connecting' | 'handshaking' | 'ready' | 'waiting' | 'failed' | 'closed';

interface Waiter {
  resolve(client: FluentClient): void;
  reject(err: Error): void;
}

const REMIND_EVERY_MS = 30_000;

export class ForwardConnection {
  #state: State = 'idle';
  #client: FluentClient | undefined;
  #timer: NodeJS.Timeout | undefined;
  #attempt = 0;
  #lastError: Error | undefined;
  #permanent: SinkError | undefined;
  #waiters = new Set<Waiter>();
  #firstOutcome: Array<{ resolve(): void; reject(err: Error): void }> = [];
  #downSince: number | undefined;
  #lastReminder = 0;
  /** Working connections dropped, replaced or recycled since the last ack: grows the delay. */
  #streak = 0;
  #lastRecreateLog = 0;
  #tlsOptions: ConnectionOptions | undefined;
  /** Counters, for logs and tests. */
  readonly stats = { connects: 0, failedAttempts: 0, lost: 0, recreatedAfterFatal: 0, recycled: 0 };

  constructor(
    private readonly cfg: ForwardConfig,
    private readonly log: Logger,
    /** Called synchronously when a client is retired: fail every batch it still holds with `err`. */
    private readonly onRetire: (client: FluentClient, err: SinkError) => void,
  ) {}

  get endpoint(): string {
    return `${this.cfg.host}:${this.cfg.port}`;
  }

  /** True while a client is established (acks can still arrive). */
  get isReady(): boolean {
    return this.#state === 'ready';
  }

  get permanentError(): SinkError | undefined {
    return this.#permanent;
  }

  /** Starts connecting; resolves after the first attempt's outcome (ready or a transient failure). */
  start(): Promise<void> {
    if (this.#permanent) return Promise.reject(this.#permanent);
    if (this.#state === 'ready') return Promise.resolve();
    const p = new Promise<void>((resolve, reject) => this.#firstOutcome.push({ resolve, reject }));
    if (this.#state === 'idle') this.#connect();
    return p;
  }

  /** The established client; waits (forever, unless aborted) while Fluentd is unreachable. */
  ready(signal?: AbortSignal): Promise<FluentClient> {
    if (this.#permanent) return Promise.reject(this.#permanent);
    if (this.#state === 'closed') return Promise.reject(closedError());
    if (this.#state === 'ready' && this.#client) return Promise.resolve(this.#client);
    if (this.#state === 'idle') this.#connect();
    return new Promise<FluentClient>((resolve, reject) => {
      const onAbort = () => {
        this.#waiters.delete(w);
        reject(new SinkError('DLB_SINK_ABORTED', 'Stopped while waiting for Fluentd.', { retryable: true }));
      };
      const w: Waiter = {
        resolve: (c) => (signal?.removeEventListener('abort', onAbort), resolve(c)),
        reject: (e) => (signal?.removeEventListener('abort', onAbort), reject(e)),
      };
      if (signal?.aborted) return onAbort();
      signal?.addEventListener('abort', onAbort, { once: true });
      this.#waiters.add(w);
    });
  }

  /** Drop this client's connection (e.g. an ack timed out: the connection is suspect) and reconnect. */
  recycle(client: FluentClient, why: string): void {
    if (client !== this.#client) return;
    this.stats.recycled++;
    this.#retire(client, new Error(why), 'recycle');
  }

  close(): void {
    if (this.#state === 'closed') return;
    const client = this.#client;
    this.#state = 'closed';
    clearTimeout(this.#timer);
    this.#client = undefined;
    if (client) this.#dispose(client, closedError());
    for (const w of this.#waiters) w.reject(closedError());
    this.#waiters.clear();
    for (const f of this.#firstOutcome.splice(0)) f.reject(closedError());
  }

  #connect(): void {
    this.#state = 'connecting';
    this.#attempt++;
    let client: FluentClient;
    try {
      client = new FluentClient(null, this.#clientOptions());
      checkClientShape(client);
    } catch (err) {
      this.#fail(new SinkError('DLB_SINK_FORWARD_CONFIG', `Cannot set up the forward client: ${(err as Error).message}`, { cause: err }));
      return;
    }
    this.#client = client;
    const current = () => client === this.#client;
    client.socketOn(FluentSocketEvent.CONNECTED, () => {
      if (current() && this.#state === 'connecting' && this.cfg.security) this.#state = 'handshaking';
    });
    client.socketOn(FluentSocketEvent.ESTABLISHED, () => {
      if (current()) this.#established();
    });
    client.socketOn(FluentSocketEvent.ERROR, (err: Error) => {
      if (!current()) return;
      this.#lastError = err;
      const c = classifyClientError(err, this.cfg, this.endpoint);
      if (c.kind === 'permanent') this.#fail(c.error);
      else if (c.kind === 'recreate') {
        this.stats.recreatedAfterFatal++;
        const now = Date.now();
        if (now - this.#lastRecreateLog >= REMIND_EVERY_MS) {
          this.#lastRecreateLog = now;
          this.log.warn('The forward client entered a state it never leaves; recreating it.', {
            endpoint: this.endpoint,
            reason: c.reason,
            error: err,
            times: this.stats.recreatedAfterFatal,
          });
        }
        this.#retire(client, err, 'recreate');
      }
    });
    client.socketOn(FluentSocketEvent.ACK, () => {
      if (current()) this.#streak = 0;
    });
    client.socketOn(FluentSocketEvent.CLOSE, () => {
      if (current()) this.#retire(client, this.#lastError ?? new Error('connection closed by the server'), this.#state === 'ready' ? 'lost' : 'attempt');
    });
    clearTimeout(this.#timer);
    this.#timer = setTimeout(() => {
      if (current() && (this.#state === 'connecting' || this.#state === 'handshaking')) {
        const what = this.#state === 'handshaking' ? 'shared-key handshake' : 'connection';
        this.#retire(client, new Error(`${what} not completed within ${this.cfg.connectTimeoutMs / 1000} s`), 'attempt');
      }
    }, this.cfg.connectTimeoutMs);
    this.#timer.unref();
    this.#lastError = undefined;
    client.connect().catch(() => {
      // Reported through the ERROR and CLOSE socket events above.
    });
  }

  #established(): void {
    clearTimeout(this.#timer);
    this.#state = 'ready';
    this.stats.connects++;
    const fields: Record<string, unknown> = { endpoint: this.endpoint, tls: !!this.cfg.tls, shared_key: !!this.cfg.security };
    if (this.#downSince !== undefined) {
      fields.waited_secs = Math.round((Date.now() - this.#downSince) / 100) / 10;
      fields.attempts = this.#attempt;
      this.log.info('Connected to Fluentd again.', fields);
    } else this.log.info('Connected to Fluentd.', fields);
    this.#attempt = 0;
    this.#downSince = undefined;
    this.#lastReminder = 0;
    const client = this.#client!;
    for (const w of this.#waiters) w.resolve(client);
    this.#waiters.clear();
    for (const f of this.#firstOutcome.splice(0)) f.resolve();
  }

  /** Takes `client` out of service, fails what it holds, and schedules the next connection. */
  #retire(client: FluentClient, err: Error, why: 'lost' | 'attempt' | 'recreate' | 'recycle'): void {
    if (client !== this.#client) return;
    const wasReady = this.#state === 'ready';
    this.#client = undefined;
    clearTimeout(this.#timer);
    this.#dispose(
      client,
      this.#permanent ??
        new SinkError('DLB_SINK_FORWARD_DISCONNECTED', `The connection to Fluentd at ${this.endpoint} ended before it acknowledged the batch (${describeError(err)}); the batch will be resent.`, {
          retryable: true,
          cause: err,
        }),
    );
    if (this.#state === 'failed' || this.#state === 'closed') return;
    const now = Date.now();
    this.#downSince ??= now;
    let delay: number;
    if (wasReady || why === 'recycle' || why === 'recreate') {
      // A working connection went away: try again soon, unless it keeps happening without a
      // single ack in between (a peer that drops or garbles every chunk): then back off too.
      if (wasReady) this.stats.lost++;
      this.#attempt = 0;
      const { initialDelayMs, maxDelayMs } = this.cfg.reconnect;
      delay = Math.min(maxDelayMs, initialDelayMs * 2 ** Math.min(this.#streak++, 30)) * (0.5 + Math.random() / 2);
      this.log.warn(why === 'lost' ? 'The connection to Fluentd was lost; reconnecting.' : 'Reconnecting to Fluentd.', {
        endpoint: this.endpoint,
        reason: why,
        error: describeError(err),
        retry_in_secs: round(delay / 1000),
      });
    } else {
      this.stats.failedAttempts++;
      const { initialDelayMs, maxDelayMs } = this.cfg.reconnect;
      const capped = Math.min(maxDelayMs, initialDelayMs * 2 ** Math.min(this.#attempt - 1, 30));
      delay = capped * (0.5 + Math.random() / 2);
      if (this.#attempt === 1 || now - this.#lastReminder >= REMIND_EVERY_MS) {
        this.#lastReminder = now;
        this.log.warn(this.#attempt === 1 ? 'Cannot reach Fluentd; waiting for it.' : 'Still waiting for Fluentd.', {
          endpoint: this.endpoint,
          error: describeError(err),
          attempts: this.#attempt,
          waiting_secs: round((now - this.#downSince) / 1000),
          retry_in_secs: round(delay / 1000),
        });
      }
    }
    for (const f of this.#firstOutcome.splice(0)) f.resolve();
    this.#state = 'waiting';
    this.#timer = setTimeout(() => {
      if (this.#state === 'waiting') this.#connect();
    }, delay);
  }

  #fail(err: SinkError): void {
    if (this.#state === 'failed' || this.#state === 'closed') return;
    this.#permanent = err;
    const client = this.#client;
    this.#state = 'failed';
    this.#client = undefined;
    clearTimeout(this.#timer);
    this.log.error('Fluentd refused the connection for a reason retrying cannot fix.', { endpoint: this.endpoint, error: err.message, error_code: err.code });
    if (client) this.#dispose(client, err);
    for (const w of this.#waiters) w.reject(err);
    this.#waiters.clear();
    for (const f of this.#firstOutcome.splice(0)) f.reject(err);
  }

  #dispose(client: FluentClient, err: SinkError): void {
    this.onRetire(client, err);
    abandonClient(client, err.message);
  }

  #clientOptions(): FluentClientOptions {
    const cfg = this.cfg;
    const opts: FluentClientOptions = {
      eventMode: cfg.compress === 'gzip' ? 'CompressedPackedForward' : 'PackedForward',
      socket: {
        host: cfg.host,
        port: cfg.port,
        // -1 = no idle timeout. The library's default 3 s would close the connection while a
        // chunk waits for a slow ack (Fluentd's buffer blocking), losing that ack.
        timeout: -1,
        disableReconnect: true,
        // Keep writing into Node's socket buffer: its size is bounded by max_events_in_flight,
        // and a DRAINING socket would merge later emits into one oversized packet.
        notWritableWhenDraining: false,
      },
      ack: { ackTimeout: cfg.ackTimeoutMs },
      flushInterval: 0,
      // A safety net only: the sink never has more than max_events_in_flight emitted. Should it
      // ever trigger, the dropped events' batch rejects (DroppedError) and is resent: no loss.
      sendQueueMaxLimit: { length: cfg.maxEventsInFlight },
      // No eventRetry: the pipeline resends whole batches; a retry behind its back would keep
      // events in memory past the batch and could reorder them.
      disableAutoconnect: true,
    };
    if (cfg.tls) opts.socket!.tls = this.#tls();
    if (cfg.security) {
      opts.security = {
        clientHostname: cfg.security.selfHostname,
        sharedKey: cfg.sharedKey ?? '',
        username: cfg.security.username ?? '',
        password: cfg.password ?? '',
      };
    }
    return opts;
  }

  #tls(): ConnectionOptions {
    if (this.#tlsOptions) return this.#tlsOptions;
    const t = this.cfg.tls!;
    const o: ConnectionOptions = { rejectUnauthorized: t.verify };
    if (t.caFile) o.ca = readFileSync(t.caFile);
    if (t.certFile) o.cert = readFileSync(t.certFile);
    if (t.keyFile) o.key = readFileSync(t.keyFile);
    // Node checks the certificate against `servername`, else `host` (IP addresses via IP SANs).
    const name = t.servername ?? (isIP(this.cfg.host) ? undefined : this.cfg.host);
    if (name) o.servername = name;
    return (this.#tlsOptions = o);
  }
}

function closedError(): SinkError {
  return new SinkError('DLB_SINK_CLOSED', 'The forward output is closed.', { retryable: true });
}

export function describeError(err: Error): string {
  const code = (err as NodeJS.ErrnoException).code;
  return code && !err.message.includes(code) ? `${code}: ${err.message}` : err.message;
}

function round(n: number): number {
  return Math.round(n * 10) / 10;
}

