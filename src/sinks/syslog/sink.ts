/**
 * `output: {type: syslog}`: every event becomes one syslog message (RFC 5424 or RFC 3164
 * header with the event's own time, msgid = log type) carrying the JSON line or a CEF line,
 * sent over UDP (RFC 5426), TCP (RFC 6587) or TLS (RFC 5425).
 *
 * Delivery: syslog has NO acknowledgement. `send` resolves once the batch's bytes were written
 * and flushed to the socket (TCP/TLS write callback; UDP send callback per datagram), and only
 * then does the pipeline move the checkpoint. Bytes in the kernel's buffer when a connection
 * breaks can be lost without either side knowing; a failed write rejects (retryable), so the
 * whole batch is sent again on a new connection (duplicates are possible, silent gaps from a
 * failed write are not).
 *
 * UDP never truncates: a message longer than `udp_max_bytes` goes over the configured TCP/TLS
 * fallback (logged), or, with `udp_oversize: refuse`, stops the bridge with the event named.
 */
import dgram from 'node:dgram';
import { lookup } from 'node:dns/promises';
import { readFile } from 'node:fs/promises';
import type tls from 'node:tls';
import { SinkError } from '../../errors.js';
import { cefLine } from '../../format/cef.js';
import type { DuoEvent } from '../../format/event.js';
import { encodeSyslog, frame, type SyslogHeader } from '../../format/syslog.js';
import type { Batch, Sink, SinkContext } from '../types.js';
import type { SyslogConfig } from './config.js';
import { isTlsAuthError, sleep, StreamConnection, toSinkError } from './stream.js';

/** Severity for `severity: auto`: what a SOC would want to see first ranks higher. */
export function autoSeverity(e: DuoEvent): number {
  const r = e.record;
  const result = String(r.result ?? (r.outcome as { result?: unknown } | undefined)?.result ?? '').toLowerCase();
  if (result === 'fraud' || r.priority_event === true) return 4; // warning
  if (result === 'denied' || result === 'failure' || result === 'error') return 5; // notice
  return 6; // info
}

export class SyslogSink implements Sink {
  readonly type = 'syslog';
  readonly #cfg: SyslogConfig;
  readonly #ctx: SinkContext;
  readonly #header: Omit<SyslogHeader, 'severity'>;
  #stream: StreamConnection | undefined;
  #udp: dgram.Socket | undefined;
  #udpReady: Promise<dgram.Socket> | undefined;
  #tlsOptions: tls.ConnectionOptions | undefined;
  /** Counters, for tests and metrics. */
  readonly stats = { messages: 0, bytes: 0, udpDatagrams: 0, udpOversizeFallbacks: 0 };

  constructor(cfg: SyslogConfig, ctx: SinkContext) {
    this.#cfg = cfg;
    this.#ctx = ctx;
    this.#header = {
      format: cfg.format,
      facility: cfg.facility,
      hostname: cfg.hostname ?? ctx.hostname,
      appName: cfg.appName,
      procId: String(process.pid),
      timezone: cfg.timezone,
    };
  }

  /** The syslog message (header + JSON or CEF), unframed. */
  encode(e: DuoEvent): string {
    const sev = this.#cfg.severity === 'auto' ? autoSeverity(e) : this.#cfg.severity;
    const body = this.#cfg.message === 'cef' ? cefLine(e) : e.json;
    return encodeSyslog({ ...this.#header, severity: sev }, e.timeUs, e.logType, body);
  }

  async start(): Promise<void> {
    const c = this.#cfg;
    if (c.tls) this.#tlsOptions = await this.#loadTls();
    if (c.tls && !c.tls.verify) {
      this.#ctx.log.warn('TLS verification is off (output.tls.verify: false): anyone on the path can read and change the Duo logs. Give output.tls.ca_file instead.', { host: c.host });
    }
    const streamProto = c.protocol === 'udp' ? (c.udpOversize === 'tcp' || c.udpOversize === 'tls' ? c.udpOversize : undefined) : c.protocol;
    if (streamProto) {
      this.#stream = new StreamConnection({
        host: c.host,
        port: c.protocol === 'udp' ? (c.udpFallbackPort ?? c.port) : c.port,
        tls: streamProto === 'tls' ? this.#tlsOptions : undefined,
        connectTimeoutMs: c.connectTimeoutMs,
        writeTimeoutMs: c.writeTimeoutMs,
        reconnectMinMs: c.reconnectMinMs,
        reconnectMaxMs: c.reconnectMaxMs,
        log: this.#ctx.log,
      });
    }
    if (c.protocol === 'udp') {
      try {
        await this.#udpSocket();
      } catch (err) {
        this.#ctx.log.warn('Cannot resolve the syslog host yet; will retry on the first batch.', { host: c.host, error: err });
      }
      return;
    }
    try {
      await this.#stream!.connect();
    } catch (err) {
      if (isTlsAuthError(err)) {
        throw new SinkError('DLB_SINK_SYSLOG_TLS', `TLS to ${this.#stream!.label} failed verification: ${(err as Error).message}. Check tls.ca_file (the CA that signed the receiver's certificate) and that the certificate names ${c.tls?.servername ?? c.host}.`, { retryable: false, cause: err });
      }
      // The receiver may just be down: batches wait for it with backoff.
      this.#ctx.log.warn('Syslog receiver not reachable yet; batches will wait for it.', { target: this.#stream!.label, error: err });
    }
  }

  async #loadTls(): Promise<tls.ConnectionOptions> {
    const t = this.#cfg.tls!;
    const read = async (key: string, file: string | undefined): Promise<Buffer | undefined> => {
      if (file === undefined) return undefined;
      try {
        return await readFile(file);
      } catch (err) {
        throw new SinkError('DLB_SINK_SYSLOG_TLS_FILE', `output.tls.${key}: cannot read ${file} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`, { retryable: false, cause: err });
      }
    };
    return {
      ca: await read('ca_file', t.caFile),
      cert: await read('cert_file', t.certFile),
      key: await read('key_file', t.keyFile),
      rejectUnauthorized: t.verify,
      servername: t.servername ?? (/^[\d.:]+$/.test(this.#cfg.host) ? undefined : this.#cfg.host),
      minVersion: 'TLSv1.2',
    };
  }

  #udpSocket(): Promise<dgram.Socket> {
    if (this.#udp) return Promise.resolve(this.#udp);
    this.#udpReady ??= (async () => {
      const { address, family } = await lookup(this.#cfg.host);
      const sock = dgram.createSocket(family === 6 ? 'udp6' : 'udp4');
      sock.on('error', (err) => this.#ctx.log.warn('Syslog UDP socket error.', { error: err }));
      await new Promise<void>((resolve, reject) => {
        sock.once('error', reject);
        // A connected UDP socket reports the receiver's ICMP "port unreachable" as ECONNREFUSED.
        sock.connect(this.#cfg.port, address, () => {
          sock.off('error', reject);
          resolve();
        });
      });
      this.#udp = sock;
      return sock;
    })().finally(() => {
      this.#udpReady = undefined;
    });
    return this.#udpReady;
  }

  async send(batch: Batch, signal: AbortSignal): Promise<void> {
    if (this.#cfg.protocol === 'udp') return this.#sendUdp(batch, signal);
    const framing = this.#cfg.framing;
    const parts: Buffer[] = [];
    for (const e of batch.events) parts.push(frame(this.encode(e), framing));
    const buf = Buffer.concat(parts);
    await this.#stream!.write(buf, signal);
    this.stats.messages += batch.events.length;
    this.stats.bytes += buf.length;
  }

  async #sendUdp(batch: Batch, signal: AbortSignal): Promise<void> {
    const c = this.#cfg;
    let sock: dgram.Socket;
    try {
      sock = await this.#udpSocket();
    } catch (err) {
      throw toSinkError(err, `cannot resolve syslog host ${c.host}`);
    }
    const sends: Promise<void>[] = [];
    const oversize: Buffer[] = [];
    for (const e of batch.events) {
      const msg = this.encode(e);
      const buf = Buffer.from(msg, 'utf8');
      if (buf.length <= c.udpMaxBytes) {
        sends.push(
          new Promise<void>((resolve, reject) => sock.send(buf, (err) => (err ? reject(toSinkError(err, `UDP send to ${c.host}:${c.port} failed`)) : resolve()))),
        );
        this.stats.udpDatagrams++;
        continue;
      }
      if (c.udpOversize === 'refuse') {
        await Promise.allSettled(sends);
        throw new SinkError(
          'DLB_SINK_SYSLOG_UDP_OVERSIZE',
          `${e.logType} event ${e.id} is ${buf.length} bytes as a syslog message, over udp_max_bytes ${c.udpMaxBytes}; ` +
            'udp_oversize is "refuse", so the bridge stops rather than truncate it. Raise udp_max_bytes (if the receiver accepts larger datagrams), or set udp_oversize to tcp or tls.',
          { retryable: false },
        );
      }
      this.#ctx.log.warn('Event too large for one UDP datagram; sending it over the stream fallback.', {
        logType: e.logType, id: e.id, bytes: buf.length, udp_max_bytes: c.udpMaxBytes, fallback: this.#stream!.label,
      });
      this.stats.udpOversizeFallbacks++;
      oversize.push(frame(msg, c.framing));
    }
    if (oversize.length) sends.push(this.#stream!.write(Buffer.concat(oversize), signal));
    const results = await Promise.allSettled(sends);
    const failed = results.find((x): x is PromiseRejectedResult => x.status === 'rejected');
    if (failed) throw failed.reason instanceof SinkError ? failed.reason : toSinkError(failed.reason, 'syslog send failed');
    this.stats.messages += batch.events.length;
  }

  async close(deadlineMs: number): Promise<void> {
    const deadline = toDeadline(deadlineMs);
    await this.#stream?.close(deadline);
    const u = this.#udp;
    this.#udp = undefined;
    if (u) await Promise.race([new Promise<void>((r) => u.close(() => r())), sleep(Math.max(0, deadline - Date.now()))]).catch(() => {});
  }
}

/** `close(deadlineMs)`: an absolute epoch-ms deadline, or (when small) a duration in ms. */
export function toDeadline(deadlineMs: number): number {
  return deadlineMs > 1e12 ? deadlineMs : Date.now() + Math.max(0, deadlineMs);
}
