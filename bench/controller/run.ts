// bench/controller on a lab with the mesh in controller mode: per round, N fake-ready pods created
// through the apiserver; for each pod the moment the bench's watch delivers Ready=True and the moment
// each ztunnel's /config_dump first holds its workload; the controller's and ztunnels' RSS once all
// are in. Then the pods are deleted and the round ends when the apiserver and every ztunnel are rid
// of them. Every wait has a deadline; a round that misses it fails with what was still missing.
import { readFileSync } from 'node:fs';
import { KubeClient, KubeError, type KubeObject } from '../../e2e/lab/kube-client.ts';
import { FAKE_READY_ANNOTATION, isFakePodIp } from '../../e2e/lab/kubelet/fake-pods.ts';
import type { LabState } from '../../e2e/lab/state.ts';
import type { LabMesh } from '../../e2e/ztunnel/lab-mesh.ts';
import { podUidPrefix } from './config-dump.ts';
import { DumpPoller, monotonicMs, type PollTarget } from './dump-poller.ts';
import type { ControllerBenchOptions } from './options.ts';
import { BENCH_NAMESPACE, benchPod, isPodReady, nodeFor, podNames, type BenchPodStatus } from './pods.ts';
import { summarizeLatencies, vmRssMiB, type RoundResult } from './report.ts';
import { RoundTracker, type RoundProgress } from './track.ts';

export class BenchError extends Error {
  readonly code: 'BENCH_TIMEOUT' | 'BENCH_NOT_FAKE' | 'BENCH_POLL_FAILED' | 'BENCH_API_FAILED';
  constructor(code: BenchError['code'], message: string) {
    super(message);
    this.code = code;
  }
}

interface BenchPod extends KubeObject {
  status?: BenchPodStatus;
}

const SETUP_TIMEOUT_MS = 60_000;
const PROGRESS_EVERY_MS = 5_000;
const WAIT_STEP_MS = 50;
const API_ATTEMPTS = 5;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function rssMiB(pid: number): number {
  try {
    return vmRssMiB(readFileSync(`/proc/${pid}/status`, 'utf8'));
  } catch {
    return Number.NaN;
  }
}

/** Overload and transport failures are retried with backoff; `accept` turns an expected status (409, 404) into success. */
async function apiCall(what: string, fn: () => Promise<unknown>, accept: number[] = []): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      await fn();
      return;
    } catch (err) {
      if (err instanceof KubeError && accept.includes(err.status)) return;
      const retry = !(err instanceof KubeError) || err.status === 429 || err.status >= 500;
      if (!retry || attempt >= API_ATTEMPTS) throw new BenchError('BENCH_API_FAILED', `${what}: ${(err as Error).message}`);
      await sleep(200 * 2 ** attempt);
    }
  }
}

/** Runs `fn` over `items` with at most `limit` calls in flight; stops taking items after the first failure or once `stop()` says so. */
async function inParallel<T>(items: readonly T[], limit: number, fn: (item: T) => Promise<void>, stop: () => Error | undefined = () => undefined): Promise<void> {
  let next = 0;
  let failed: unknown;
  const worker = async () => {
    while (next < items.length && failed === undefined) {
      const why = stop();
      if (why) {
        failed = why;
        break;
      }
      const item = items[next++]!;
      try {
        await fn(item);
      } catch (err) {
        failed ??= err;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  if (failed !== undefined) throw failed;
}

/**
 * Polls `done` until it holds, failing at once when `fatal` reports an error and after `deadlineAt`
 * (monotonic ms) with `describe()` in the message; logs `describe()` every few seconds meanwhile.
 */
async function waitUntil(what: string, done: () => boolean, deadlineAt: number, fatal: () => Error | undefined, describe: () => string, log: (l: string) => void): Promise<void> {
  let nextLog = monotonicMs() + PROGRESS_EVERY_MS;
  for (;;) {
    const err = fatal();
    if (err) throw err;
    if (done()) return;
    const now = monotonicMs();
    if (now > deadlineAt) throw new BenchError('BENCH_TIMEOUT', `timed out waiting for ${what}: ${describe()}`);
    if (now >= nextLog) {
      log(`  ${describe()}`);
      nextLog = now + PROGRESS_EVERY_MS;
    }
    await sleep(WAIT_STEP_MS);
  }
}

function describeProgress(p: RoundProgress, created: number, missing: string[]): string {
  const on = Object.entries(p.seenBy).map(([z, n]) => `on ${z} ${n}`).join(', ');
  return `created ${created}/${p.total}, Ready ${p.ready}, ${on}, done ${p.done}${missing.length ? `; still missing e.g. ${missing.join(', ')}` : ''}`;
}

interface BenchContext {
  client: KubeClient;
  mesh: LabMesh;
  nodes: string[];
  targets: PollTarget[];
  o: ControllerBenchOptions;
  log: (l: string) => void;
}

async function ensureNamespace(client: KubeClient): Promise<void> {
  // Not labelled istio.io/dataplane-mode=ambient: the node agent must not try to capture pods that
  // have no netns. Workloads reach every ztunnel anyway (tunnel protocol NONE).
  await apiCall(`create namespace ${BENCH_NAMESPACE}`, () => client.request('POST', '/api/v1/namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name: BENCH_NAMESPACE } }), [409]);
  // Pods are refused until the service-account controller made the namespace's default account.
  const deadline = monotonicMs() + SETUP_TIMEOUT_MS;
  for (;;) {
    try {
      await client.request('GET', `/api/v1/namespaces/${BENCH_NAMESPACE}/serviceaccounts/default`);
      return;
    } catch (err) {
      if (!(err instanceof KubeError && err.status === 404)) throw err;
    }
    if (monotonicMs() > deadline) throw new BenchError('BENCH_TIMEOUT', `the ServiceAccount ${BENCH_NAMESPACE}/default did not appear within ${SETUP_TIMEOUT_MS / 1000} s`);
    await sleep(200);
  }
}

function measureRss(ctx: BenchContext): Pick<RoundResult, 'controllerRssMiB' | 'ztunnelRssMiB'> {
  return {
    controllerRssMiB: rssMiB(ctx.mesh.controller().pid),
    ztunnelRssMiB: ctx.nodes.map((n) => rssMiB(ctx.mesh.ztunnel(n).pid)),
  };
}

async function runRound(ctx: BenchContext, round: number, size: number): Promise<RoundResult> {
  const { client, nodes, o, log } = ctx;
  const names = podNames(round, size);
  const prefix = podUidPrefix(BENCH_NAMESPACE);
  const tracker = new RoundTracker(names, nodes, prefix);
  const live = new Set<string>();
  let fatal: Error | undefined;
  let synced = false;
  let created = 0;

  const observe = (pod: BenchPod, at: number): void => {
    const name = pod.metadata.name;
    live.add(name);
    if (!isPodReady(pod.status)) return;
    const ip = pod.status?.podIP ?? '';
    if (!isFakePodIp(ip)) {
      fatal ??= new BenchError('BENCH_NOT_FAKE', `pod ${BENCH_NAMESPACE}/${name} became Ready with address "${ip}", not a fake-ready one: does the lab's kubelet stand-in know the ${FAKE_READY_ANNOTATION} annotation?`);
      return;
    }
    tracker.ready(name, at);
  };
  const stopWatch = client.informer<BenchPod>(`/api/v1/namespaces/${BENCH_NAMESPACE}/pods`, {
    onSync: (pods) => {
      const at = monotonicMs();
      live.clear();
      for (const p of pods) observe(p, at);
      synced = true;
    },
    onEvent: (ev) => {
      const at = monotonicMs();
      if (ev.type === 'DELETED') live.delete(ev.object.metadata.name);
      else observe(ev.object, at);
    },
    onError: (err) => log(`  pod watch: ${err.message} (it restarts)`),
  });
  const poller = new DumpPoller({ targets: ctx.targets, prefix, intervalMs: o.pollMs, timeoutMs: 30_000 }, (m) => tracker.seen(m.node, m.added, m.at));
  const pollFailure = (): BenchError | undefined => {
    const e = poller.failure();
    return e && new BenchError('BENCH_POLL_FAILED', e.message);
  };
  const failure = () => fatal ?? pollFailure();
  const progress = () => describeProgress(tracker.progress(), created, tracker.missing(3));
  try {
    await waitUntil('the bench pod watch to list', () => synced, monotonicMs() + SETUP_TIMEOUT_MS, failure, () => 'no list yet', log);
    if (live.size) throw new BenchError('BENCH_API_FAILED', `namespace ${BENCH_NAMESPACE} still has ${live.size} pods from before`);

    log(`round ${round}: creating ${size} fake-ready pods over ${nodes.join(', ')}, ${o.concurrency} at a time`);
    const t0 = monotonicMs();
    const deadlineAt = t0 + o.deadlineMs;
    await inParallel(names.map((name, i) => ({ name, node: nodeFor(i, nodes) })), o.concurrency, async ({ name, node }) => {
      // 409: an earlier attempt that timed out on our side went through.
      await apiCall(`create pod ${name}`, () => client.request('POST', `/api/v1/namespaces/${BENCH_NAMESPACE}/pods`, benchPod(name, node)), [409]);
      created++;
    }, failure);
    const createdAt = monotonicMs();
    log(`round ${round}: ${size} pods created in ${((createdAt - t0) / 1000).toFixed(2)} s; waiting for Ready and every ztunnel`);
    await waitUntil(`${size} pods to be Ready and on every ztunnel`, () => tracker.isComplete(), deadlineAt, failure, progress, log);

    const rss = measureRss(ctx);
    const stats = poller.stats();
    const last = tracker.lastTimes();
    const result: RoundResult = {
      pods: size,
      createdMs: createdAt - t0,
      readyMs: last.ready === undefined ? undefined : last.ready - t0,
      appearedMs: last.allSeen === undefined ? undefined : last.allSeen - t0,
      latency: summarizeLatencies(tracker.latencies()),
      ...rss,
      poll: { meanMs: stats.meanMs, maxMs: stats.maxMs },
      dumpMiB: stats.maxBytes / (1024 * 1024),
    };
    log(`round ${round}: all ${size} pods on every ztunnel after ${((result.appearedMs ?? 0) / 1000).toFixed(2)} s; push p50 ${result.latency?.p50.toFixed(0)} ms, max ${result.latency?.max.toFixed(0)} ms`);

    log(`round ${round}: deleting the pods`);
    const gone = () => live.size === 0 && nodes.every((n) => poller.count(n) === 0);
    const leftovers = () => `${live.size} pods left in the apiserver, ${nodes.map((n) => `${poller.count(n) ?? '?'} on ${n}`).join(', ')}`;
    const deleteDeadline = monotonicMs() + o.deadlineMs;
    await inParallel(names, o.concurrency, (name) =>
      // Grace 0: the apiserver removes the object at once, the kubelet stand-in frees the address on the event.
      apiCall(`delete pod ${name}`, () => client.request('DELETE', `/api/v1/namespaces/${BENCH_NAMESPACE}/pods/${name}`, { apiVersion: 'v1', kind: 'DeleteOptions', gracePeriodSeconds: 0 }), [404]),
    pollFailure);
    await waitUntil(`${size} pods to leave the apiserver and every ztunnel`, gone, deleteDeadline, pollFailure, leftovers, log);
    // The watch could lag behind a relist; ask the apiserver itself once.
    const list = await client.request<{ items: unknown[] }>('GET', `/api/v1/namespaces/${BENCH_NAMESPACE}/pods?limit=1`);
    if (list.items.length) throw new BenchError('BENCH_API_FAILED', `namespace ${BENCH_NAMESPACE} still lists pods after the round`);
    return result;
  } finally {
    stopWatch();
    await poller.stop();
  }
}

/**
 * Runs one round per size in `o.sizes` on the lab's mesh (started with the controller), after an
 * idle row (no bench pods). Each finished row goes to `onRow` at once, so a later failure keeps the
 * earlier rows.
 */
export async function runControllerBench(lab: LabState, mesh: LabMesh, o: ControllerBenchOptions, onRow: (row: RoundResult) => void, log: (l: string) => void = () => {}): Promise<void> {
  const client = new KubeClient(lab.kubeconfig);
  try {
    const nodes = lab.nodes.map((n) => n.name);
    const targets = nodes.map((node) => ({ node, url: `http://127.0.0.1:${mesh.ztunnel(node).ports.admin}/config_dump` }));
    const ctx: BenchContext = { client, mesh, nodes, targets, o, log };
    await ensureNamespace(client);
    onRow({ pods: 0, ...measureRss(ctx) });
    for (const [i, size] of o.sizes.entries()) onRow(await runRound(ctx, i + 1, size));
  } finally {
    client.close();
  }
}
