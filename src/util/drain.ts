/**
 * Graceful close for sinks with requests in flight: wait until the sink reports idle (it calls
 * every function pushed onto `idleWaiters`), or until the deadline, whichever comes first.
 */
export async function untilIdleOrDeadline(idleWaiters: (() => void)[], deadlineMs: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([
    new Promise<void>((resolve) => idleWaiters.push(resolve)),
    new Promise<void>((resolve) => (timer = setTimeout(resolve, Math.max(0, deadlineMs)))),
  ]);
  clearTimeout(timer);
}
