// bench/controller's knobs, from the environment: pod counts per round and how hard the bench drives
// the apiserver and the ztunnels' admin ports. Pure, so the parsing is unit-tested.

export interface ControllerBenchOptions {
  /** Pods per round, one round after the other (`BENCH_PODS="1000,10000"`). */
  sizes: number[];
  /** Pod creates and deletes in flight at once (`BENCH_CONCURRENCY`). */
  concurrency: number;
  /** Pause between two `/config_dump` polls of one ztunnel (`BENCH_POLL_MS`). */
  pollMs: number;
  /** Per round: how long all pods may take to reach every ztunnel, and again to leave it (`BENCH_DEADLINE_S`). */
  deadlineMs: number;
}

export const DEFAULT_OPTIONS: ControllerBenchOptions = { sizes: [1000, 10_000], concurrency: 50, pollMs: 100, deadlineMs: 600_000 };

/** 2 lab nodes × 65,024 fake addresses each (e2e/lab/kubelet/fake-pods.ts), with room to spare. */
const MAX_PODS = 100_000;

function int(raw: string, name: string, min: number, max: number, errors: string[]): number {
  const v = Number(raw.trim());
  if (!Number.isInteger(v) || v < min || v > max) errors.push(`${name}: "${raw}" is not an integer in ${min}..${max}`);
  return v;
}

/** The options from `env` over the defaults; throws one error listing every bad variable. */
export function benchOptions(env: Readonly<Record<string, string | undefined>>): ControllerBenchOptions {
  const errors: string[] = [];
  const o = { ...DEFAULT_OPTIONS };
  if (env.BENCH_PODS !== undefined) {
    const parts = env.BENCH_PODS.split(',').filter((p) => p.trim() !== '');
    if (parts.length === 0) errors.push('BENCH_PODS: empty; want a list like "1000,10000"');
    o.sizes = parts.map((p) => int(p, 'BENCH_PODS', 1, MAX_PODS, errors));
  }
  if (env.BENCH_CONCURRENCY !== undefined) o.concurrency = int(env.BENCH_CONCURRENCY, 'BENCH_CONCURRENCY', 1, 500, errors);
  if (env.BENCH_POLL_MS !== undefined) o.pollMs = int(env.BENCH_POLL_MS, 'BENCH_POLL_MS', 10, 10_000, errors);
  if (env.BENCH_DEADLINE_S !== undefined) o.deadlineMs = int(env.BENCH_DEADLINE_S, 'BENCH_DEADLINE_S', 10, 86_400, errors) * 1000;
  if (errors.length) throw new Error(`bench/controller: bad environment:\n  ${errors.join('\n  ')}`);
  return o;
}
