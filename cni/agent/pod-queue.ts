// The node agent's work queue: tasks for one pod run one after another in the order they were
// queued (rules, ZDS and annotation steps of a pod never interleave), tasks of different pods run
// side by side, at most `limit` at a time, so a node full of pods is captured in parallel without
// starting hundreds of iptables processes at once.

export class PodQueue {
  readonly #limit: number;
  /** The last queued task of each pod (settled tasks are dropped). */
  readonly #tails = new Map<string, Promise<void>>();
  readonly #waiting: (() => void)[] = [];
  #active = 0;

  constructor(limit: number) {
    if (!Number.isInteger(limit) || limit < 1) throw new RangeError(`PodQueue: limit must be a positive integer, got ${limit}`);
    this.#limit = limit;
  }

  /** Tasks running now. */
  get active(): number {
    return this.#active;
  }

  /**
   * Runs `task` after every task queued before it for `key`, once a slot is free. A failed task
   * does not stop the ones after it. Never call run() from inside a task and await it: the task
   * would wait for itself.
   */
  run<T>(key: string, task: () => Promise<T>): Promise<T> {
    const before = this.#tails.get(key) ?? Promise.resolve();
    const result = before.then(() => this.#acquire()).then(async () => {
      try {
        return await task();
      } finally {
        this.#release();
      }
    });
    const tail = result.then(
      () => undefined,
      () => undefined,
    );
    this.#tails.set(key, tail);
    void tail.then(() => {
      if (this.#tails.get(key) === tail) this.#tails.delete(key);
    });
    return result;
  }

  /** Resolves once everything queued so far (and anything queued behind it meanwhile) settled. */
  async idle(): Promise<void> {
    while (this.#tails.size > 0) await Promise.all(this.#tails.values());
  }

  #acquire(): Promise<void> {
    if (this.#active < this.#limit) {
      this.#active++;
      return Promise.resolve();
    }
    return new Promise((resolve) => this.#waiting.push(resolve));
  }

  #release(): void {
    const next = this.#waiting.shift();
    // The slot passes straight to the next waiter, so #active stays counted.
    if (next) next();
    else this.#active--;
  }
}
