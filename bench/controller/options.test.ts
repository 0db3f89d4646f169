import { describe, expect, it } from 'vitest';
import { benchOptions, DEFAULT_OPTIONS } from './options.ts';
import { benchPod, isPodReady, nodeFor, podNames } from './pods.ts';
import { FAKE_READY_ANNOTATION } from '../../e2e/lab/kubelet/fake-pods.ts';

describe('bench/controller options', () => {
  it('defaults to 1k then 10k pods', () => {
    expect(benchOptions({})).toEqual(DEFAULT_OPTIONS);
    expect(DEFAULT_OPTIONS.sizes).toEqual([1000, 10_000]);
  });

  it('reads the environment', () => {
    expect(benchOptions({ BENCH_PODS: ' 100, 2000 ,', BENCH_CONCURRENCY: '20', BENCH_POLL_MS: '250', BENCH_DEADLINE_S: '60' }))
      .toEqual({ sizes: [100, 2000], concurrency: 20, pollMs: 250, deadlineMs: 60_000 });
  });

  it('lists every bad variable at once', () => {
    expect(() => benchOptions({ BENCH_PODS: '1k,0', BENCH_CONCURRENCY: '0', BENCH_POLL_MS: '1.5' })).toThrow(/BENCH_PODS: "1k".*\n.*BENCH_PODS: "0".*\n.*BENCH_CONCURRENCY.*\n.*BENCH_POLL_MS/s);
    expect(() => benchOptions({ BENCH_PODS: ',' })).toThrow(/BENCH_PODS: empty/);
  });
});

describe('bench/controller pods', () => {
  it('names pods per round, sortable, and spreads them round-robin', () => {
    expect(podNames(2, 3)).toEqual(['r2-0', 'r2-1', 'r2-2']);
    const names = podNames(1, 10_000);
    expect([names[0], names[9999]]).toEqual(['r1-0000', 'r1-9999']);
    expect(new Set(names).size).toBe(10_000);
    expect([0, 1, 2, 3].map((i) => nodeFor(i, ['node1', 'node2']))).toEqual(['node1', 'node2', 'node1', 'node2']);
  });

  it('builds a fake-ready pod bound to its node', () => {
    expect(benchPod('r1-0', 'node2')).toMatchObject({
      metadata: { name: 'r1-0', namespace: 'bench', annotations: { [FAKE_READY_ANNOTATION]: 'true' } },
      spec: { nodeName: 'node2', containers: [{ name: 'main' }] },
    });
  });

  it('reads Ready from the conditions', () => {
    expect(isPodReady({ conditions: [{ type: 'Ready', status: 'True' }] })).toBe(true);
    expect(isPodReady({ conditions: [{ type: 'Ready', status: 'False' }, { type: 'PodScheduled', status: 'True' }] })).toBe(false);
    expect(isPodReady(undefined)).toBe(false);
  });
});
