// Polls every ztunnel's `/config_dump` from a worker thread, so parsing multi-megabyte dumps never
// stalls the bench's own watch (whose event times are the other half of each latency). Each poll is
// reported as the change of the prefixed workload uid set, stamped with the time the response
// arrived (ztunnel renders the whole dump before it answers, so that is when the dump was taken).
import { Worker } from 'node:worker_threads';

export interface PollTarget {
  node: string;
  url: string;
}

export interface PollerInput {
  targets: PollTarget[];
  /** Only workload uids with this prefix are tracked. */
  prefix: string;
  /** Pause after each poll of one target before the next one. */
  intervalMs: number;
  /** Per request. */
  timeoutMs: number;
}

export type PollerMessage =
  | { kind: 'poll'; node: string; at: number; added: string[]; removed: string[]; count: number; bytes: number; durationMs: number }
  | { kind: 'error'; node: string; at: number; message: string };

/** Milliseconds on the monotonic clock, the same in every thread of the process. */
export function monotonicMs(): number {
  return Number(process.hrtime.bigint() / 1000n) / 1000;
}

/** Consecutive failed polls of one ztunnel after which the poller counts as failed. */
const MAX_CONSECUTIVE_ERRORS = 30;

export interface PollStats {
  polls: number;
  meanMs: number;
  maxMs: number;
  maxBytes: number;
  errors: number;
}

export class DumpPoller {
  private readonly worker: Worker;
  private readonly counts = new Map<string, number>();
  private readonly failing = new Map<string, { n: number; message: string }>();
  private crashed: Error | undefined;
  private polls = 0;
  private pollMs = 0;
  private maxPollMs = 0;
  private maxBytes = 0;
  private errors = 0;

  constructor(input: PollerInput, onPoll: (m: Extract<PollerMessage, { kind: 'poll' }>) => void) {
    this.worker = new Worker(new URL('./dump-poller-worker.ts', import.meta.url), { workerData: input });
    this.worker.on('message', (m: PollerMessage) => {
      if (m.kind === 'error') {
        this.errors++;
        const f = this.failing.get(m.node);
        this.failing.set(m.node, { n: (f?.n ?? 0) + 1, message: m.message });
        return;
      }
      this.failing.delete(m.node);
      this.counts.set(m.node, m.count);
      this.polls++;
      this.pollMs += m.durationMs;
      this.maxPollMs = Math.max(this.maxPollMs, m.durationMs);
      this.maxBytes = Math.max(this.maxBytes, m.bytes);
      onPoll(m);
    });
    this.worker.on('error', (err) => (this.crashed = err));
    this.worker.on('exit', (code) => (this.crashed ??= new Error(`config_dump poller exited (${code})`)));
  }

  /** Tracked uids the node's ztunnel held at its last good poll; undefined before the first one. */
  count(node: string): number | undefined {
    return this.counts.get(node);
  }

  /** Why the poller cannot be trusted any more: its thread died, or a ztunnel keeps failing to answer. */
  failure(): Error | undefined {
    if (this.crashed) return this.crashed;
    for (const [node, f] of this.failing) {
      if (f.n >= MAX_CONSECUTIVE_ERRORS) return new Error(`config_dump of the ztunnel on ${node} failed ${f.n} times in a row: ${f.message}`);
    }
    return undefined;
  }

  stats(): PollStats {
    return { polls: this.polls, meanMs: this.polls ? this.pollMs / this.polls : Number.NaN, maxMs: this.maxPollMs, maxBytes: this.maxBytes, errors: this.errors };
  }

  async stop(): Promise<void> {
    this.worker.removeAllListeners('exit');
    this.crashed ??= new Error('config_dump poller stopped');
    await this.worker.terminate();
  }
}
