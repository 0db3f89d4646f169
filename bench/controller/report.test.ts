import { describe, expect, it } from 'vitest';
import { renderTable, summarizeLatencies, vmRssMiB } from './report.ts';

describe('bench/controller report', () => {
  it('summarizes per-pod latencies with nearest-rank percentiles', () => {
    const s = Array.from({ length: 1000 }, (_, i) => 1000 - i);
    expect(summarizeLatencies(s)).toEqual({ count: 1000, p50: 500, p90: 900, p99: 990, max: 1000 });
    expect(summarizeLatencies([-5, 20])).toMatchObject({ p50: -5, max: 20 });
    const none = summarizeLatencies([]);
    expect(none.count).toBe(0);
    expect(none.max).toBeNaN();
  });

  it('reads VmRSS from /proc/<pid>/status', () => {
    expect(vmRssMiB('Name:\tnode\nVmPeak:\t  999 kB\nVmRSS:\t   204800 kB\nRssAnon:\t 1 kB\n')).toBe(200);
    expect(vmRssMiB('Name:\tkthreadd\n')).toBeNaN();
  });

  it('prints one row per round, the idle baseline first', () => {
    const t = renderTable([
      { pods: 0, controllerRssMiB: 80.04, ztunnelRssMiB: [60, 61.5] },
      {
        pods: 10_000, createdMs: 12_345, readyMs: 13_000, appearedMs: 13_950,
        latency: { count: 10_000, p50: 210.4, p90: 480, p99: 900.6, max: 1_234 },
        controllerRssMiB: 250, ztunnelRssMiB: [180, 175.25], poll: { meanMs: 85.2, maxMs: 190.6 }, dumpMiB: 12.34,
      },
    ], ['node1', 'node2']).split('\n');
    expect(t).toHaveLength(4);
    expect(t[0]).toMatch(/^\s*pods\s+created s\s+all Ready s\s+all on ztunnels s\s+push p50 ms\s+p90 ms\s+p99 ms\s+max ms\s+controller RSS MiB\s+ztunnel RSS MiB \(node1\/node2\)\s+dump poll ms mean\/max\s+dump MiB$/);
    expect(t[1]).toMatch(/^[- ]+$/);
    expect(t[2]!.trim().split(/\s{2,}/)).toEqual(['0 (idle)', '-', '-', '-', '-', '-', '-', '-', '80.0', '60.0/61.5', '-', '-']);
    expect(t[3]!.trim().split(/\s{2,}/)).toEqual(['10,000', '12.35', '13.00', '13.95', '210', '480', '901', '1,234', '250.0', '180.0/175.3', '85/191', '12.3']);
    expect(new Set(t.map((l) => l.length)).size).toBe(1);
  });
});
