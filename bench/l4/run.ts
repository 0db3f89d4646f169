// bench/l4: the same measurements over two identical client/server pairs on the lab, node1 → node2:
// one pair outside the mesh (baseline), one captured by ztunnel (HBONE between the nodes). Bulk
// throughput (iperf3), request/response latency at a fixed rate and at max rate, new connections
// per second, and what the two ztunnels cost (RSS, CPU seconds per GB and per 1k connections).
import { spawn, spawnSync } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import { kubectlSync, podRef } from '../../e2e/lab/lab.ts';
import { pollUntil } from '../../e2e/lab/poll.ts';
import { isReady, type PodJson } from '../../e2e/lab/sample-apps.ts';
import type { LabState } from '../../e2e/lab/state.ts';
import { sum } from '../../e2e/ztunnel/denial.ts';
import type { LabMesh } from '../../e2e/ztunnel/lab-mesh.ts';
import { cpuSeconds, rssMiB } from '../common/proc.ts';
import { connectionRate, holdIdle, pingPong, pingPongRun, type PingPongRun, type Target } from './load.ts';
import { summarize, type LatencySummary, type Row } from './report.ts';

export interface L4Options {
  /** Seconds per measurement. */
  seconds: number;
  /** Requests per second of the fixed-rate latency run. */
  rate: number;
  connections: number;
  messageBytes: number;
  connConcurrency: number;
  maxNewConnections: number;
  /** Connections held open at the end of the run for the RSS-with-idle-connections row. */
  idleConnections: number;
}

export const DEFAULT_L4: L4Options = { seconds: 10, rate: 1000, connections: 4, messageBytes: 64, connConcurrency: 8, maxNewConnections: 50_000, idleConnections: 1000 };

const IPERF_PORT = 5201;
/** Windows per pair of the fixed-rate latency phase, alternated between the pairs. */
export const FIXED_RATE_WINDOWS = 4;
const IDLE_HOLD_MS = 10_000;
const ECHO_PORT = 9000;

const pair = (ns: string) => `
apiVersion: v1
kind: Namespace
metadata: { name: ${ns} }
---
apiVersion: v1
kind: Pod
metadata: { name: server, namespace: ${ns}, labels: { app: bench-server } }
spec: { nodeName: node2, containers: [{ name: main, image: lab/tcp-echo }] }
---
apiVersion: v1
kind: Pod
metadata: { name: client, namespace: ${ns}, labels: { app: bench-client } }
spec: { nodeName: node1, containers: [{ name: main, image: lab/sleep }] }
---`;

interface PairResult {
  throughputGbps: number;
  max: LatencySummary;
  conns: { rate: number; count: number; errors: number };
  bytes: number;
  /** ztunnel CPU seconds (both nodes) during each phase; 0 for the baseline. */
  cpu: { throughput: number; conns: number };
}

export async function iperf(clientNs: string, serverNs: string, host: string, seconds: number): Promise<{ gbps: number; bytes: number }> {
  const server = spawn('nsenter', [`--net=${serverNs}`, '--', 'iperf3', '-s', '-1', '-p', String(IPERF_PORT)], { stdio: 'ignore' });
  try {
    await pollUntil('iperf3 server to listen', () => spawnSync('nsenter', [`--net=${serverNs}`, '--', 'ss', '-Hltn', `sport = :${IPERF_PORT}`], { encoding: 'utf8' }).stdout.includes(`:${IPERF_PORT}`), { timeoutMs: 10_000 });
    const r = spawnSync('nsenter', [`--net=${clientNs}`, '--', 'iperf3', '-c', host, '-p', String(IPERF_PORT), '-t', String(seconds), '-J'], { encoding: 'utf8', timeout: (seconds + 30) * 1000 });
    const out = JSON.parse(r.stdout || '{}') as { end?: { sum_received?: { bits_per_second: number; bytes: number } }; error?: string };
    if (!out.end?.sum_received) throw new Error(`iperf3 failed: ${out.error ?? r.stderr}`);
    return { gbps: out.end.sum_received.bits_per_second / 1e9, bytes: out.end.sum_received.bytes };
  } finally {
    server.kill('SIGKILL');
  }
}

/** The echo server of pair `ns`, as its client pod reaches it. */
export function pairTarget(lab: LabState, ns: string): Target {
  return { netns: `/run/netns/${podRef(ns, 'client', lab).netns}`, host: podRef(ns, 'server', lab).podIp, port: ECHO_PORT };
}

async function measure(lab: LabState, ns: string, o: L4Options, ztunnelPids: () => number[]): Promise<PairResult> {
  const server = podRef(ns, 'server', lab);
  const cpu = () => ztunnelPids().reduce((a, p) => a + cpuSeconds(p), 0);
  const target = pairTarget(lab, ns);
  const client = target.netns;
  const c0 = cpu();
  const tp = await iperf(client, `/run/netns/${server.netns}`, server.podIp, o.seconds);
  const c1 = cpu();
  const max = await pingPong(target, { connections: o.connections, seconds: o.seconds, size: o.messageBytes });
  const c2 = cpu();
  const conns = await connectionRate(target, { concurrency: o.connConcurrency, seconds: o.seconds, maxConnections: o.maxNewConnections });
  const c3 = cpu();
  return { throughputGbps: tp.gbps, bytes: tp.bytes, max, conns, cpu: { throughput: c1 - c0, conns: c3 - c2 } };
}

/**
 * The fixed-rate latency of both pairs, measured in alternating windows (plain, mesh, mesh, plain,
 * ...; each o.seconds / 2 long, FIXED_RATE_WINDOWS per pair) and each pair's samples pooled: a p99
 * is the tail of a few hundred requests, and what else the two shared cores run at the time (the
 * lab's apiserver and etcd, the other pair's leftovers) weighs on both pairs alike instead of on
 * whichever ran in the noisier stretch.
 */
async function fixedRateInterleaved(lab: LabState, o: L4Options): Promise<{ base: LatencySummary; mesh: LatencySummary }> {
  const runs: Record<'bench-plain' | 'bench-mesh', PingPongRun[]> = { 'bench-plain': [], 'bench-mesh': [] };
  for (let w = 0; w < FIXED_RATE_WINDOWS; w++) {
    const order = w % 2 === 0 ? (['bench-plain', 'bench-mesh'] as const) : (['bench-mesh', 'bench-plain'] as const);
    for (const ns of order) runs[ns].push(await pingPongRun(pairTarget(lab, ns), { connections: o.connections, seconds: o.seconds / 2, size: o.messageBytes, rate: o.rate }));
  }
  const pooled = (rs: PingPongRun[]) => summarize(rs.flatMap((r) => r.samplesMs), rs.reduce((a, r) => a + r.seconds, 0), rs.reduce((a, r) => a + r.errors, 0));
  return { base: pooled(runs['bench-plain']), mesh: pooled(runs['bench-mesh']) };
}

const MiB = 1024 * 1024;

const gauge = (text: string, name: string): number => Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(text)?.[1] ?? Number.NaN);

export interface ZtunnelMemory {
  /** Per node, MiB: RSS, and from each ztunnel's /metrics the V8 heap reserved and the memory outside it held by JS objects (Buffers, TLS). */
  rss: number[];
  heap: number[];
  external: number[];
  /** Per node: idle collections so far (lib/metrics/idle-gc.ts), and the ms they held the loop. */
  idleGcs: number[];
  idleGcMs: number[];
  /** Per node: every V8 collection pause so far (nodejs_gc_duration_seconds, all kinds), their ms, and how many took over 1 ms. */
  gcPauses: number[];
  gcPauseMs: number[];
  gcPausesOver1ms: number[];
}

export async function ztunnelMemory(lab: LabState, mesh: LabMesh): Promise<ZtunnelMemory> {
  const texts = await Promise.all(lab.nodes.map((n) => mesh.metrics(n.name)));
  return {
    rss: lab.nodes.map((n) => rssMiB(mesh.ztunnel(n.name).pid)),
    heap: texts.map((t) => gauge(t, 'nodejs_heap_size_total_bytes') / MiB),
    external: texts.map((t) => gauge(t, 'nodejs_external_memory_bytes') / MiB),
    idleGcs: texts.map((t) => gauge(t, 'nodejs_idle_gc_total') || 0),
    idleGcMs: texts.map((t) => (gauge(t, 'nodejs_idle_gc_seconds_total') || 0) * 1000),
    // Summed over the kind label.
    gcPauses: texts.map((t) => sum(t, 'nodejs_gc_duration_seconds_count', {})),
    gcPauseMs: texts.map((t) => sum(t, 'nodejs_gc_duration_seconds_sum', {}) * 1000),
    gcPausesOver1ms: texts.map((t) => sum(t, 'nodejs_gc_duration_seconds_count', {}) - sum(t, 'nodejs_gc_duration_seconds_bucket', { le: '0.001' })),
  };
}

/** Deploys the two pairs (bench-plain, bench-mesh) and captures the mesh pair. */
export async function deployPairs(lab: LabState, mesh: LabMesh): Promise<void> {
  kubectlSync(lab, ['apply', '-f', '-'], `${pair('bench-plain')}\n${pair('bench-mesh')}`);
  await pollUntil('the bench pods to be Ready', () => {
    const pods = [...['bench-plain', 'bench-mesh']].flatMap((ns) => (JSON.parse(kubectlSync(lab, ['get', 'pods', '-n', ns, '-o', 'json']).stdout) as { items: PodJson[] }).items);
    return pods.length === 4 && pods.every(isReady);
  }, { timeoutMs: 90_000 });
  for (const name of ['client', 'server']) await mesh.enroll('bench-mesh', name);
  await mesh.syncConfig();
}

/** Deploys the two pairs, captures the mesh pair, measures both; returns the table rows. */
export async function runL4(lab: LabState, mesh: LabMesh, o: L4Options = DEFAULT_L4, log: (l: string) => void = () => {}): Promise<Row[]> {
  await deployPairs(lab, mesh);
  const zpids = () => lab.nodes.map((n) => mesh.ztunnel(n.name).pid);
  log(`baseline: bench-plain/client (node1) -> bench-plain/server (node2), ${o.seconds} s per measurement`);
  const base = await measure(lab, 'bench-plain', o, () => []);
  log('mesh: bench-mesh/client (node1) -> ztunnel -> HBONE -> ztunnel -> bench-mesh/server (node2)');
  const m = await measure(lab, 'bench-mesh', o, zpids);
  log(`fixed rate: ${o.rate} req/s, ${FIXED_RATE_WINDOWS} windows of ${o.seconds / 2} s per pair, alternating`);
  const fixed = await fixedRateInterleaved(lab, o);
  log(`errors (no mesh / ztunnel): fixed rate ${fixed.base.errors} / ${fixed.mesh.errors}, max rate ${base.max.errors} / ${m.max.errors}, new connections ${base.conns.errors} / ${m.conns.errors}`);
  const rss = zpids().reduce((a, p) => a + rssMiB(p), 0);
  // Last: the ztunnels' RSS with idle connections held open through them, after everything above,
  // once they have been held for IDLE_HOLD_MS (a steady state, not the moment the last one opened).
  const idle = await holdIdle(pairTarget(lab, 'bench-mesh'), { count: o.idleConnections, concurrency: 50 });
  await sleep(IDLE_HOLD_MS);
  const mem = await ztunnelMemory(lab, mesh);
  const rssIdle = mem.rss;
  idle.close();
  const pair = (xs: number[]) => xs.map((r) => r.toFixed(1)).join(' / ');
  log(`held ${idle.open} idle connections (${idle.errors} failed); ztunnel RSS ${pair(rssIdle)} MiB, V8 heap ${pair(mem.heap)} MiB, external ${pair(mem.external)} MiB`);
  const biggest = rssIdle.indexOf(Math.max(...rssIdle));
  return [
    { metric: 'bulk throughput (iperf3, 1 stream)', unit: 'Gbit/s', baseline: base.throughputGbps, mesh: m.throughputGbps },
    { metric: `latency p50 @ ${o.rate} req/s`, unit: 'ms', baseline: fixed.base.p50, mesh: fixed.mesh.p50, lowerIsBetter: true },
    { metric: `latency p90 @ ${o.rate} req/s`, unit: 'ms', baseline: fixed.base.p90, mesh: fixed.mesh.p90, lowerIsBetter: true },
    { metric: `latency p99 @ ${o.rate} req/s`, unit: 'ms', baseline: fixed.base.p99, mesh: fixed.mesh.p99, lowerIsBetter: true },
    { metric: `max rate (${o.connections} conns, ${o.messageBytes} B)`, unit: 'req/s', baseline: base.max.rate, mesh: m.max.rate },
    { metric: 'latency p50 @ max rate', unit: 'ms', baseline: base.max.p50, mesh: m.max.p50, lowerIsBetter: true },
    { metric: 'latency p90 @ max rate', unit: 'ms', baseline: base.max.p90, mesh: m.max.p90, lowerIsBetter: true },
    { metric: 'latency p99 @ max rate', unit: 'ms', baseline: base.max.p99, mesh: m.max.p99, lowerIsBetter: true },
    { metric: `new connections (${o.connConcurrency} loops)`, unit: 'conn/s', baseline: base.conns.rate, mesh: m.conns.rate },
    { metric: 'errors (all runs)', unit: 'count', baseline: fixed.base.errors + base.max.errors + base.conns.errors, mesh: fixed.mesh.errors + m.max.errors + m.conns.errors, lowerIsBetter: true },
    { metric: 'ztunnel RSS (2 nodes)', unit: 'MiB', mesh: rss, lowerIsBetter: true },
    { metric: `ztunnel RSS, ${o.idleConnections} idle conns held ${IDLE_HOLD_MS / 1000} s (max node)`, unit: 'MiB', mesh: Math.max(...rssIdle), lowerIsBetter: true },
    { metric: '  of which V8 heap (same node)', unit: 'MiB', mesh: mem.heap[biggest] ?? Number.NaN, lowerIsBetter: true },
    { metric: '  and external (Buffers, TLS)', unit: 'MiB', mesh: mem.external[biggest] ?? Number.NaN, lowerIsBetter: true },
    { metric: `idle conns not established`, unit: 'count', mesh: o.idleConnections - idle.open, lowerIsBetter: true },
    { metric: 'ztunnel CPU per GB (2 nodes)', unit: 'CPU s', mesh: m.cpu.throughput / (m.bytes / 1e9), lowerIsBetter: true },
    { metric: 'ztunnel CPU per 1k connections', unit: 'CPU s', mesh: m.cpu.conns / (m.conns.count / 1000), lowerIsBetter: true },
  ];
}
