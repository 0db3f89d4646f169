// `make bench-l4-soak`: the ztunnel pair's memory over time, on its own 2-node lab (bundle, as the
// charts run it). RSS of each ztunnel idle with the bench pairs captured, with 1,000 idle connections
// held open through the pair and after they close; then a bounded soak at a fixed request rate in
// windows, RSS after each window, next to one window of the same load on the plain pair.
// BENCH_SOAK_S (default 300), BENCH_SOAK_WINDOW_S (30), BENCH_RATE (1000), BENCH_IDLE_CONNS (1000);
// BENCH_ZTUNNEL_NODE_OPTIONS / BENCH_ZTUNNEL_ENV as for bench-l4.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { pollUntil } from '../../e2e/lab/poll.ts';
import { LabMesh, ZTUNNEL_BUNDLE } from '../../e2e/ztunnel/lab-mesh.ts';
import { benchZtunnelEnv, runOnOwnLab } from '../common/lab-run.ts';
import { renderHeap, summarizeHeap } from '../common/heap-summary.ts';
import { hostLine } from '../common/proc.ts';
import { formatValue, renderTextTable } from '../common/report.ts';
import { holdIdle, pingPong } from './load.ts';
import { deployPairs, pairTarget, ztunnelMemory } from './run.ts';

const num = (name: string, dflt: number): number => {
  const v = Number(process.env[name] ?? dflt);
  if (!Number.isFinite(v) || v <= 0) throw new Error(`${name} must be a positive number`);
  return v;
};
const soakS = num('BENCH_SOAK_S', 300);
const windowS = Math.min(num('BENCH_SOAK_WINDOW_S', 30), soakS);
const rate = num('BENCH_RATE', 1000);
const idleCount = num('BENCH_IDLE_CONNS', 1000);
const log = (l: string) => process.stderr.write(`bench/l4-soak: ${l}\n`);

interface Line {
  phase: string;
  rss?: number[];
  /** Per node, MiB: V8 heap reserved, and memory outside it held by JS objects (Buffers, TLS). */
  heap?: number[];
  external?: number[];
  p50?: number;
  p99?: number;
  errors?: number;
}

const pair = (v: number[] | undefined): string => (v ? v.map((x) => formatValue(x)).join(' / ') : '-');

function render(lines: readonly Line[]): string {
  const head = ['phase', 'RSS MiB n1 / n2', 'V8 heap MiB', 'external MiB', 'p50 ms', 'p99 ms', 'errors'];
  const body = lines.map((l) => [l.phase, pair(l.rss), pair(l.heap), pair(l.external), formatValue(l.p50), formatValue(l.p99), formatValue(l.errors)]);
  return renderTextTable(head, body);
}

const extra = benchZtunnelEnv();
/**
 * With BENCH_HEAP_SNAPSHOT=1 (and BENCH_ZTUNNEL_NODE_OPTIONS including --heapsnapshot-signal=SIGUSR2
 * --diagnostic-dir=DIR): signals each ztunnel, waits for its snapshot and prints where its heap goes.
 */
async function heapSnapshots(ztunnels: { node: string; pid: number }[]): Promise<void> {
  const dir = /--diagnostic-dir=(\S+)/.exec(process.env.BENCH_ZTUNNEL_NODE_OPTIONS ?? '')?.[1];
  if (!dir || !/--heapsnapshot-signal=SIGUSR2/.test(process.env.BENCH_ZTUNNEL_NODE_OPTIONS ?? '')) throw new Error('BENCH_HEAP_SNAPSHOT needs BENCH_ZTUNNEL_NODE_OPTIONS="--heapsnapshot-signal=SIGUSR2 --diagnostic-dir=DIR"');
  for (const z of ztunnels) {
    const before = new Set(readdirSync(dir));
    process.kill(z.pid, 'SIGUSR2');
    const file = await pollUntil(`${z.node} ztunnel heap snapshot`, () => readdirSync(dir).find((f) => !before.has(f) && f.endsWith('.heapsnapshot') && f.includes(`.${z.pid}.`)), { timeoutMs: 120_000 });
    // Written in place: wait until its size stops changing.
    let size = -1;
    await pollUntil('the snapshot to be complete', () => {
      const now = statSync(join(dir, file)).size;
      const done = now === size && now > 0;
      size = now;
      return done;
    }, { timeoutMs: 120_000, intervalMs: 1000 });
    log(`${z.node} ztunnel heap (${join(dir, file)}):\n${renderHeap(summarizeHeap(JSON.parse(readFileSync(join(dir, file), 'utf8'))), 20)}`);
  }
}

await runOnOwnLab(log, (lab) => LabMesh.start(lab, { ztunnelMain: ZTUNNEL_BUNDLE, ztunnelEnv: extra.env }), async (lab, mesh) => {
  await deployPairs(lab, mesh);
  const lines: Line[] = [];
  await sleep(5000);
  lines.push({ phase: 'idle, bench pairs captured', ...(await ztunnelMemory(lab, mesh)) });

  const target = pairTarget(lab, 'bench-mesh');
  const idle = await holdIdle(target, { count: idleCount, concurrency: 50 });
  log(`${idle.open} idle connections open, ${idle.errors} failed`);
  await sleep(5000);
  lines.push({ phase: `${idle.open} idle connections held`, ...(await ztunnelMemory(lab, mesh)), errors: idleCount - idle.open });
  if (process.env.BENCH_HEAP_SNAPSHOT) await heapSnapshots(lab.nodes.map((n) => ({ node: n.name, pid: mesh.ztunnel(n.name).pid })));
  idle.close();
  await sleep(5000);
  lines.push({ phase: 'idle connections closed (+5 s)', ...(await ztunnelMemory(lab, mesh)) });

  const base = await pingPong(pairTarget(lab, 'bench-plain'), { connections: 4, seconds: windowS, size: 64, rate });
  lines.push({ phase: `no mesh, ${rate} req/s, ${windowS} s`, p50: base.p50, p99: base.p99, errors: base.errors });
  const windows = Math.ceil(soakS / windowS);
  const gcBefore = await ztunnelMemory(lab, mesh);
  let gcAfter = gcBefore;
  for (let w = 1; w <= windows; w++) {
    const r = await pingPong(target, { connections: 4, seconds: windowS, size: 64, rate });
    const at = await ztunnelMemory(lab, mesh);
    gcAfter = at;
    log(`soak window ${w}/${windows}: p50 ${r.p50.toFixed(2)} ms, p99 ${r.p99.toFixed(2)} ms, errors ${r.errors}, RSS ${pair(at.rss)} MiB`);
    lines.push({ phase: `soak ${rate} req/s, ${w * windowS} s`, ...at, p50: r.p50, p99: r.p99, errors: r.errors });
  }
  const soak = lines.filter((l) => l.phase.startsWith('soak'));
  const first = soak[0]!.rss!;
  const last = soak.at(-1)!.rss!;
  process.stdout.write(`\nbench/l4-soak on ${hostLine()}; lab node1 -> node2, ztunnel bundle${extra.label ? ` with ${extra.label}` : ''}; 4 connections, 64 B ping-pong\n\n${render(lines)}\n\n`);
  process.stdout.write(`soak RSS growth, end - first window: node1 ${(last[0]! - first[0]!).toFixed(1)} MiB, node2 ${(last[1]! - first[1]!).toFixed(1)} MiB\n`);
  const gcs = lab.nodes.map((n, i) => `${n.name} ${gcAfter.idleGcs[i]! - gcBefore.idleGcs[i]!} (${(gcAfter.idleGcMs[i]! - gcBefore.idleGcMs[i]!).toFixed(0)} ms)`);
  const gcsBefore = lab.nodes.map((n, i) => `${n.name} ${gcBefore.idleGcs[i]!} (${gcBefore.idleGcMs[i]!.toFixed(0)} ms)`);
  process.stdout.write(`idle collections during the soak windows: ${gcs.join(', ')}; before them: ${gcsBefore.join(', ')}\n`);
  const pauses = lab.nodes.map((n, i) => `${n.name} ${gcAfter.gcPauses[i]! - gcBefore.gcPauses[i]!} (${(gcAfter.gcPauseMs[i]! - gcBefore.gcPauseMs[i]!).toFixed(0)} ms, ${gcAfter.gcPausesOver1ms[i]! - gcBefore.gcPausesOver1ms[i]!} over 1 ms)`);
  process.stdout.write(`V8 collection pauses during the soak windows (nodejs_gc_duration_seconds): ${pauses.join(', ')}\n`);
});
