// What the node agent pays to capture one running pod (a namespace turned ambient, or the agent
// restarted) on a node that already runs BENCH_PODS pods (default 200): find the pod's netns from
// its IP, then install the in-pod rules. Before: a walk that enters every netns under /proc, and
// iptables run with spawnSync; after: the netns index (only new netns are entered) and the rules
// applied off the event loop. Each sample is a fresh pod (its own netns, a process in it, an IP),
// so the index always takes the miss-and-refresh path. Prints median and p90 per row and the
// longest gap between ticks of a 1 ms timer seen during any sample (event-loop stall). A second
// table: finding the netns of every one of those pods, as the agent does when it starts (the walk
// per pod is quadratic in the pods; the index reads each netns once).
// Run as root: `node bench/cni/add-pod.ts` (make bench-cni); BENCH_N samples per row (default 20).
import { spawn, type ChildProcess } from 'node:child_process';
import { statSync } from 'node:fs';
import { cpus, release } from 'node:os';
import { findNetnsByIp, NetnsIndex, type FoundNetns } from '../../cni/agent/netns-finder.ts';
import { fdPath } from '../../cni/agent/dataplane.ts';
import { closeFd } from '../../lib/netns/index.ts';
import { addTestInterface, createThrowawayNetns, isRoot, type ThrowawayNetns } from '../../lib/netns/throwaway-netns.ts';
import { applyInpodRules, applyInpodRulesAsync } from '../../lib/redirect/index.ts';
import { percentile, renderTextTable } from '../common/report.ts';

const PODS = Number(process.env.BENCH_PODS ?? 200);
const N = Number(process.env.BENCH_N ?? 20);
const WARMUP = 2;
const OPTS = { dnsCapture: true };
const log = (l: string) => process.stderr.write(`bench/cni add-pod: ${l}\n`);

interface Pod {
  ns: ThrowawayNetns;
  ip: string;
  proc: ChildProcess;
}

const pods: Pod[] = [];
let seq = 0;

/** A pod as the agent finds it: a netns with an address and a process living in it. */
async function startPod(): Promise<Pod> {
  const i = seq++;
  const ip = `10.252.${Math.floor(i / 250)}.${(i % 250) + 1}`;
  const ns = createThrowawayNetns();
  const proc = spawn('ip', ['netns', 'exec', ns.name, 'sleep', '3600'], { stdio: 'ignore' });
  const pod = { ns, ip, proc };
  pods.push(pod);
  addTestInterface(ns, 'eth0', [`${ip}/16`]);
  const ino = statSync(ns.path).ino;
  const deadline = Date.now() + 10_000;
  for (;;) {
    try {
      if (proc.pid !== undefined && statSync(`/proc/${proc.pid}/ns/net`).ino === ino) break;
    } catch {
      /* not started yet */
    }
    if (Date.now() > deadline) throw new Error(`pod ${ns.name}: its process did not enter the netns`);
    await new Promise((r) => setTimeout(r, 5));
  }
  return pod;
}

interface Row {
  name: string;
  /** Captures `pod`; returns the fd it found (closed by the caller). */
  add(pod: Pod): Promise<FoundNetns>;
}

interface Summary {
  name: string;
  median: number;
  p90: number;
  stall: number;
}

const found = (f: FoundNetns | undefined, pod: Pod): FoundNetns => {
  if (!f) throw new Error(`netns of ${pod.ip} not found`);
  return f;
};

async function measure(rows: Row[]): Promise<Summary[]> {
  const samples = rows.map(() => [] as number[]);
  const stalls = rows.map(() => 0);
  for (let i = 0; i < WARMUP + N; i++) {
    for (const [k, row] of rows.entries()) {
      const pod = await startPod();
      // The longest gap between ticks of a 1 ms timer: how long the agent could not serve ZDS,
      // the plugin socket or its informers. The wait after the add lets the ticker see its end.
      let last = performance.now();
      let worst = 0;
      const ticker = setInterval(() => {
        const now = performance.now();
        worst = Math.max(worst, now - last);
        last = now;
      }, 1);
      const t0 = performance.now();
      const f = await row.add(pod);
      const ms = performance.now() - t0;
      await new Promise((r) => setTimeout(r, 3));
      clearInterval(ticker);
      closeFd(f.fd);
      if (i >= WARMUP) {
        samples[k]!.push(ms);
        stalls[k] = Math.max(stalls[k]!, worst);
      }
    }
  }
  return rows.map((r, k) => {
    const s = samples[k]!.sort((a, b) => a - b);
    return { name: r.name, median: percentile(s, 50), p90: percentile(s, 90), stall: stalls[k]! };
  });
}

/** Finds every present pod's netns, `rounds` times per row; total ms per round. */
function measureAll(rounds: number, rows: { name: string; finder: () => (ips: string[]) => FoundNetns | undefined }[]): Summary[] {
  const present = [...pods];
  const samples = rows.map(() => [] as number[]);
  for (let i = 0; i < rounds; i++) {
    for (const [k, row] of rows.entries()) {
      const t0 = performance.now();
      const find = row.finder();
      for (const p of present) closeFd(found(find([p.ip]), p).fd);
      samples[k]!.push(performance.now() - t0);
    }
  }
  return rows.map((r, k) => {
    const s = samples[k]!.sort((a, b) => a - b);
    return { name: r.name, median: percentile(s, 50), p90: percentile(s, 90), stall: Number.NaN };
  });
}

function renderTable(rows: Summary[], first = 'capture one running pod'): string {
  const withStall = rows.some((r) => !Number.isNaN(r.stall));
  const head = [first, 'median ms', 'p90 ms', ...(withStall ? ['longest loop gap ms'] : [])];
  const body = rows.map((r) => [r.name, r.median.toFixed(1), r.p90.toFixed(1), ...(withStall ? [r.stall.toFixed(1)] : [])]);
  return renderTextTable(head, body);
}

let code = 0;
try {
  if (!isRoot) throw new Error('must run as root: creates network namespaces');
  log(`starting ${PODS} pods`);
  for (let i = 0; i < PODS; i++) await startPod();
  const index = new NetnsIndex();
  // The agent's index is warm after its first lookup (agent start reconciles every pod).
  closeFd(found(index.find([pods[0]!.ip]), pods[0]!).fd);
  const rows: Row[] = [
    { name: 'netns lookup: /proc walk (before)', add: async (p) => found(findNetnsByIp([p.ip]), p) },
    { name: 'netns lookup: index (after)', add: async (p) => found(index.find([p.ip]), p) },
    {
      name: 'lookup + rules: walk, spawnSync (before)',
      add: async (p) => {
        const f = found(findNetnsByIp([p.ip]), p);
        applyInpodRules({ path: fdPath(f.fd) }, OPTS, 'iptables');
        return f;
      },
    },
    {
      name: 'lookup + rules: index, async (after)',
      add: async (p) => {
        const f = found(index.find([p.ip]), p);
        await applyInpodRulesAsync({ path: fdPath(f.fd) }, OPTS, 'iptables');
        return f;
      },
    },
  ];
  log(`measuring ${rows.length} rows, interleaved: ${WARMUP} warm-up + ${N} rounds, a fresh pod per sample`);
  const results = await measure(rows);
  const cpu = cpus();
  process.stdout.write(`\nbench/cni add-pod on ${cpu[0]?.model ?? 'unknown CPU'} x${cpu.length}, Linux ${release()}, Node ${process.version}; ${PODS} pods present (+1 per sample), N=${N} per row, rows interleaved, iptables flavour\n\n`);
  process.stdout.write(`${renderTable(results)}\n`);
  const rounds = Math.max(1, Math.ceil(N / 4));
  log(`finding all ${pods.length} pods, ${rounds} rounds per row`);
  const all = measureAll(rounds, [
    { name: '/proc walk per pod (before)', finder: () => (ips) => findNetnsByIp(ips) },
    {
      name: 'one index, cold (after)',
      finder: () => {
        const cold = new NetnsIndex();
        return (ips) => cold.find(ips);
      },
    },
  ]);
  process.stdout.write(`\nagent start: the netns of all ${pods.length} pods, ${rounds} rounds per row\n\n${renderTable(all, `find ${pods.length} pods`)}\n`);
} catch (err) {
  log(`failed: ${(err as Error).stack ?? String(err)}`);
  code = 1;
} finally {
  for (const p of pods) p.proc.kill('SIGKILL');
  for (const p of pods.reverse()) {
    try {
      p.ns.remove();
    } catch {
      /* keep cleaning */
    }
  }
}
process.exit(code);
