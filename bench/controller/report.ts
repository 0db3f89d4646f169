// The numbers of bench/controller and how they are printed: percentiles over the per-pod push
// latencies, one table row per round, and VmRSS from /proc/<pid>/status. Pure, so unit-tested.
import { percentile, renderTextTable } from '../common/report.ts';

export interface LatencySummary {
  count: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
}

export function summarizeLatencies(samplesMs: readonly number[]): LatencySummary {
  const s = [...samplesMs].sort((a, b) => a - b);
  return { count: s.length, p50: percentile(s, 50), p90: percentile(s, 90), p99: percentile(s, 99), max: s.length ? s[s.length - 1]! : Number.NaN };
}

/** One round (or the idle baseline: `pods` 0 and no timings). Times in ms from the first create. */
export interface RoundResult {
  pods: number;
  /** All creates answered. */
  createdMs?: number;
  /** The last pod Ready in the bench's watch. */
  readyMs?: number;
  /** The last pod on every ztunnel. */
  appearedMs?: number;
  latency?: LatencySummary;
  controllerRssMiB: number;
  /** Per ztunnel, in the order of the table's node list. */
  ztunnelRssMiB: number[];
  /** Time of one config_dump poll (request to parsed set), mean and max over the round: how late a sighting can be on top of the poll pause. */
  poll?: { meanMs: number; maxMs: number };
  /** Largest config_dump body seen in the round. */
  dumpMiB?: number;
}

/** `VmRSS` of a /proc/<pid>/status text, in MiB; NaN when absent (a kernel thread, a zombie). */
export function vmRssMiB(statusText: string): number {
  const m = /^VmRSS:\s+(\d+)\s+kB$/m.exec(statusText);
  return m ? Number(m[1]) / 1024 : Number.NaN;
}

function fmt(v: number | undefined, digits = 0): string {
  if (v === undefined || Number.isNaN(v)) return '-';
  return v.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

const sec = (ms: number | undefined) => fmt(ms === undefined ? undefined : ms / 1000, 2);

/** A fixed-width table, one row per round; `nodes` names the ztunnel RSS columns' order. */
export function renderTable(rows: readonly RoundResult[], nodes: readonly string[]): string {
  const head = ['pods', 'created s', 'all Ready s', 'all on ztunnels s', 'push p50 ms', 'p90 ms', 'p99 ms', 'max ms', 'controller RSS MiB', `ztunnel RSS MiB (${nodes.join('/')})`, 'dump poll ms mean/max', 'dump MiB'];
  const body = rows.map((r) => [
    r.pods === 0 ? '0 (idle)' : fmt(r.pods),
    sec(r.createdMs),
    sec(r.readyMs),
    sec(r.appearedMs),
    fmt(r.latency?.p50),
    fmt(r.latency?.p90),
    fmt(r.latency?.p99),
    fmt(r.latency?.max),
    fmt(r.controllerRssMiB, 1),
    r.ztunnelRssMiB.map((v) => fmt(v, 1)).join('/'),
    r.poll ? `${fmt(r.poll.meanMs)}/${fmt(r.poll.maxMs)}` : '-',
    fmt(r.dumpMiB, 1),
  ]);
  return renderTextTable(head, body, 0);
}
