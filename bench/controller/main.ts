// `make bench-controller`: brings up its own 2-node lab, starts the mesh in controller mode (our
// controller, a node agent and a ztunnel per node), runs bench/controller and prints one row per
// round, then tears everything down. BENCH_PODS, BENCH_CONCURRENCY, BENCH_POLL_MS and
// BENCH_DEADLINE_S override the defaults (options.ts).
import { cpus, release } from 'node:os';
import { down, up } from '../../e2e/lab/lab.ts';
import { LabMesh, ZTUNNEL_BUNDLE } from '../../e2e/ztunnel/lab-mesh.ts';
import { benchOptions, type ControllerBenchOptions } from './options.ts';
import { renderTable, type RoundResult } from './report.ts';
import { runControllerBench } from './run.ts';

let opts: ControllerBenchOptions;
try {
  opts = benchOptions(process.env);
} catch (err) {
  process.stderr.write(`${(err as Error).message}\n`);
  process.exit(2);
}
const log = (l: string) => process.stderr.write(`bench/controller: ${l}\n`);
const lab = await up({ nodes: 2, log });
const nodes = lab.nodes.map((n) => n.name);
const rows: RoundResult[] = [];
let mesh: LabMesh | undefined;
let code = 0;
try {
  // The ztunnel the images and the charts run (make bundles).
  mesh = await LabMesh.start(lab, { controller: true, ztunnelMain: ZTUNNEL_BUNDLE });
  await runControllerBench(lab, mesh, opts, (r) => rows.push(r), log);
} catch (err) {
  log(`failed: ${(err as Error).stack ?? String(err)}`);
  code = 1;
} finally {
  if (rows.length) {
    const cpu = cpus();
    process.stdout.write([
      '',
      `bench/controller on ${cpu[0]?.model ?? 'unknown CPU'} x${cpu.length}, Linux ${release()}, Node ${process.version}; lab of ${nodes.length} nodes, controller mode`,
      `rounds ${opts.sizes.join(', ')} fake-ready pods (no netns, not ambient: tunnel NONE), created ${opts.concurrency} at a time, spread over ${nodes.join(', ')}${code ? '; INCOMPLETE: a round failed (see above)' : ''}`,
      '',
      renderTable(rows, nodes),
      '',
      'Times are from the first create. Push latency of a pod: the last ztunnel\'s first /config_dump holding it minus the moment',
      `the bench's pod watch delivered Ready=True. Each ztunnel is polled ${opts.pollMs} ms after its previous poll ended, so a sighting`,
      'is late by up to that pause plus one poll ("dump poll ms"). RSS is sampled once every pod is on every ztunnel.',
      '',
    ].join('\n'));
  }
  await mesh?.stop().catch(() => {});
  await down();
}
process.exit(code);
