// Coalesces the store's change notifications into pushes, as istiod debounces: a batch is flushed
// once no change arrived for `debounceMs`, and never later than `maxDelayMs` after its first change,
// so a steady trickle of changes still reaches proxies. Only type URLs travel here; what changed is
// found per stream by diffing the store against what the proxy holds.

export interface DebounceOptions {
  /** Quiet period that ends a batch. Default 100 ms (istiod's PILOT_DEBOUNCE_AFTER). */
  debounceMs?: number;
  /** Longest a batch waits after its first change. Default 1 s. */
  maxDelayMs?: number;
}

/** Receives a batch: every type URL changed in it, and when (ms since epoch) its first change came. */
export type FlushFn = (typeUrls: ReadonlySet<string>, since: number) => void;

export class ChangeDebouncer {
  readonly debounceMs: number;
  readonly maxDelayMs: number;
  readonly #flush: FlushFn;
  #batch: { typeUrls: Set<string>; since: number } | undefined;
  #timer: NodeJS.Timeout | undefined;
  #closed = false;

  /** Throws a RangeError unless 0 <= debounceMs <= maxDelayMs. */
  constructor(opts: DebounceOptions, flush: FlushFn) {
    this.debounceMs = opts.debounceMs ?? 100;
    this.maxDelayMs = opts.maxDelayMs ?? 1_000;
    if (!(this.debounceMs >= 0) || !(this.maxDelayMs >= this.debounceMs)) {
      throw new RangeError(`xDS debounce: need 0 <= debounceMs <= maxDelayMs, got ${this.debounceMs} and ${this.maxDelayMs}`);
    }
    this.#flush = flush;
  }

  /** True while a batch waits to be flushed. */
  get pending(): boolean {
    return this.#batch !== undefined;
  }

  add(typeUrls: Iterable<string>): void {
    if (this.#closed) return;
    const now = Date.now();
    let batch = this.#batch;
    for (const t of typeUrls) {
      batch ??= { typeUrls: new Set(), since: now };
      batch.typeUrls.add(t);
    }
    if (!batch) return;
    this.#batch = batch;
    clearTimeout(this.#timer);
    const due = Math.min(now + this.debounceMs, batch.since + this.maxDelayMs);
    this.#timer = setTimeout(() => this.#fire(), Math.max(0, due - now));
  }

  /** Drops any waiting batch; later changes are ignored. */
  close(): void {
    this.#closed = true;
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#batch = undefined;
  }

  #fire(): void {
    const batch = this.#batch;
    this.#batch = undefined;
    this.#timer = undefined;
    if (batch) this.#flush(batch.typeUrls, batch.since);
  }
}
