// What every side-by-side bench shares in its numbers and its printout: nearest-rank percentiles,
// a latency summary over samples, and a fixed-width table of scenario columns with ratio columns
// against the baseline column. Pure, so unit-tested.

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

export function summarize(samplesMs: readonly number[], seconds: number, errors: number): LatencySummary {
  const s = [...samplesMs].sort((a, b) => a - b);
  return { p50: percentile(s, 50), p90: percentile(s, 90), p99: percentile(s, 99), rate: s.length / seconds, count: s.length, errors };
}

/** A number as the tables print it: 3 significant-ish digits, thousands grouped, '-' for none. */
export function formatValue(v: number | undefined): string {
  if (v === undefined || Number.isNaN(v)) return '-';
  if (Math.abs(v) >= 1000) return Math.round(v).toLocaleString('en-US');
  if (Math.abs(v) >= 100) return v.toFixed(0);
  if (Math.abs(v) >= 10) return v.toFixed(1);
  return v.toFixed(2);
}

export interface TableColumn {
  /** Heading of the value column. */
  head: string;
  /** With a heading here, a ratio column (this column / the baseline column) follows the values. */
  ratioHead?: string;
}

export interface TableRow {
  metric: string;
  unit: string;
  /** One per column, in column order; undefined where the scenario has no such number. */
  values: readonly (number | undefined)[];
}

function ratio(v: number | undefined, base: number | undefined): string {
  if (v === undefined || base === undefined || base === 0 || !Number.isFinite(v) || !Number.isFinite(base)) return '-';
  return `${(v / base).toFixed(2)}x`;
}

/**
 * A fixed-width text table: the first `labelColumns` cells of a row left-aligned, the rest
 * right-aligned, two spaces between columns, a rule of dashes under the heading, no trailing blanks.
 */
export function renderTextTable(head: readonly string[], body: readonly (readonly string[])[], labelColumns = 1): string {
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => (b[i] ?? '').length)));
  const line = (cells: readonly string[]) =>
    widths
      .map((w, i) => (i < labelColumns ? (cells[i] ?? '').padEnd(w) : (cells[i] ?? '').padStart(w)))
      .join('  ')
      .trimEnd();
  return [line(head), widths.map((w) => '-'.repeat(w)).join('  '), ...body.map(line)].join('\n');
}

/**
 * `metric  unit  <value columns...>  <ratio columns...>`: labels left-aligned, numbers right-aligned;
 * each ratio is a column's value over the value of column `baseline` in the same row.
 */
export function renderColumns(columns: readonly TableColumn[], rows: readonly TableRow[], baseline = 0): string {
  const ratioCols = columns.map((c, i) => ({ c, i })).filter(({ c }) => c.ratioHead !== undefined);
  const head = ['metric', 'unit', ...columns.map((c) => c.head), ...ratioCols.map(({ c }) => c.ratioHead!)];
  const body = rows.map((r) => [
    r.metric,
    r.unit,
    ...columns.map((_, i) => formatValue(r.values[i])),
    ...ratioCols.map(({ i }) => ratio(r.values[i], r.values[baseline])),
  ]);
  return renderTextTable(head, body, 2);
}
