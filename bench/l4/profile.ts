// `make bench-l4-profile`: where a ztunnel pair spends its CPU on bulk throughput. Brings up its own
// 2-node lab, starts both ztunnels with V8's CPU profiler (--cpu-prof), runs one iperf3 stream
// through the mesh pair for BENCH_SECONDS (default 10), stops the ztunnels (the profiles are written
// on exit) and prints, per node, the self time by function and by module, with the Gbit/s measured.
// The raw .cpuprofile files stay under BENCH_PROFILE_DIR (default /tmp/ambient-mesh-profiles) for
// Chrome DevTools or speedscope.
import { mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { podRef } from '../../e2e/lab/lab.ts';
import { LabMesh, ZTUNNEL_BUNDLE } from '../../e2e/ztunnel/lab-mesh.ts';
import { runOnOwnLab } from '../common/lab-run.ts';
import { hostLine } from '../common/proc.ts';
import { summarizeProfile, type CpuProfile } from './profile-summary.ts';
import { deployPairs, iperf } from './run.ts';

const seconds = Number(process.env.BENCH_SECONDS ?? 10);
const outDir = process.env.BENCH_PROFILE_DIR ?? '/tmp/ambient-mesh-profiles';
const log = (l: string) => process.stderr.write(`bench/l4 profile: ${l}\n`);
rmSync(outDir, { recursive: true, force: true });
mkdirSync(outDir, { recursive: true });
// Every ztunnel gets the same env, so the profiles (CPU.<date>.<time>.<pid>.<tid>.<seq>.cpuprofile)
// are told apart by pid.
const profiled = `--disable-warning=ExperimentalWarning --cpu-prof --cpu-prof-dir=${outDir} --cpu-prof-interval=500`;
await runOnOwnLab(log, (lab) => LabMesh.start(lab, { ztunnelMain: ZTUNNEL_BUNDLE, ztunnelEnv: { NODE_OPTIONS: profiled } }), async (lab, mesh, dropMesh) => {
  await deployPairs(lab, mesh);
  const pids = Object.fromEntries(lab.nodes.map((n) => [mesh.ztunnel(n.name).pid, n.name]));
  const server = podRef('bench-mesh', 'server', lab);
  const tp = await iperf(`/run/netns/${podRef('bench-mesh', 'client', lab).netns}`, `/run/netns/${server.netns}`, server.podIp, seconds);
  await dropMesh(); // the profiles are written as the ztunnels exit
  process.stdout.write(`\nbench/l4 profile on ${hostLine()}; iperf3 1 stream node1 -> node2 through the ztunnel pair, ${seconds} s: ${tp.gbps.toFixed(2)} Gbit/s\n`);
  for (const f of readdirSync(outDir).filter((x) => x.endsWith('.cpuprofile'))) {
    const node = pids[Number(/^CPU\.\d+\.\d+\.(\d+)\./.exec(f)?.[1])];
    if (!node) continue;
    const s = summarizeProfile(JSON.parse(readFileSync(join(outDir, f), 'utf8')) as CpuProfile, 25);
    process.stdout.write(`\n${node} ztunnel (${join(outDir, f)}): ${s.totalMs.toFixed(0)} ms sampled, ${s.idleMs.toFixed(0)} ms idle, GC ${s.gcMs.toFixed(0)} ms\n`);
    process.stdout.write(`${s.table}\n`);
  }
});
