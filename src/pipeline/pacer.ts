/**
 * Request pacing per Duo endpoint: at least `intervalMs` between request starts. Duo allows
 * about two log requests a minute per log and sends no Retry-After, so after a 429 the pace
 * halves (interval doubles, up to `maxIntervalMs`) and recovers by 10% per success, but never
 * faster than 1.5 times the pace that drew the last 429 (a learned floor that relaxes slowly).
 * Pacers are keyed by API host + path, so MSP children on one host share a budget.
 */
import { sleep } from '../util/time.js';

export class Pacer {
  #next = 0;
  #interval: number;
  /** The slowest pace that still drew a 429, times 1.5: successes never speed up past it. Halves every 10 quiet minutes. */
  #floor = 0;
  #floorSetAt = 0;

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
      const now = this.now();
      // The wall clock stepped back (NTP correction, VM resumed): a slot reserved before the
      // step lies that far in the future. Never wait more than one interval for it.
      if (this.#next - now > this.#interval) this.#next = now + this.#interval;
      const wait = this.#next - now;
      if (wait <= 0) break;
      await sleep(wait, signal);
      if (signal?.aborted) return;
    }
    this.#next = this.now() + this.#interval;
  }

  rateLimited(): void {
    this.#floor = Math.min(this.maxIntervalMs, Math.max(this.#floor, this.#interval * 1.5, 50));
    this.#floorSetAt = this.now();
    this.#interval = Math.min(this.maxIntervalMs, Math.max(this.#interval * 2, this.#floor, 100));
    this.#next = Math.max(this.#next, this.now() + this.#interval);
  }

  succeeded(): void {
    if (this.#floor > 0 && this.now() - this.#floorSetAt > 600_000) {
      this.#floor /= 2;
      this.#floorSetAt = this.now();
    }
    if (this.#interval > this.baseMs) this.#interval = Math.max(this.baseMs, this.#floor, Math.floor(this.#interval * 0.9));
  }
}
