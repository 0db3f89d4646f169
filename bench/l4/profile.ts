// `make bench-l4-profile`: where a ztunnel pair spends its CPU. Brings up its own 2-node lab, starts
// both ztunnels with V8's CPU profiler (--cpu-prof), runs one load through the mesh pair for
// BENCH_SECONDS (default 10), stops the ztunnels (the profiles are written on exit) and prints, per
// node, the self time by function and by module, with what the load measured. BENCH_PROFILE_LOAD
// picks the load, as bench-l4 runs it: `bulk` (default; one iperf3 stream), `rate` (max request
// rate, 4 connections, 64 B) or `connections` (new connections, 8 loops).
// The raw .cpuprofile files stay under BENCH_PROFILE_DIR (default /tmp/ambient-mesh-profiles) for
// Chrome DevTools or speedscope.
import { mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { podRef } from '../../e2e/lab/lab.ts';
import type { LabState } from '../../e2e/lab/state.ts';
import { LabMesh, ZTUNNEL_BUNDLE } from '../../e2e/ztunnel/lab-mesh.ts';
import { runOnOwnLab } from '../common/lab-run.ts';
import { hostLine } from '../common/proc.ts';
import { summarizeProfile, type CpuProfile } from './profile-summary.ts';
import { formatValue } from '../common/report.ts';
import { connectionRate, pingPong } from './load.ts';
import { DEFAULT_L4, deployPairs, iperf, pairTarget } from './run.ts';

const seconds = Number(process.env.BENCH_SECONDS ?? 10);
const outDir = process.env.BENCH_PROFILE_DIR ?? '/tmp/ambient-mesh-profiles';
const load = process.env.BENCH_PROFILE_LOAD ?? 'bulk';
if (!['bulk', 'rate', 'connections'].includes(load)) throw new Error(`BENCH_PROFILE_LOAD must be bulk, rate or connections (got ${load})`);
const log = (l: string) => process.stderr.write(`bench/l4 profile: ${l}\n`);
rmSync(outDir, { recursive: true, force: true });
mkdirSync(outDir, { recursive: true });
// Every ztunnel gets the same env, so the profiles (CPU.<date>.<time>.<pid>.<tid>.<seq>.cpuprofile)
// are told apart by pid.
const profiled = `--disable-warning=ExperimentalWarning --cpu-prof --cpu-prof-dir=${outDir} --cpu-prof-interval=500`;
/** Runs the chosen load through the mesh pair; returns what it measured, as a phrase. */
async function runLoad(lab: LabState): Promise<string> {
  const target = pairTarget(lab, 'bench-mesh');
  if (load === 'rate') {
    const r = await pingPong(target, { connections: DEFAULT_L4.connections, seconds, size: DEFAULT_L4.messageBytes });
    return `max request rate (${DEFAULT_L4.connections} conns, ${DEFAULT_L4.messageBytes} B): ${formatValue(r.rate)} req/s, ${r.errors} errors`;
  }
  if (load === 'connections') {
    const r = await connectionRate(target, { concurrency: DEFAULT_L4.connConcurrency, seconds, maxConnections: DEFAULT_L4.maxNewConnections });
    return `new connections (${DEFAULT_L4.connConcurrency} loops): ${formatValue(r.rate)} conn/s, ${r.errors} errors`;
  }
  const server = podRef('bench-mesh', 'server', lab);
  const tp = await iperf(target.netns, `/run/netns/${server.netns}`, server.podIp, seconds);
  return `iperf3 1 stream: ${tp.gbps.toFixed(2)} Gbit/s`;
}

await runOnOwnLab(log, (lab) => LabMesh.start(lab, { ztunnelMain: ZTUNNEL_BUNDLE, ztunnelEnv: { NODE_OPTIONS: profiled } }), async (lab, mesh, dropMesh) => {
  await deployPairs(lab, mesh);
  const pids = Object.fromEntries(lab.nodes.map((n) => [mesh.ztunnel(n.name).pid, n.name]));
  const measured = await runLoad(lab);
  await dropMesh(); // the profiles are written as the ztunnels exit
  process.stdout.write(`\nbench/l4 profile on ${hostLine()}; ${measured}, node1 -> node2 through the ztunnel pair, ${seconds} s\n`);
  for (const f of readdirSync(outDir).filter((x) => x.endsWith('.cpuprofile'))) {
    const node = pids[Number(/^CPU\.\d+\.\d+\.(\d+)\./.exec(f)?.[1])];
    if (!node) continue;
    const s = summarizeProfile(JSON.parse(readFileSync(join(outDir, f), 'utf8')) as CpuProfile, 25);
    process.stdout.write(`\n${node} ztunnel (${join(outDir, f)}): ${s.totalMs.toFixed(0)} ms sampled, ${s.idleMs.toFixed(0)} ms idle, GC ${s.gcMs.toFixed(0)} ms\n`);
    process.stdout.write(`${s.table}\n`);
  }
});
