// `make bench-l4`: brings up its own 2-node lab, starts the mesh on it, runs bench/l4 and prints the
// side-by-side table, then tears everything down. BENCH_SECONDS and BENCH_RATE override the defaults.
import { LabMesh, ZTUNNEL_BUNDLE } from '../../e2e/ztunnel/lab-mesh.ts';
import { runOnOwnLab } from '../common/lab-run.ts';
import { hostLine } from '../common/proc.ts';
import { renderTable } from './report.ts';
import { DEFAULT_L4, runL4 } from './run.ts';

const opts = {
  ...DEFAULT_L4,
  ...(process.env.BENCH_SECONDS ? { seconds: Number(process.env.BENCH_SECONDS) } : {}),
  ...(process.env.BENCH_RATE ? { rate: Number(process.env.BENCH_RATE) } : {}),
};
const log = (l: string) => process.stderr.write(`bench/l4: ${l}\n`);
// The ztunnel the images and the charts run: the one-file bundle (make bundles). BENCH_ZTUNNEL_NODE_OPTIONS
// adds V8/Node flags to both ztunnels (e.g. --max-semi-space-size=2, to see what a flag costs).
const extraFlags = process.env.BENCH_ZTUNNEL_NODE_OPTIONS;
const ztunnelEnv: Record<string, string> = extraFlags ? { NODE_OPTIONS: `--disable-warning=ExperimentalWarning ${extraFlags}` } : {};
await runOnOwnLab(log, (lab) => LabMesh.start(lab, { ztunnelMain: ZTUNNEL_BUNDLE, ztunnelEnv }), async (lab, mesh) => {
  const rows = await runL4(lab, mesh, opts, log);
  process.stdout.write(`\nbench/l4 on ${hostLine()}; lab node1 -> node2, ${opts.seconds} s per measurement${extraFlags ? `; ztunnel flags: ${extraFlags}` : ''}\n\n`);
  process.stdout.write(`${renderTable(rows)}\n`);
});
