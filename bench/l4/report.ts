// The numbers of bench/l4 and how they are printed: percentiles over latency samples, and the
// side-by-side table (baseline, mesh, mesh/baseline). Pure, so both are unit-tested.

/** Nearest-rank percentile of `sorted` (ascending); NaN for no samples. */
export function percentile(sorted: readonly number[], p: number): number {
  if (!sorted.length) return Number.NaN;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1]!;
}

export interface LatencySummary {
  p50: number;
  p90: number;
  p99: number;
  /** Requests completed per second over the run. */
  rate: number;
  count: number;
  errors: number;
}

export function summarize(samplesMs: number[], seconds: number, errors: number): LatencySummary {
  const s = [...samplesMs].sort((a, b) => a - b);
  return { p50: percentile(s, 50), p90: percentile(s, 90), p99: percentile(s, 99), rate: s.length / seconds, count: s.length, errors };
}

export interface Row {
  metric: string;
  unit: string;
  baseline?: number;
  mesh: number;
  /** Lower is better (latency, CPU): the ratio is still mesh/baseline, the note says which way is good. */
  lowerIsBetter?: boolean;
}

function fmt(v: number | undefined): string {
  if (v === undefined || Number.isNaN(v)) return '-';
  if (Math.abs(v) >= 1000) return Math.round(v).toLocaleString('en-US');
  if (Math.abs(v) >= 100) return v.toFixed(0);
  if (Math.abs(v) >= 10) return v.toFixed(1);
  return v.toFixed(2);
}

/** A fixed-width text table with a ratio column (mesh / baseline). */
export function renderTable(rows: readonly Row[]): string {
  const body = rows.map((r) => [
    r.metric,
    r.unit,
    fmt(r.baseline),
    fmt(r.mesh),
    r.baseline ? `${(r.mesh / r.baseline).toFixed(2)}x` : '-',
  ]);
  const head = ['metric', 'unit', 'no mesh', 'ztunnel', 'mesh/base'];
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => (i < 2 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
  return [line(head), widths.map((w) => '-'.repeat(w)).join('  '), ...body.map(line)].join('\n');
}
