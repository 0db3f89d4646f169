// `make bench-l4`: brings up its own 2-node lab, starts the mesh on it, runs bench/l4 and prints the
// side-by-side table, then tears everything down. BENCH_SECONDS and BENCH_RATE override the defaults.
import { LabMesh, ZTUNNEL_BUNDLE } from '../../e2e/ztunnel/lab-mesh.ts';
import { benchZtunnelEnv, runOnOwnLab } from '../common/lab-run.ts';
import { hostLine } from '../common/proc.ts';
import { renderTable } from './report.ts';
import { DEFAULT_L4, FIXED_RATE_WINDOWS, runL4 } from './run.ts';

const opts = {
  ...DEFAULT_L4,
  ...(process.env.BENCH_SECONDS ? { seconds: Number(process.env.BENCH_SECONDS) } : {}),
  ...(process.env.BENCH_RATE ? { rate: Number(process.env.BENCH_RATE) } : {}),
};
const log = (l: string) => process.stderr.write(`bench/l4: ${l}\n`);
// The ztunnel the images and the charts run: the one-file bundle (make bundles), with the settings
// of BENCH_ZTUNNEL_NODE_OPTIONS / BENCH_ZTUNNEL_ENV if any.
const extra = benchZtunnelEnv();
await runOnOwnLab(log, (lab) => LabMesh.start(lab, { ztunnelMain: ZTUNNEL_BUNDLE, ztunnelEnv: extra.env }), async (lab, mesh) => {
  const rows = await runL4(lab, mesh, opts, log);
  process.stdout.write(`\nbench/l4 on ${hostLine()}; lab node1 -> node2, ${opts.seconds} s per measurement (the fixed rate: ${FIXED_RATE_WINDOWS} windows of ${opts.seconds / 2} s per pair, alternating)${extra.label ? `; ztunnel with ${extra.label}` : ''}\n\n`);
  process.stdout.write(`${renderTable(rows)}\n`);
});
