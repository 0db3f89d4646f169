// The kubelet stand-in of one lab node (a host process): keeps the Node Ready, runs the pods bound
// to it through PodRuntime, reports their status, and runs the node's kube-proxy stand-in.
import { mkdirSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { parse as parseYaml } from 'yaml';
import { KubeClient, KubeError } from '../kube-client.ts';
import { startKubeProxy } from './kube-proxy.ts';
import { EventRecorder } from './events.ts';
import { heartbeat } from './node-status.ts';
import { FakePods, isFakeReady } from './fake-pods.ts';
import { buildPodStatus } from './pod-status.ts';
import { prepareNodeRoot } from './node-root.ts';
import { isHostProcessPod, PodRuntime } from './pod-runtime.ts';
import type { Pod, PodRecord } from './types.ts';
import { VolumeManager } from './volume-manager.ts';
import { startKubeletServer } from './api/server.ts';

const { values: opt } = parseArgs({
  options: {
    node: { type: 'string' },
    netns: { type: 'string' },
    prefix: { type: 'string' },
    'run-id': { type: 'string' },
    kubeconfig: { type: 'string' },
    'proxy-kubeconfig': { type: 'string' },
    'cni-conf-dir': { type: 'string' },
    'cni-bin-dir': { type: 'string', multiple: true, default: [] },
    'pods-dir': { type: 'string' },
    /** The node's root for hostPath volumes; default `<lab dir>/nodes/<node>/host` (the lab dir holds pods-dir). */
    'node-root': { type: 'string' },
    'internal-ip': { type: 'string' },
    'pod-cidr': { type: 'string' },
    'kube-version': { type: 'string', default: 'v1.35.4' },
    // The kubelet API (exec, logs, port-forward), HTTPS on the host's loopback; off without a port.
    'kubelet-port': { type: 'string' },
    'tls-cert-file': { type: 'string' },
    'tls-private-key-file': { type: 'string' },
    'client-ca-file': { type: 'string' },
    /** CN of a client certificate the API accepts (the apiserver's kubelet client); repeatable. */
    'allowed-client': { type: 'string', multiple: true, default: [] },
  },
});
function need(k: keyof typeof opt): string {
  const v = opt[k];
  if (typeof v !== 'string' || !v) {
    console.error(`kubelet: --${k} is required`);
    process.exit(2);
  }
  return v;
}
const nodeName = need('node');
const internalIp = need('internal-ip');
const podsDir = need('pods-dir');
mkdirSync(podsDir, { recursive: true });

function log(msg: string, fields: Record<string, unknown> = {}): void {
  process.stdout.write(`${JSON.stringify({ time: new Date().toISOString(), node: nodeName, msg, ...fields })}\n`);
}

const client = new KubeClient(need('kubeconfig'));
const nodeRoot = prepareNodeRoot(opt['node-root'] ?? join(dirname(resolve(podsDir)), 'nodes', nodeName, 'host'), {
  cniConfDir: need('cni-conf-dir'),
  ...(opt['cni-bin-dir']?.[0] ? { cniBinDir: opt['cni-bin-dir'][0] } : {}),
});
/** The apiserver and its CA as this kubelet's kubeconfig names them, for host-process pods' kubeconfigs. */
function apiserverOf(kubeconfig: string): { server: string; caFile: string } {
  const kc = parseYaml(readFileSync(kubeconfig, 'utf8')) as { clusters?: { cluster?: { server?: string; 'certificate-authority'?: string } }[] };
  const c = kc.clusters?.[0]?.cluster;
  if (!c?.server || !c['certificate-authority']) throw new Error(`kubelet: ${kubeconfig} names no server and certificate-authority file`);
  return { server: c.server, caFile: resolve(dirname(kubeconfig), c['certificate-authority']) };
}
const kubeletPort = opt['kubelet-port'] ? Number(opt['kubelet-port']) : undefined;
if (kubeletPort !== undefined && !(Number.isInteger(kubeletPort) && kubeletPort > 0 && kubeletPort < 65536)) {
  console.error(`kubelet: --kubelet-port ${opt['kubelet-port']} is not a port`);
  process.exit(2);
}
const KUBELET_ADDRESS = '127.0.0.1';
const info = {
  name: nodeName, internalIp, podCidr: need('pod-cidr'), kubeletVersion: opt['kube-version'] ?? 'v1.35.4',
  ...(kubeletPort ? { kubeletAddress: KUBELET_ADDRESS, kubeletPort } : {}),
};

// API writes (status patches, final deletes) share one bound: thousands of pods changing at once
// (bench/controller's fake-ready pods) queue here instead of opening thousands of connections, which
// the apiserver would answer with 429 past its in-flight limit. A finishing write hands its slot to
// the oldest waiter.
const MAX_API_WRITES = 32;
let apiWrites = 0;
const apiWriteQueue: (() => void)[] = [];
async function apiWrite<T>(fn: () => Promise<T>): Promise<T> {
  if (apiWrites < MAX_API_WRITES) apiWrites++;
  else await new Promise<void>((resolve) => apiWriteQueue.push(resolve));
  try {
    return await fn();
  } finally {
    const next = apiWriteQueue.shift();
    if (next) next();
    else apiWrites--;
  }
}

/** Overload and transport failures are worth another try; 404 (pod gone) and 409 (pod replaced) are not. */
function retryable(err: unknown): boolean {
  return err instanceof KubeError ? err.status === 429 || err.status >= 500 : true;
}
const STATUS_RETRY_MS = 1000;

// Status writes are coalesced per pod: the newest record wins, one request in flight per pod, and the
// record is read when the write gets its slot (updates made while queued are folded in).
const pendingStatus = new Map<string, PodRecord>();
const inflight = new Set<string>();
async function flushStatus(uid: string): Promise<void> {
  if (inflight.has(uid) || !pendingStatus.has(uid)) return;
  inflight.add(uid);
  try {
    const failed = await apiWrite(async () => {
      const rec = pendingStatus.get(uid);
      if (!rec) return false;
      pendingStatus.delete(uid);
      try {
        const status = buildPodStatus(rec, internalIp, new Date().toISOString());
        await client.request('PATCH', `/api/v1/namespaces/${rec.namespace}/pods/${rec.name}/status`,
          { metadata: { uid: rec.uid }, status }, 'application/merge-patch+json');
        return false;
      } catch (err) {
        if (!(err instanceof KubeError && (err.status === 404 || err.status === 409))) log('status update failed', { pod: rec.name, error: (err as Error).message });
        if (!retryable(err)) return false;
        if (!pendingStatus.has(uid)) pendingStatus.set(uid, rec);
        return true;
      }
    });
    // Back off outside the write slot; the pod stays in flight, so newer records coalesce meanwhile.
    if (failed) await new Promise((r) => setTimeout(r, STATUS_RETRY_MS));
  } finally {
    inflight.delete(uid);
    if (pendingStatus.has(uid)) void flushStatus(uid);
  }
}

function reportStatus(rec: PodRecord): void {
  pendingStatus.set(rec.uid, rec);
  void flushStatus(rec.uid);
}

const runtime = new PodRuntime({
  nodeName,
  nodeNetns: need('netns'),
  prefix: need('prefix'),
  runId: need('run-id'),
  cniConfDir: need('cni-conf-dir'),
  extraCniBinDirs: opt['cni-bin-dir'] ?? [],
  podsDir,
  nodeIp: internalIp,
  nodeRoot,
  apiserver: apiserverOf(need('kubeconfig')),
  volumes: new VolumeManager({ client, log, nodeRoot }),
  events: new EventRecorder(client, nodeName, log),
  log,
  onChange: reportStatus,
});
const fakePods = new FakePods({ podCidr: info.podCidr, onChange: reportStatus, log });

async function finishDeletion(pod: Pod): Promise<void> {
  const uid = pod.metadata.uid!;
  await runtime.stop(uid, pod.metadata.deletionGracePeriodSeconds ?? pod.spec.terminationGracePeriodSeconds ?? 5);
  try {
    await apiWrite(() => client.request('DELETE', `/api/v1/namespaces/${pod.metadata.namespace}/pods/${pod.metadata.name}`,
      { apiVersion: 'v1', kind: 'DeleteOptions', gracePeriodSeconds: 0, preconditions: { uid } }));
  } catch (err) {
    if (!(err instanceof KubeError && (err.status === 404 || err.status === 409))) log('pod delete failed', { pod: pod.metadata.name, error: (err as Error).message });
  }
  log('pod removed', { pod: `${pod.metadata.namespace}/${pod.metadata.name}` });
}

function syncPod(pod: Pod): void {
  const uid = pod.metadata.uid;
  // hostNetwork pods of other images (the mesh harness's stand-in ztunnel pods) are left alone.
  if (!uid || (pod.spec.hostNetwork && !isHostProcessPod(pod))) return;
  if (isFakeReady(pod)) {
    if (pod.metadata.deletionTimestamp) {
      fakePods.stop(uid);
      void finishDeletion(pod);
    } else fakePods.start(pod);
    return;
  }
  if (pod.metadata.deletionTimestamp) {
    void finishDeletion(pod);
    return;
  }
  const phase = (pod.status as { phase?: string } | undefined)?.phase;
  if (runtime.get(uid)) runtime.updated(pod);
  else if (phase !== 'Succeeded' && phase !== 'Failed') {
    log('starting pod', { pod: `${pod.metadata.namespace}/${pod.metadata.name}` });
    void runtime.start(pod).catch((err: Error) => log('pod start failed', { pod: pod.metadata.name, error: err.message }));
  }
}

const stopPods = client.informer<Pod>(`/api/v1/pods?fieldSelector=spec.nodeName%3D${nodeName}`, {
  onSync: (pods) => {
    const live = new Set(pods.map((p) => p.metadata.uid));
    for (const uid of runtime.uids()) if (!live.has(uid)) void runtime.stop(uid, 2);
    for (const uid of fakePods.uids()) if (!live.has(uid)) fakePods.stop(uid);
    for (const p of pods) syncPod(p);
  },
  onEvent: (ev) => {
    if (ev.type === 'DELETED') {
      fakePods.stop(ev.object.metadata.uid!);
      void runtime.stop(ev.object.metadata.uid!, 2);
    } else syncPod(ev.object);
  },
  onError: (err) => log('pod watch error', { error: err.message }),
});

const stopProxy = startKubeProxy({
  kubeconfig: opt['proxy-kubeconfig'] ?? need('kubeconfig'),
  nodeNetns: need('netns'),
  podCidr: info.podCidr,
  log,
});

const kubeletApi = kubeletPort
  ? await startKubeletServer({
    host: runtime, port: kubeletPort, bindAddress: KUBELET_ADDRESS,
    certFile: need('tls-cert-file'), keyFile: need('tls-private-key-file'), clientCaFile: need('client-ca-file'),
    allowedClients: opt['allowed-client'] ?? [], log,
  })
  : undefined;
if (kubeletApi) log('kubelet API serving', { address: `${KUBELET_ADDRESS}:${kubeletApi.port}` });

async function beat(): Promise<void> {
  try {
    await heartbeat(client, info);
  } catch (err) {
    log('heartbeat failed', { error: (err as Error).message });
  }
}
await beat();
const timer = setInterval(() => void beat(), 10_000);
log('kubelet stand-in running');

let shuttingDown = false;
async function shutdown(signal: string): Promise<void> {
  if (shuttingDown) return;
  shuttingDown = true;
  log('shutting down', { signal });
  clearInterval(timer);
  stopPods();
  stopProxy();
  void kubeletApi?.close();
  await runtime.stopAll();
  client.close();
  process.exit(0);
}
process.on('SIGTERM', () => void shutdown('SIGTERM'));
process.on('SIGINT', () => void shutdown('SIGINT'));
