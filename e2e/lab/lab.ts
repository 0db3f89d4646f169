// The lab cluster as a library: up, down, status, kubectl and exec. The CLI (`e2e/lab/lab`), `make
// demo` and the e2e suites all drive the lab through these functions.
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { CURRENT_FILE, LAB_PREFIX, PORTS, REPO_ROOT, runDir } from './config.ts';
import { apiserverUrl, startControlPlane } from './control-plane.ts';
import { processGone, startDaemon, tail, type ProcessRef } from './daemons.ts';
import { run, type RunResult } from './exec.ts';
import { KubeClient, KubeError } from './kube-client.ts';
import { createPki, KUBELET_CLIENT_CN, writeKubeconfig } from './pki.ts';
import { pollUntil } from './poll.ts';
import { isAlive, readState, writeState, type LabState } from './state.ts';
import { deleteNetns, killProcesses, labProcesses, leftovers, type Leftovers } from './sweep.ts';
import { createFabric, createNodes } from './topology.ts';

export class LabError extends Error {
  readonly code: 'LAB_RUNNING' | 'LAB_NOT_RUNNING' | 'LAB_POD_NOT_FOUND' | 'LAB_START_FAILED';
  constructor(code: LabError['code'], message: string) {
    super(message);
    this.code = code;
  }
}

export interface UpOptions {
  nodes?: number;
  log?: (line: string) => void;
}

/** True when the recorded lab still has a live process (a stale record is not a running lab). */
export function runningLab(): LabState | undefined {
  const s = readState();
  if (!s) return undefined;
  // Guard against pid reuse: a live pid counts only if it still carries this run's marker.
  const ours = new Set(labProcesses(s.runId).map((p) => p.pid));
  return s.processes.some((p) => ours.has(p.pid) && isAlive(p.pid)) ? s : undefined;
}

export function buildTools(log: (l: string) => void = () => {}): string {
  log('building control-plane tools (cached after the first time)');
  const r = spawnSync(join(REPO_ROOT, 'e2e/lab/build-tools.sh'), { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
  if (r.status !== 0) throw new LabError('LAB_START_FAILED', 'e2e/lab/build-tools.sh failed');
  const bin = r.stdout.trim().split('\n').pop();
  if (!bin) throw new LabError('LAB_START_FAILED', 'build-tools.sh printed no bin dir');
  return bin;
}

export async function up(opts: UpOptions = {}): Promise<LabState> {
  const log = opts.log ?? (() => {});
  const nodeCount = opts.nodes ?? 2;
  if (process.getuid?.() !== 0) throw new LabError('LAB_START_FAILED', 'the lab needs root (network namespaces, iptables)');
  const existing = runningLab();
  if (existing) throw new LabError('LAB_RUNNING', `a lab is already running (run ${existing.runId}, up since ${existing.startedAt}); run 'e2e/lab/lab down' first`);
  if (readState()) await down(); // stale record from a crash: clean it first

  const toolsBin = buildTools(log);
  const runId = randomBytes(3).toString('hex');
  const prefix = `${LAB_PREFIX}-${runId}`;
  const dir = runDir(runId);
  mkdirSync(join(dir, 'logs'), { recursive: true });
  const nodeNames = Array.from({ length: nodeCount }, (_, i) => `node${i + 1}`);
  const state: LabState = {
    runId, prefix, dir, toolsBin,
    kubeconfig: join(dir, 'admin.kubeconfig'),
    apiserverUrl,
    fabricNetns: `${prefix}-fabric`,
    nodes: [],
    processes: [],
    startedAt: new Date().toISOString(),
    phase: 'starting',
  };
  writeState(state);
  try {
    log(`lab ${runId}: certificates`);
    const pki = createPki(join(dir, 'pki'), nodeNames, ['127.0.0.1', 'localhost', '10.96.0.1', 'kubernetes', 'kubernetes.default', 'kubernetes.default.svc', 'kubernetes.default.svc.cluster.local']);
    const kc = (name: string, client: string, user: string) => {
      const path = join(dir, `${name}.kubeconfig`);
      const cert = pki.clients[client];
      if (!cert) throw new Error(`no client certificate ${client}`);
      writeKubeconfig(path, apiserverUrl, pki.caCert, cert, user);
      return path;
    };
    kc('admin', 'admin', 'admin');
    const kubeconfigs = {
      controllerManager: kc('kube-controller-manager', 'kube-controller-manager', 'kube-controller-manager'),
      scheduler: kc('kube-scheduler', 'kube-scheduler', 'kube-scheduler'),
    };
    const proxyKubeconfig = kc('kube-proxy', 'kube-proxy', 'kube-proxy');

    log(`lab ${runId}: etcd, kube-apiserver, kube-controller-manager, kube-scheduler`);
    await startControlPlane({
      runId, dir, bin: toolsBin, pki, kubeconfigs,
      onStarted: (p) => {
        state.processes.push(p);
        writeState(state);
      },
    });

    log(`lab ${runId}: CRDs from charts/base`);
    kubectlSync(state, ['apply', '--server-side', '-f', join(REPO_ROOT, 'charts/base/crds')]);
    await pollUntil('CRDs to be Established', () => {
      const crds = JSON.parse(kubectlSync(state, ['get', 'crd', '-o', 'json']).stdout) as { items: { status?: { conditions?: { type: string; status: string }[] } }[] };
      return crds.items.length > 0 && crds.items.every((c) => c.status?.conditions?.some((x) => x.type === 'Established' && x.status === 'True'));
    }, { timeoutMs: 60_000 });

    log(`lab ${runId}: ${nodeCount} nodes (network namespaces ${prefix}-*)`);
    const fabric = createFabric(prefix);
    state.fabricNetns = fabric;
    state.nodes = createNodes(prefix, fabric, nodeCount, dir);
    writeState(state);

    const admin = new KubeClient(state.kubeconfig);
    try {
      for (const [i, node] of state.nodes.entries()) {
        const serving = pki.kubeletServing[node.name];
        if (!serving) throw new Error(`no kubelet serving certificate for ${node.name}`);
        await admin.request('POST', '/api/v1/nodes', {
          apiVersion: 'v1', kind: 'Node',
          metadata: { name: node.name, labels: { 'kubernetes.io/hostname': node.name, 'kubernetes.io/os': 'linux', 'kubernetes.io/arch': 'amd64' } },
          spec: { podCIDR: node.podCidr, podCIDRs: [node.podCidr] },
        });
        const nodeKc = kc(`node-${node.name}`, `node-${node.name}`, `system:node:${node.name}`);
        const p = startDaemon(`kubelet-${node.name}`, [
          process.execPath, join(REPO_ROOT, 'e2e/lab/kubelet/main.ts'),
          `--node=${node.name}`, `--netns=${node.netns}`, `--prefix=${prefix}`, `--run-id=${runId}`,
          `--kubeconfig=${nodeKc}`, `--proxy-kubeconfig=${proxyKubeconfig}`,
          `--cni-conf-dir=${node.cniConfDir}`, `--cni-bin-dir=${node.cniBinDir}`, `--pods-dir=${join(dir, 'pods')}`,
          `--internal-ip=${node.fabricIp}`, `--pod-cidr=${node.podCidr}`,
          `--kubelet-port=${PORTS.kubeletBase + i + 1}`, `--tls-cert-file=${serving.cert}`, `--tls-private-key-file=${serving.key}`,
          `--client-ca-file=${pki.caCert}`, `--allowed-client=${KUBELET_CLIENT_CN}`,
        ], join(dir, 'logs', `kubelet-${node.name}.log`), runId);
        state.processes.push(p);
        writeState(state);
      }
      log(`lab ${runId}: waiting for nodes to be Ready`);
      await pollUntil('nodes Ready', async () => {
        for (const p of state.processes) if (!isAlive(p.pid)) throw new Error(`${p.name} exited:\n${tail(p.log)}`);
        const list = await admin.request<{ items: { metadata: { name: string }; spec?: { taints?: unknown[] }; status?: { conditions?: { type: string; status: string }[] } }[] }>('GET', '/api/v1/nodes');
        return list.items.length === nodeCount && list.items.every((n) =>
          n.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') && !(n.spec?.taints ?? []).length);
      }, { timeoutMs: 90_000 });
      await pollUntil('the default ServiceAccount', async () => {
        try {
          await admin.request('GET', '/api/v1/namespaces/default/serviceaccounts/default');
          return true;
        } catch (err) {
          if (err instanceof KubeError && err.status === 404) return false;
          throw err;
        }
      }, { timeoutMs: 60_000 });
    } finally {
      admin.close();
    }
    state.phase = 'up';
    writeState(state);
    log(`lab ${runId}: up (apiserver ${apiserverUrl}, kubeconfig ${state.kubeconfig})`);
    return state;
  } catch (err) {
    log(`lab ${runId}: start failed, tearing down: ${(err as Error).message}`);
    await down().catch(() => {});
    throw err;
  }
}

/** Stops the running (or crashed) lab and removes everything it made. */
export async function down(opts: { all?: boolean } = {}): Promise<Leftovers> {
  const state = readState();
  const survivors: ProcessRef[] = [];
  if (state) {
    // Kubelets first (SIGTERM lets them run CNI DEL for their pods), then everything of the run.
    for (const p of state.processes.filter((x) => x.name.startsWith('kubelet-'))) {
      try {
        process.kill(p.pid, 'SIGTERM');
      } catch {
        /* gone */
      }
    }
    await pollUntil('kubelets to stop', () => state.processes.filter((x) => x.name.startsWith('kubelet-')).every((p) => !isAlive(p.pid)), { timeoutMs: 15_000 }).catch(() => {});
    survivors.push(...(await killProcesses(state.runId)));
    deleteNetns(`${state.prefix}-`);
    rmSync(state.dir, { recursive: true, force: true });
    rmSync(CURRENT_FILE, { force: true });
  }
  if (opts.all) {
    survivors.push(...(await killProcesses(undefined)));
    deleteNetns(`${LAB_PREFIX}-`);
    rmSync(CURRENT_FILE, { force: true });
  }
  const left = leftovers(opts.all ? undefined : state?.runId, opts.all || !state ? `${LAB_PREFIX}-` : `${state.prefix}-`);
  // A process still exiting no longer shows its tag: report it by pid.
  for (const p of survivors) if (!processGone(p) && !left.processes.some((x) => x.pid === p.pid)) left.processes.push({ pid: p.pid, run: state?.runId ?? '', cmd: '(exiting)' });
  return left;
}

export function requireLab(): LabState {
  const s = runningLab();
  if (!s) throw new LabError('LAB_NOT_RUNNING', "no lab is running; start one with 'e2e/lab/lab up'");
  return s;
}

export function kubectlArgs(state: LabState, args: string[]): string[] {
  return [join(state.toolsBin, 'kubectl'), `--kubeconfig=${state.kubeconfig}`, ...args];
}

export function kubectlSync(state: LabState, args: string[], input?: string): RunResult {
  return run(kubectlArgs(state, args), { input, timeoutMs: 120_000 });
}

/** kubectl with the result returned, not thrown (tests check failures too). */
export function kubectl(args: string[], input?: string): RunResult {
  return run(kubectlArgs(requireLab(), args), { input, allowFail: true, timeoutMs: 120_000 });
}

export interface PodRef {
  uid: string;
  netns: string;
  podIp: string;
  node: string;
  /** `<lab>/pods/<ns>_<name>_<uid>`: container logs `<container>.log`, the pod root `root/` (containers' cwd). */
  dir: string;
  /** The current process of each container (null while it waits to restart) and its log file. */
  containers: Record<string, { pid: number | null; log: string }>;
}

export function podRef(namespace: string, name: string, state = requireLab()): PodRef {
  const file = join(state.dir, 'pods', `${namespace}_${name}.json`);
  if (!existsSync(file)) throw new LabError('LAB_POD_NOT_FOUND', `pod ${namespace}/${name} is not running on any lab node`);
  return JSON.parse(readFileSync(file, 'utf8')) as PodRef;
}

/** A container's log file: `<lab>/pods/<ns>_<name>_<uid>/<container>.log` (stdout and stderr, kept across restarts). */
export function podLogPath(namespace: string, name: string, container: string, state = requireLab()): string {
  const ref = podRef(namespace, name, state);
  return join(ref.dir, `${container}.log`);
}

/** A container's log lines that are JSON objects, parsed (other lines, and a line being written, are skipped). */
export function podLogLines(namespace: string, name: string, container: string, state = requireLab()): Record<string, unknown>[] {
  return readJsonLines(podLogPath(namespace, name, container, state));
}

/** A log file's lines that are JSON objects, parsed (none when the file is not there). */
export function readJsonLines(file: string): Record<string, unknown>[] {
  if (!existsSync(file)) return [];
  const out: Record<string, unknown>[] = [];
  for (const l of readFileSync(file, 'utf8').split('\n')) {
    if (!l.startsWith('{')) continue;
    try {
      out.push(JSON.parse(l) as Record<string, unknown>);
    } catch {
      /* a line being written */
    }
  }
  return out;
}

/** Runs a host command inside a pod's network namespace and returns its output (exit code kept). */
export function exec(namespace: string, pod: string, cmd: string[], opts: { timeoutMs?: number; input?: string } = {}): RunResult {
  const ref = podRef(namespace, pod);
  return run(['nsenter', `--net=/run/netns/${ref.netns}`, '--', ...cmd], { allowFail: true, timeoutMs: opts.timeoutMs ?? 60_000, input: opts.input });
}

/**
 * The interactive form for the CLI (`lab exec`): `kubectl exec -i` through the apiserver and the
 * node's kubelet API, stdio passed through, the command's exit code returned (`-t` too when stdin
 * is a terminal).
 */
export function execInteractive(namespace: string, pod: string, cmd: string[], opts: { container?: string } = {}): Promise<number> {
  const tty = process.stdin.isTTY === true;
  const [file, ...args] = kubectlArgs(requireLab(), ['exec', tty ? '-it' : '-i', '-n', namespace, pod,
    ...(opts.container ? ['-c', opts.container] : []), '--', ...cmd]);
  return new Promise((resolve) => {
    const child = spawn(file!, args, { stdio: 'inherit' });
    child.on('exit', (code, signal) => resolve(code ?? (signal ? 128 : 1)));
    child.on('error', () => resolve(127));
  });
}

export function status(): string {
  const s = readState();
  if (!s) return 'no lab is running';
  const lines = [
    `lab ${s.runId} (${s.phase}), up since ${s.startedAt}`,
    `  apiserver  ${s.apiserverUrl}   kubeconfig ${s.kubeconfig}`,
    `  netns      ${s.fabricNetns} ${s.nodes.map((n) => n.netns).join(' ')}`,
    ...s.nodes.map((n) => `  ${n.name.padEnd(9)}  fabric ${n.fabricIp}  pods ${n.podCidr}`),
    ...s.processes.map((p) => `  ${isAlive(p.pid) ? 'running' : 'DEAD   '}  ${p.name} (pid ${p.pid}, log ${p.log})`),
  ];
  return lines.join('\n');
}
