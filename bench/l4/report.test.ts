import { describe, expect, it } from 'vitest';
import { percentile, renderTable, summarize } from './report.ts';

describe('bench/l4 report', () => {
  it('takes nearest-rank percentiles', () => {
    const s = Array.from({ length: 100 }, (_, i) => i + 1);
    expect([percentile(s, 50), percentile(s, 90), percentile(s, 99), percentile(s, 100)]).toEqual([50, 90, 99, 100]);
    expect(percentile([7], 99)).toBe(7);
    expect(percentile([], 50)).toBeNaN();
  });

  it('summarizes unsorted samples with the rate over the run', () => {
    expect(summarize([3, 1, 2, 4], 2, 1)).toEqual({ p50: 2, p90: 4, p99: 4, rate: 2, count: 4, errors: 1 });
  });

  it('prints baseline, mesh and their ratio side by side', () => {
    const t = renderTable([
      { metric: 'throughput', unit: 'Gbit/s', baseline: 20, mesh: 5 },
      { metric: 'ztunnel RSS', unit: 'MiB', mesh: 80 },
    ]).split('\n');
    expect(t[0]).toMatch(/^metric\s+unit\s+no mesh\s+ztunnel\s+mesh\/base$/);
    expect(t[2]).toMatch(/^throughput\s+Gbit\/s\s+20\.0\s+5\.00\s+0\.25x$/);
    expect(t[3]).toMatch(/^ztunnel RSS\s+MiB\s+-\s+80\.0\s+-$/);
  });
});
