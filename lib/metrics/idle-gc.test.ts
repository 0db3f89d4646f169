import { describe, expect, it } from 'vitest';
import { startIdleGc, type IdleGcProbes } from './idle-gc.ts';
import { Registry } from './registry.ts';

const MiB = 1024 * 1024;

/** A heap that grows by what the test allocates and falls to `live` at each gc(). */
function fakeProcess(initial: number) {
  const p = { total: initial, live: initial, busy: 0, gcs: 0 };
  const probes: IdleGcProbes = {
    heapTotal: () => p.total,
    utilization: () => p.busy,
    gc: () => {
      p.gcs++;
      p.total = p.live;
    },
  };
  return { p, probes };
}

describe('idle GC', () => {
  it('collects once the loop is idle and the heap grew past the threshold, and counts what it freed', () => {
    const { p, probes } = fakeProcess(30 * MiB);
    const registry = new Registry();
    let trims = 0;
    const idle = startIdleGc({ minGrowthBytes: 32 * MiB, maxUtilization: 0.05, registry, intervalMs: 60_000, afterCollect: () => trims++ }, probes)!;
    try {
      p.total = 170 * MiB; // a burst grew it
      p.busy = 0.6;
      expect(idle.check()).toBe(false); // still busy
      p.busy = 0.01;
      expect(idle.check()).toBe(true);
      expect(p.gcs).toBe(1);
      expect(trims).toBe(1);
      expect(idle.check()).toBe(false); // back at its baseline
      p.total = 40 * MiB; // grew, but less than the threshold
      expect(idle.check()).toBe(false);
      expect(registry.render()).toMatch(/^nodejs_idle_gc_total 1$/m);
      expect(registry.render()).toMatch(new RegExp(`^nodejs_idle_gc_freed_bytes_total ${140 * MiB}$`, 'm'));
      expect(registry.render()).toMatch(/^nodejs_idle_gc_seconds_total \d/m);
    } finally {
      idle.stop();
    }
  });

  it('measures growth from the smallest heap seen, so a heap V8 shrank by itself is the new baseline', () => {
    const { p, probes } = fakeProcess(100 * MiB);
    const idle = startIdleGc({ minGrowthBytes: 32 * MiB, intervalMs: 60_000 }, probes)!;
    try {
      p.total = 20 * MiB;
      expect(idle.check()).toBe(false);
      p.total = 60 * MiB; // +40 over 20
      expect(idle.check()).toBe(true);
    } finally {
      idle.stop();
    }
  });

  it('runs against the real process: a real full collection with the runtime-exposed gc()', () => {
    const registry = new Registry();
    const idle = startIdleGc({ minGrowthBytes: 0, maxUtilization: 1.01, registry, intervalMs: 60_000 });
    expect(idle).toBeDefined();
    try {
      expect(idle!.check()).toBe(true);
      expect(registry.render()).toMatch(/^nodejs_idle_gc_total 1$/m);
    } finally {
      idle!.stop();
    }
  });
});
