import { describe, expect, it } from 'vitest';
import { buildRows, perThousand, renderReport, type ScenarioResult } from './report.ts';

const lat = (rate: number, p50: number, errors = 0) => ({ p50, p90: p50 * 2, p99: p50 * 4, rate, count: rate * 10, errors });

const results: ScenarioResult[] = [
  { name: 'no mesh', max: lat(8000, 1), fixed: lat(1000, 0.4), client: { max: { cpuSeconds: 1.6, requests: 80_000 }, fixed: { cpuSeconds: 0.2, requests: 10_000 } } },
  { name: 'L4', ratioHead: 'L4/base', max: lat(4000, 2), fixed: lat(1000, 0.8, 1), ztunnel: { max: { cpuSeconds: 20, requests: 40_000 }, fixed: { cpuSeconds: 3, requests: 10_000 }, rssMiB: 300 } },
  {
    name: 'L4+waypoint', ratioHead: 'wp/base', max: lat(2000, 4), fixed: lat(1000, 1.6, 2),
    ztunnel: { max: { cpuSeconds: 10, requests: 20_000 }, fixed: { cpuSeconds: 4, requests: 10_000 }, rssMiB: 320 },
    waypoint: { node: 'node2', max: { cpuSeconds: 8, requests: 20_000 }, fixed: { cpuSeconds: 2, requests: 10_000 }, rssMiB: 90 },
  },
];
const opts = { connections: 16, rate: 1000, request: 'POST 1 KiB' };

describe('bench/waypoint report', () => {
  it('CPU seconds per 1000 requests; NaN when nothing completed', () => {
    expect(perThousand({ cpuSeconds: 2, requests: 10_000 })).toBe(0.2);
    expect(perThousand({ cpuSeconds: 1, requests: 0 })).toBeNaN();
    expect(perThousand(undefined)).toBeUndefined();
  });

  it('one value per scenario in every row, missing where a scenario has no such process', () => {
    const rows = buildRows(results, opts);
    const by = (m: string) => rows.find((r) => r.metric.startsWith(m))!.values;
    expect(by('max rate (16 conns, POST 1 KiB)')).toEqual([8000, 4000, 2000]);
    expect(by('latency p99 @ 1000')).toEqual([1.6, 3.2, 6.4]);
    expect(by('errors')).toEqual([0, 1, 2]);
    expect(by('waypoint CPU per 1k req @ 1000')).toEqual([undefined, undefined, 0.2]);
    expect(by('waypoint CPU per 1k req @ max')).toEqual([undefined, undefined, 0.4]);
    expect(by('ztunnel CPU per 1k req @ 1000')).toEqual([undefined, 0.3, 0.4]);
    expect(by('ztunnel RSS')).toEqual([undefined, 300, 320]);
    expect(by('load generator CPU')).toEqual([0.02, undefined, undefined]);
  });

  it('prints the scenarios side by side with ratios, the anchor and the verdict', () => {
    const text = renderReport(results, opts).split('\n');
    expect(text[0]).toMatch(/^metric\s+unit\s+no mesh\s+L4\s+L4\+waypoint\s+L4\/base\s+wp\/base$/);
    expect(text.find((l) => l.startsWith('max rate'))).toMatch(/8,000\s+4,000\s+2,000\s+0\.50x\s+0\.25x$/);
    expect(text.find((l) => l.startsWith('waypoint RSS'))).toMatch(/MiB\s+-\s+-\s+90\.0\s+-\s+-$/);
    expect(text).toContain('reference: Istio 1.24 waypoint (Envoy, 2 workers) at 1000 req/s of 1 KB: ~0.25 vCPU (= 0.25 CPU s per 1k req) and 60 MB (57.2 MiB)');
    expect(text.at(-1)).toBe('L4+waypoint: waypoint on node2; 0.20 CPU s per 1k req @ 1000 req/s (below the anchor), 90.0 MiB RSS (ABOVE the anchor)');
  });
});
