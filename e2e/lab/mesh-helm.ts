// The mesh on the lab as a user installs it: four Helm releases (Istio's names: istio-base,
// istiod, istio-cni, ztunnel) of charts/ into istio-system with the lab's values
// (e2e/lab/helm-values/), using the helm built into the lab's tools. The kubelet stand-ins run the
// pods of our images as host processes of their nodes (e2e/lab/images/catalogue.ts); this module
// runs helm, prints each command, and waits until the workloads are Ready.
import { join } from 'node:path';
import { REPO_ROOT } from './config.ts';
import { tail } from './daemons.ts';
import { run, type RunResult } from './exec.ts';
import { kubectlSync, podLogLines, podLogPath, podRef, readJsonLines } from './lab.ts';
import { waypointProcess, ztunnelHttp, type WaypointProcess } from '../ztunnel/lab-mesh.ts';
import { pollUntil } from './poll.ts';
import { writeState, type LabState } from './state.ts';

export const MESH_NAMESPACE = 'istio-system';
const CHARTS = join(REPO_ROOT, 'charts');
const VALUES = join(REPO_ROOT, 'e2e/lab/helm-values');

/** The releases in install order: Helm release name, chart dir, lab values file (if any). */
export const RELEASES = [
  { release: 'istio-base', chart: 'base', values: undefined },
  { release: 'istiod', chart: 'istiod', values: 'istiod.yaml' },
  { release: 'istio-cni', chart: 'cni', values: 'cni.yaml' },
  { release: 'ztunnel', chart: 'ztunnel', values: 'ztunnel.yaml' },
] as const;

export interface MeshHelmOptions {
  /** Where each helm command line goes before it runs (default: stderr). */
  log?: (line: string) => void;
  timeoutMs?: number;
}

const show = (args: string[]): string => `helm ${args.map((a) => (/^[\w./:=,@-]+$/.test(a) ? a : JSON.stringify(a))).join(' ')}`;

/** Runs helm against the lab (admin kubeconfig), printing the command with repository-relative paths. */
export function helm(lab: LabState, args: string[], opts: MeshHelmOptions & { allowFail?: boolean } = {}): RunResult {
  const log = opts.log ?? ((l: string) => process.stderr.write(`${l}\n`));
  log(`$ ${show(args.map((a) => (a.startsWith(`${REPO_ROOT}/`) ? a.slice(REPO_ROOT.length + 1) : a)))}`);
  return run([join(lab.toolsBin, 'helm'), `--kubeconfig=${lab.kubeconfig}`, ...args], { timeoutMs: 300_000, allowFail: opts.allowFail === true });
}

function releaseArgs(verb: 'install' | 'upgrade', r: (typeof RELEASES)[number], extra: string[]): string[] {
  return [
    verb, r.release, join(CHARTS, r.chart), '-n', MESH_NAMESPACE,
    ...(verb === 'install' ? ['--create-namespace'] : []),
    ...(r.values ? ['-f', join(VALUES, r.values)] : []),
    ...extra,
  ];
}

interface PodItem {
  metadata: { name: string; uid: string; labels?: Record<string, string>; deletionTimestamp?: string; ownerReferences?: { kind: string; name: string }[] };
  spec: { nodeName?: string; containers: { name: string; image: string }[] };
  status: { phase?: string; podIP?: string; conditions?: { type: string; status: string }[]; containerStatuses?: { name: string; restartCount: number; ready: boolean; state?: Record<string, unknown> }[] };
}

interface WorkloadItem {
  metadata: { name: string; generation?: number };
  spec: { replicas?: number };
  status: {
    observedGeneration?: number;
    // Deployment
    replicas?: number; readyReplicas?: number; updatedReplicas?: number; availableReplicas?: number;
    // DaemonSet
    desiredNumberScheduled?: number; numberReady?: number; updatedNumberScheduled?: number; numberAvailable?: number;
  };
}

function getJson<T>(lab: LabState, args: string[]): T {
  return JSON.parse(kubectlSync(lab, [...args, '-o', 'json']).stdout) as T;
}

export function meshPods(lab: LabState): PodItem[] {
  return getJson<{ items: PodItem[] }>(lab, ['get', 'pods', '-n', MESH_NAMESPACE]).items;
}

const podReady = (p: PodItem): boolean => p.status.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') === true;

/**
 * Pure: whether a Deployment/DaemonSet finished its rollout (the controller saw the newest spec,
 * every replica is updated and ready, none left over from before), or what it still waits for.
 */
export function rolloutState(kind: 'Deployment' | 'DaemonSet', w: WorkloadItem): { done: true } | { done: false; why: string } {
  const s = w.status;
  if ((s.observedGeneration ?? 0) < (w.metadata.generation ?? 1)) return { done: false, why: 'spec not observed yet' };
  if (kind === 'Deployment') {
    const want = w.spec.replicas ?? 1;
    if ((s.updatedReplicas ?? 0) < want) return { done: false, why: `${s.updatedReplicas ?? 0}/${want} updated` };
    if ((s.replicas ?? 0) > want) return { done: false, why: `${(s.replicas ?? 0) - want} old replicas left` };
    if ((s.readyReplicas ?? 0) < want) return { done: false, why: `${s.readyReplicas ?? 0}/${want} ready` };
    return { done: true };
  }
  const want = s.desiredNumberScheduled ?? 0;
  if (want === 0) return { done: false, why: 'no node scheduled yet' };
  if ((s.updatedNumberScheduled ?? 0) < want) return { done: false, why: `${s.updatedNumberScheduled ?? 0}/${want} updated` };
  if ((s.numberReady ?? 0) < want || (s.numberAvailable ?? 0) < want) return { done: false, why: `${s.numberReady ?? 0}/${want} ready` };
  return { done: true };
}

/** What the mesh pods look like, for a timeout message: each pod's phase, readiness and log tail. */
function describeMesh(lab: LabState): string {
  const out: string[] = [];
  for (const p of meshPods(lab)) {
    out.push(`pod ${p.metadata.name} on ${p.spec.nodeName ?? '(unscheduled)'}: ${p.status.phase ?? '?'} ready=${podReady(p)} ${JSON.stringify(p.status.containerStatuses?.map((c) => c.state) ?? [])}`);
    for (const c of p.spec.containers) {
      try {
        out.push(tail(podLogPath(MESH_NAMESPACE, p.metadata.name, c.name, lab), 8).replace(/^/gm, '    '));
      } catch {
        /* not started on a node */
      }
    }
  }
  return out.join('\n');
}

/** Waits until istiod's Deployment and the istio-cni-node and ztunnel DaemonSets are rolled out and Ready on every node. */
export async function waitForMesh(lab: LabState, timeoutMs = 120_000): Promise<void> {
  const nodes = lab.nodes.length;
  try {
    await pollUntil('the mesh (istiod, istio-cni-node, ztunnel) to be Ready', () => {
      const dep = getJson<WorkloadItem>(lab, ['get', 'deployment', '-n', MESH_NAMESPACE, 'istiod']);
      const d = rolloutState('Deployment', dep);
      if (!d.done) throw new Error(`istiod: ${d.why}`);
      for (const name of ['istio-cni-node', 'ztunnel']) {
        const ds = getJson<WorkloadItem>(lab, ['get', 'daemonset', '-n', MESH_NAMESPACE, name]);
        const r = rolloutState('DaemonSet', ds);
        if (!r.done) throw new Error(`${name}: ${r.why}`);
        if ((ds.status.desiredNumberScheduled ?? 0) !== nodes) throw new Error(`${name}: on ${ds.status.desiredNumberScheduled} of ${nodes} nodes`);
      }
      // Pods still terminating (an old ztunnel draining) are not part of a finished rollout.
      if (meshPods(lab).some((p) => p.metadata.deletionTimestamp)) throw new Error('pods still terminating');
      return true;
    }, { timeoutMs });
  } catch (err) {
    throw new Error(`${(err as Error).message}\n${describeMesh(lab)}`);
  }
  recordZtunnelAdmin(lab);
}

/** `helm install` of the four releases, then waits until the mesh is Ready on every node. */
export async function installMesh(lab: LabState, opts: MeshHelmOptions = {}): Promise<void> {
  for (const r of RELEASES) helm(lab, releaseArgs('install', r, []), opts);
  await waitForMesh(lab, opts.timeoutMs);
}

/**
 * `helm upgrade` of the ztunnel release with `extra` arguments (e.g. `--set`), waiting until the
 * DaemonSet rolled the new pods out on every node (one node at a time: maxUnavailable 0, maxSurge 1).
 */
export async function upgradeZtunnel(lab: LabState, extra: string[], opts: MeshHelmOptions = {}): Promise<void> {
  const r = RELEASES.find((x) => x.release === 'ztunnel')!;
  helm(lab, releaseArgs('upgrade', r, extra), opts);
  await waitForMesh(lab, opts.timeoutMs ?? 180_000);
}

/** `helm uninstall` of the releases (reverse order); waits until their pods are gone. */
export async function uninstallMesh(lab: LabState, opts: MeshHelmOptions = {}): Promise<void> {
  const installed = new Set(helm(lab, ['list', '-n', MESH_NAMESPACE, '-q'], { ...opts, log: () => {} }).stdout.split('\n').map((s) => s.trim()).filter(Boolean));
  for (const r of [...RELEASES].reverse()) if (installed.has(r.release)) helm(lab, ['uninstall', r.release, '-n', MESH_NAMESPACE, '--wait', '--timeout', '2m'], opts);
  await pollUntil('the mesh pods to be gone', () => {
    const left = meshPods(lab).filter(isMeshPod);
    if (left.length) throw new Error(`still there: ${left.map((p) => p.metadata.name).join(', ')}`);
    return true;
  }, { timeoutMs: opts.timeoutMs ?? 120_000 });
  recordZtunnelAdmin(lab);
}

const MESH_IMAGE = /\/ambient-mesh\/(controller|cni|ztunnel)(:|@|$)/;
const isMeshPod = (p: PodItem): boolean => p.spec.containers.some((c) => MESH_IMAGE.test(c.image));

/** A running ztunnel pod's process: from its kubelet's exec index and its `ztunnel started` line. */
export interface ZtunnelPod {
  pod: string;
  node: string;
  uid: string;
  pid: number | null;
  restartCount: number;
  ports: { admin: number; metrics: number; readiness: number };
}

/** The Ready ztunnel pod of each node (the newest when two overlap in a hand-over). */
export function ztunnelPods(lab: LabState): Map<string, ZtunnelPod> {
  const out = new Map<string, ZtunnelPod>();
  const pods = meshPods(lab).filter((p) => p.metadata.labels?.app === 'ztunnel' && !p.metadata.deletionTimestamp && podReady(p));
  for (const p of pods) {
    const node = p.spec.nodeName;
    if (!node) continue;
    let ref;
    try {
      ref = podRef(MESH_NAMESPACE, p.metadata.name, lab);
    } catch {
      continue;
    }
    const started = podLogLines(MESH_NAMESPACE, p.metadata.name, 'istio-proxy', lab).filter((l) => l.msg === 'ztunnel started');
    const last = started[started.length - 1];
    if (!last) continue;
    out.set(node, {
      pod: p.metadata.name, node, uid: p.metadata.uid,
      pid: ref.containers['istio-proxy']?.pid ?? null,
      restartCount: p.status.containerStatuses?.find((c) => c.name === 'istio-proxy')?.restartCount ?? 0,
      ports: { admin: Number(last.admin), metrics: Number(last.metrics), readiness: Number(last.readiness) },
    });
  }
  return out;
}

/** Each node's ztunnel admin port in the lab state, for `lab ambientctl`. */
function recordZtunnelAdmin(lab: LabState): void {
  const ports: Record<string, number> = {};
  for (const [node, z] of ztunnelPods(lab)) ports[node] = z.ports.admin;
  lab.ztunnelAdminPorts = Object.keys(ports).length ? ports : undefined;
  writeState(lab);
}

/** A ztunnel pod's process as the whole-mesh suites see it (the same shape as LabMesh's, plus the pod). */
export interface HelmZtunnel {
  pod: string;
  pid: number;
  log: string;
  ports: { admin: number; metrics: number; readiness: number };
}

/** istiod's ports: fixed on the host's loopback by e2e/lab/helm-values/istiod.yaml. */
const ISTIOD_PORTS = { grpc: 15010, grpcTls: 15012, monitoring: 15014 } as const;

/**
 * The Helm-installed mesh, with the handle the whole-mesh suites and `make demo` use (the methods
 * LabMesh has for them): each node's ztunnel pod, istiod, their admin/metrics endpoints and logs.
 * Log lines of a node's earlier ztunnel pods (before an upgrade) stay readable while their files do.
 */
export class HelmMesh {
  readonly lab: LabState;
  private readonly ztunnelLogs = new Map<string, Set<string>>();

  private constructor(lab: LabState) {
    this.lab = lab;
  }

  /** `helm install` of the four releases (each command printed through `opts.log`), waiting until Ready. */
  static async install(lab: LabState, opts: MeshHelmOptions = {}): Promise<HelmMesh> {
    await installMesh(lab, opts);
    const mesh = new HelmMesh(lab);
    mesh.refresh();
    return mesh;
  }

  private refresh(): Map<string, ZtunnelPod> {
    const pods = ztunnelPods(this.lab);
    for (const [node, z] of pods) {
      const logs = this.ztunnelLogs.get(node) ?? new Set<string>();
      try {
        logs.add(podLogPath(MESH_NAMESPACE, z.pod, 'istio-proxy', this.lab));
      } catch {
        /* the pod left its node between the two reads */
      }
      this.ztunnelLogs.set(node, logs);
    }
    return pods;
  }

  ztunnel(node: string): HelmZtunnel {
    const z = this.refresh().get(node);
    if (!z || z.pid === null) throw new Error(`no Ready ztunnel pod on ${node}`);
    return { pod: z.pod, pid: z.pid, ports: z.ports, log: podLogPath(MESH_NAMESPACE, z.pod, 'istio-proxy', this.lab) };
  }

  controller(): { pid: number; log: string; ports: typeof ISTIOD_PORTS } {
    const pod = meshPods(this.lab).find((p) => p.metadata.labels?.app === 'istiod' && !p.metadata.deletionTimestamp && podReady(p));
    if (!pod) throw new Error('no Ready istiod pod');
    const ref = podRef(MESH_NAMESPACE, pod.metadata.name, this.lab);
    const pid = ref.containers.discovery?.pid;
    if (pid == null) throw new Error(`istiod pod ${pod.metadata.name} has no running discovery container`);
    return { pid, log: podLogPath(MESH_NAMESPACE, pod.metadata.name, 'discovery', this.lab), ports: ISTIOD_PORTS };
  }

  admin(node: string, path: string): Promise<string> {
    return ztunnelHttp(this.ztunnel(node).ports.admin, path);
  }

  metrics(node: string): Promise<string> {
    return ztunnelHttp(this.ztunnel(node).ports.metrics, '/metrics');
  }

  /** Every log line of `node`'s ztunnel pods (the current one and those seen before it), parsed. */
  logLines(node: string): Record<string, unknown>[] {
    this.refresh();
    const out: Record<string, unknown>[] = [];
    for (const f of this.ztunnelLogs.get(node) ?? []) out.push(...readJsonLines(f));
    return out;
  }

  /** A pod's container log lines parsed as JSON (e.g. a waypoint's access log). */
  podLogLines(namespace: string, podName: string, container = 'istio-proxy'): Record<string, unknown>[] {
    return podLogLines(namespace, podName, container, this.lab);
  }

  waypointProcess(namespace: string, podName: string): WaypointProcess | undefined {
    return waypointProcess(this.lab, namespace, podName);
  }

  /** `helm uninstall` of every release; the pods stay, in plaintext. */
  async stop(opts: MeshHelmOptions = {}): Promise<void> {
    await uninstallMesh(this.lab, { log: () => {}, ...opts });
  }
}
