/**
 * The one place that reaches inside @fluent-org/logger 1.0.10 (unmaintained since 2022-09,
 * so these fields are frozen). Read against node_modules/@fluent-org/logger/src/client.ts:
 *
 * - After a connection drops, the library keeps each unacked chunk in `ackQueue` until its
 *   `ackTimeout` fires (60 s for us), and `shutdown()` only clears it after `socket.end()`
 *   calls back, which never happens on a socket that is already destroyed or still
 *   connecting. The pending timers would then hold the process open and settle late.
 * - So to abandon a client we do what `shutdown()` does, without waiting on the socket:
 *   destroy the socket in the FATAL state (so it can never reconnect), reject every pending
 *   ack with the library's own AckShutdownError (clearing its timer), and clear the send
 *   queue (QueueShutdownError). The caller has already failed its batches as retryable.
 */
import { createRequire } from 'node:module';
import { EventTime, FluentError, type FluentClient } from '@fluent-org/logger';
import { EntryPacker } from './msgpack.js';

interface AckData {
  timeoutId: NodeJS.Timeout;
  deferred: { reject(err: Error): void };
}
interface Internals {
  socket: { close(state: number, error?: Error): void };
  ackQueue: Map<string, AckData>;
  sendQueue: { clear(): void };
}

/** CloseState.FATAL in src/socket.ts: "Make the socket unable to reconnect". */
const CLOSE_FATAL = 0;

function internals(client: FluentClient): Internals {
  const c = client as unknown as Partial<Internals>;
  if (!c.socket || typeof c.socket.close !== 'function' || !(c.ackQueue instanceof Map) || !c.sendQueue || typeof c.sendQueue.clear !== 'function') {
    throw new Error('@fluent-org/logger internals changed (socket/ackQueue/sendQueue); re-check src/sinks/forward/client-internals.ts against the installed version');
  }
  return c as Internals;
}

/** Fails fast at startup if the installed library does not have the shape this file expects. */
export function checkClientShape(client: FluentClient): void {
  internals(client);
}

/** Destroys the client's connection for good and settles everything it still holds. Synchronous. */
export function abandonClient(client: FluentClient, reason: string): void {
  const c = internals(client);
  try {
    c.socket.close(CLOSE_FATAL);
  } catch {
    // already closed
  }
  const acks = [...c.ackQueue.values()];
  c.ackQueue.clear();
  for (const a of acks) {
    clearTimeout(a.timeoutId);
    a.deferred.reject(new FluentError.AckShutdownError(reason));
  }
  c.sendQueue.clear();
}

/**
 * Speed: the library packs every event with a brand-new msgpack Encoder (a 2 KiB buffer, a
 * DataView and an ExtensionCodec lookup each time: `encoder()` in src/protocol.ts); in a
 * profile of a 150,000-event backfill that constructor and its garbage were ~10% of the
 * bridge's CPU. Its modes call `protocol.packEntry` through the module's exports object, so
 * we swap in one long-lived Encoder with the same EventTime extension. @msgpack/msgpack 2.8's
 * `encode()` returns a copy (`bytes.slice`), so sharing the encoder is safe; the output is
 * byte-identical (checked in test/sinks/forward.test.ts).
 */

interface ProtocolModule {
  packEntry(entry: unknown): Uint8Array;
  encodeMessage(message: unknown): Uint8Array;
}
interface MsgpackModule {
  Encoder: new (codec: unknown, context: undefined, maxDepth: number, initialBufferSize: number) => { encode(v: unknown): Uint8Array };
  ExtensionCodec: new () => { register(ext: { type: number; encode(o: unknown): Uint8Array | null; decode(d: Uint8Array): unknown }): void };
}
const requireHere = createRequire(import.meta.url);
const protocolModule = requireHere('@fluent-org/logger/build/src/protocol.js') as ProtocolModule;
// The msgpack the library itself loads (resolved from its own folder, so no dependency of ours).
const { Encoder, ExtensionCodec } = createRequire(requireHere.resolve('@fluent-org/logger'))('@msgpack/msgpack') as MsgpackModule;
export const libraryPackEntry = protocolModule.packEntry;
export const libraryEncodeMessage = protocolModule.encodeMessage;
let installed = false;

export function sharedEntryEncoder(initialBufferSize = 64 * 1024): (entry: unknown) => Uint8Array {
  const codec = new ExtensionCodec();
  codec.register({
    type: 0,
    encode: (o: unknown) => {
      if (!(o instanceof EventTime)) return null;
      const b = Buffer.allocUnsafe(8);
      b.writeUInt32BE(o.epoch, 0);
      b.writeUInt32BE(o.nano, 4);
      return b;
    },
    decode: (d: Uint8Array) => d,
  });
  const enc = new Encoder(codec, undefined, 100, initialBufferSize);
  return (entry) => enc.encode(entry);
}

/**
 * Idempotent. Installs EntryPacker (./msgpack.ts), which falls back to a shared general
 * encoder for values it does not handle; leaves the library alone if its shape differs.
 */
export function installSharedEntryEncoder(): void {
  if (installed || typeof protocolModule.packEntry !== 'function') return;
  installed = true;
  protocolModule.packEntry = fastEntryEncoder();
  // Whole packets too: a fresh Encoder starts at 2 KiB and doubles (copying) up to each ~0.5 MiB
  // chunk; one long-lived encoder starts big and is reused (it keeps its largest size).
  if (typeof protocolModule.encodeMessage === 'function') protocolModule.encodeMessage = sharedEntryEncoder(1024 * 1024);
}

/** EntryPacker first, the shared general encoder for anything it declines. */
export function fastEntryEncoder(): (entry: unknown) => Uint8Array {
  const fast = new EntryPacker();
  const general = sharedEntryEncoder();
  return (entry) => fast.pack(entry) ?? general(entry);
}
