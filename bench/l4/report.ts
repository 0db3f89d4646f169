// The numbers of bench/l4 and how they are printed: percentiles over latency samples (shared with
// the other benches in bench/common), and the side-by-side table (baseline, mesh, mesh/baseline).
// Pure, so both are unit-tested.
import { renderColumns } from '../common/report.ts';

export { percentile, summarize, type LatencySummary } from '../common/report.ts';

export interface Row {
  metric: string;
  unit: string;
  baseline?: number;
  mesh: number;
  /** Lower is better (latency, CPU): the ratio is still mesh/baseline, the note says which way is good. */
  lowerIsBetter?: boolean;
}

/** A fixed-width text table with a ratio column (mesh / baseline). */
export function renderTable(rows: readonly Row[]): string {
  return renderColumns(
    [{ head: 'no mesh' }, { head: 'ztunnel', ratioHead: 'mesh/base' }],
    rows.map((r) => ({ metric: r.metric, unit: r.unit, values: [r.baseline, r.mesh] })),
  );
}
