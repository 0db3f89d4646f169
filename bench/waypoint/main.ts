// `make bench-waypoint`: brings up its own 2-node lab, starts the mesh in controller mode (controller,
// node agents, ztunnels; the controller deploys the waypoint), runs bench/waypoint and prints the
// side-by-side table, then tears everything down. BENCH_SECONDS and BENCH_RATE override the defaults.
import { LabMesh } from '../../e2e/ztunnel/lab-mesh.ts';
import { runOnOwnLab } from '../common/lab-run.ts';
import { hostLine } from '../common/proc.ts';
import { renderReport } from './report.ts';
import { DEFAULT_WAYPOINT_BENCH, requestLabel, runWaypointBench } from './run.ts';

const num = (name: string): number | undefined => {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return undefined;
  const n = Number(raw);
  if (!Number.isFinite(n) || n <= 0) {
    process.stderr.write(`bench/waypoint: ${name} must be a positive number, got ${JSON.stringify(raw)}\n`);
    process.exit(2);
  }
  return n;
};
const seconds = num('BENCH_SECONDS');
const rate = num('BENCH_RATE');
const opts = { ...DEFAULT_WAYPOINT_BENCH, ...(seconds ? { seconds } : {}), ...(rate ? { rate } : {}) };
const log = (l: string) => process.stderr.write(`bench/waypoint: ${l}\n`);
await runOnOwnLab(log, (lab) => LabMesh.start(lab, { controller: true }), async (lab, mesh) => {
  const results = await runWaypointBench(lab, mesh, opts, log);
  process.stdout.write(`\nbench/waypoint on ${hostLine()}; lab node1 -> node2, HTTP/1.1 keep-alive ${requestLabel(opts)}, ${opts.seconds} s per measurement\n\n`);
  process.stdout.write(`${renderReport(results, { connections: opts.connections, rate: opts.rate, request: requestLabel(opts) })}\n`);
});
