/** A counting semaphore: bounds how many Duo pages are held in memory at once, across every log and account. */
export class Semaphore {
  #free: number;
  readonly #waiters: (() => void)[] = [];
  constructor(permits: number) {
    this.#free = permits;
  }

  async acquire(): Promise<() => void> {
    if (this.#free > 0) this.#free--;
    else await new Promise<void>((resolve) => this.#waiters.push(resolve));
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const next = this.#waiters.shift();
      if (next) next();
      else this.#free++;
    };
  }
}
