// Exponential reconnect delays: doubling from an initial delay up to a cap, reset after success.
// Istio's ztunnel reconnects to the node agent from 10 ms up to 15 s.

export interface BackoffOptions {
  initialMs?: number;
  maxMs?: number;
}

export const ZDS_RECONNECT_INITIAL_MS = 10;
export const ZDS_RECONNECT_MAX_MS = 15_000;

export class Backoff {
  readonly initialMs: number;
  readonly maxMs: number;
  #current: number;

  constructor(opts: BackoffOptions = {}) {
    this.initialMs = opts.initialMs ?? ZDS_RECONNECT_INITIAL_MS;
    this.maxMs = opts.maxMs ?? ZDS_RECONNECT_MAX_MS;
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
