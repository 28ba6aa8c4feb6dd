/** The one owner of retry timing. Pure: exponential growth, full jitter, a cap, never below the server's hint. */
export interface BackoffOptions {
  initialMs: number;
  maxMs: number;
}

/** Delay before retry number `attempt` (1-based). `random` is injectable for tests. */
export function backoffDelay(attempt: number, o: BackoffOptions, hintMs = 0, random: () => number = Math.random): number {
  const ceiling = Math.min(o.maxMs, o.initialMs * 2 ** Math.min(attempt - 1, 30));
  // Full jitter, but never less than half the ceiling, so retries still back off.
  const d = ceiling / 2 + random() * (ceiling / 2);
  return Math.max(Math.round(d), hintMs);
}
