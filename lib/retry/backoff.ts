// Exponential retry delays: doubling from an initial delay up to a cap, reset after a success. One
// class for every reconnecting client (ZDS, xDS, informers take their own numbers).

export interface BackoffOptions {
  initialMs?: number;
  maxMs?: number;
}

export class Backoff {
  readonly initialMs: number;
  readonly maxMs: number;
  #current: number;

  /** `defaults` are the caller's own numbers, used where `opts` leaves a value out. */
  constructor(opts: BackoffOptions, defaults: Required<BackoffOptions>) {
    this.initialMs = opts.initialMs ?? defaults.initialMs;
    this.maxMs = opts.maxMs ?? defaults.maxMs;
    if (!(this.initialMs > 0) || !(this.maxMs >= this.initialMs)) {
      throw new RangeError(`Backoff: need 0 < initialMs <= maxMs, got ${this.initialMs} and ${this.maxMs}`);
    }
    this.#current = this.initialMs;
  }

  /** The delay to wait now; the one after it is twice as long, up to maxMs. */
  next(): number {
    const d = this.#current;
    this.#current = Math.min(this.#current * 2, this.maxMs);
    return d;
  }

  reset(): void {
    this.#current = this.initialMs;
  }
}
