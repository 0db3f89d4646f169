// The numbers of bench/waypoint and how they are printed: one column per scenario (no mesh, L4,
// L4 + waypoint, ...) with ratios against the first, the waypoint's and ztunnels' cost per 1000
// requests, and the Istio waypoint anchor as a reference line. Pure, so unit-tested.
import { formatValue, renderColumns, type LatencySummary, type TableRow } from '../common/report.ts';

/** Istio 1.24's published waypoint cost (Envoy, 2 workers) at 1000 req/s of 1 KB. */
export const ISTIO_WAYPOINT_ANCHOR = { vcpuPer1000Rps: 0.25, memoryMB: 60 } as const;

/** CPU seconds a process set used during one run, and how many requests that run completed. */
export interface RunCost {
  cpuSeconds: number;
  requests: number;
}

export interface ScenarioResult {
  /** Column heading. */
  name: string;
  /** Ratio column heading (this column / the first); none for the baseline. */
  ratioHead?: string;
  max: LatencySummary;
  fixed: LatencySummary;
  waypoint?: { node: string; fixed: RunCost; max: RunCost; rssMiB: number };
  /** The bench process itself (the load generator), to show it is not the bottleneck. */
  client?: { max: RunCost; fixed: RunCost };
  /** Both nodes' ztunnels together; absent where they are not on the path. */
  ztunnel?: { fixed: RunCost; max: RunCost; rssMiB: number };
}

export interface ReportOptions {
  connections: number;
  /** The fixed rate of the latency rows, req/s. */
  rate: number;
  /** What one request is, e.g. `POST 1 KiB`. */
  request: string;
}

/** CPU seconds per 1000 requests (at 1000 req/s this is also the vCPUs kept busy). */
export function perThousand(c: RunCost | undefined): number | undefined {
  if (!c) return undefined;
  return c.requests > 0 ? c.cpuSeconds / (c.requests / 1000) : Number.NaN;
}

export function buildRows(results: readonly ScenarioResult[], o: ReportOptions): TableRow[] {
  const row = (metric: string, unit: string, pick: (r: ScenarioResult) => number | undefined): TableRow => ({ metric, unit, values: results.map(pick) });
  return [
    row(`max rate (${o.connections} conns, ${o.request})`, 'req/s', (r) => r.max.rate),
    row('latency p50 @ max rate', 'ms', (r) => r.max.p50),
    row('latency p99 @ max rate', 'ms', (r) => r.max.p99),
    row(`achieved @ ${o.rate} req/s`, 'req/s', (r) => r.fixed.rate),
    row(`latency p50 @ ${o.rate} req/s`, 'ms', (r) => r.fixed.p50),
    row(`latency p90 @ ${o.rate} req/s`, 'ms', (r) => r.fixed.p90),
    row(`latency p99 @ ${o.rate} req/s`, 'ms', (r) => r.fixed.p99),
    row('errors (all runs)', 'count', (r) => r.max.errors + r.fixed.errors),
    row(`waypoint CPU per 1k req @ ${o.rate} req/s`, 'CPU s', (r) => perThousand(r.waypoint?.fixed)),
    row('waypoint CPU per 1k req @ max rate', 'CPU s', (r) => perThousand(r.waypoint?.max)),
    row('waypoint RSS after the runs', 'MiB', (r) => r.waypoint?.rssMiB),
    row(`ztunnel CPU per 1k req @ ${o.rate} req/s (2 nodes)`, 'CPU s', (r) => perThousand(r.ztunnel?.fixed)),
    row('ztunnel CPU per 1k req @ max rate (2 nodes)', 'CPU s', (r) => perThousand(r.ztunnel?.max)),
    row('ztunnel RSS after the runs (2 nodes)', 'MiB', (r) => r.ztunnel?.rssMiB),
    row('load generator CPU per 1k req @ max rate', 'CPU s', (r) => perThousand(r.client?.max)),
  ];
}

/** The table, then where each waypoint ran and how it compares with Istio's anchor. */
export function renderReport(results: readonly ScenarioResult[], o: ReportOptions): string {
  const table = renderColumns(results.map((r) => ({ head: r.name, ...(r.ratioHead ? { ratioHead: r.ratioHead } : {}) })), buildRows(results, o));
  const anchorMiB = (ISTIO_WAYPOINT_ANCHOR.memoryMB * 1e6) / 2 ** 20;
  const lines = [
    table,
    '',
    `reference: Istio 1.24 waypoint (Envoy, 2 workers) at 1000 req/s of 1 KB: ~${ISTIO_WAYPOINT_ANCHOR.vcpuPer1000Rps} vCPU (= ${ISTIO_WAYPOINT_ANCHOR.vcpuPer1000Rps} CPU s per 1k req) and ${ISTIO_WAYPOINT_ANCHOR.memoryMB} MB (${formatValue(anchorMiB)} MiB)`,
  ];
  for (const r of results) {
    if (!r.waypoint) continue;
    const cpu = perThousand(r.waypoint.fixed);
    const verdict = (v: number | undefined, anchor: number) => (v === undefined || Number.isNaN(v) ? 'not measured' : v <= anchor ? 'below the anchor' : 'ABOVE the anchor');
    lines.push(
      `${r.name}: waypoint on ${r.waypoint.node}; ${formatValue(cpu)} CPU s per 1k req @ ${o.rate} req/s (${verdict(cpu, ISTIO_WAYPOINT_ANCHOR.vcpuPer1000Rps)}), ` +
        `${formatValue(r.waypoint.rssMiB)} MiB RSS (${verdict(r.waypoint.rssMiB, anchorMiB)})`,
    );
  }
  return lines.join('\n');
}
