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
import { FluentError, type FluentClient } from '@fluent-org/logger';

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
