/**
 * Request pacing per Duo endpoint: at least `intervalMs` between request starts. Duo allows
 * about two log requests a minute per log and sends no Retry-After, so after a 429 the pace
 * halves (interval doubles, up to `maxIntervalMs`) and recovers by 10% per success.
 * Pacers are keyed by API host + path, so MSP children on one host share a budget.
 */
import { sleep } from '../util/time.js';

export class Pacer {
  #next = 0;
  #interval: number;
  constructor(
    private readonly baseMs: number,
    private readonly maxIntervalMs: number,
    private readonly now: () => number = Date.now,
  ) {
    this.#interval = baseMs;
  }

  get intervalMs(): number {
    return this.#interval;
  }

  /** Wait for this endpoint's turn, then reserve the slot. */
  async turn(signal?: AbortSignal): Promise<void> {
    for (;;) {
      const wait = this.#next - this.now();
      if (wait <= 0) break;
      await sleep(wait, signal);
      if (signal?.aborted) return;
    }
    this.#next = this.now() + this.#interval;
  }

  rateLimited(): void {
    this.#interval = Math.min(this.maxIntervalMs, Math.max(this.#interval * 2, this.baseMs, 1000));
    this.#next = Math.max(this.#next, this.now() + this.#interval);
  }

  succeeded(): void {
    if (this.#interval > this.baseMs) this.#interval = Math.max(this.baseMs, Math.floor(this.#interval * 0.9));
  }
}
