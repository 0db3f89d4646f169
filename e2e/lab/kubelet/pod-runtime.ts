// Runs pods as processes: volumes mounted into a per-pod root (the containers' cwd), a netns per pod
// made by the node's CNI chain, one process per container (a catalogue image) started inside it or
// beside it as the catalogue says, restarted per restartPolicy, and everything torn down on delete.
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, mkdirSync, rmSync, writeFileSync, type WriteStream } from 'node:fs';
import { dirname, isAbsolute, join } from 'node:path';
import { createInterface } from 'node:readline';
import { CNI_BIN_DIR, LAB_RUN_ENV, REPO_ROOT } from '../config.ts';
import { run } from '../exec.ts';
import { imageCommands, imageReadiness, resolveImage, type Readiness } from '../images/catalogue.ts';
import type { ContainerTarget, KubeletHost, PodTarget } from './api/host.ts';
import { cniAdd, cniDel, loadConflist, type CniRuntimeArgs } from './cni.ts';
import type { EventRecorder } from './events.ts';
import type { Container, Pod, PodRecord } from './types.ts';
import { podRoot, type VolumeManager } from './volume-manager.ts';

export interface RuntimeConfig {
  nodeName: string;
  nodeNetns: string;
  prefix: string;
  runId: string;
  cniConfDir: string;
  /** Extra CNI plugin dirs searched before Debian's (our own plugin, later). */
  extraCniBinDirs: string[];
  /** Where pods' logs and the exec index (`<ns>_<name>.json`) live. */
  podsDir: string;
  /** The node's IP: status.hostIP, and status.podIP of host-process pods. */
  nodeIp: string;
  /** The node's root directory (hostPath volumes; `$(LAB_NODE_ROOT)` in container env). */
  nodeRoot: string;
  /** What a host-process pod's `lab/kubeconfig` points at: the apiserver and its CA file. */
  apiserver: { server: string; caFile: string };
  volumes: VolumeManager;
  events: EventRecorder;
  onChange: (rec: PodRecord) => void;
  log: (msg: string, fields?: Record<string, unknown>) => void;
}

interface Running {
  child?: ChildProcess;
  logStream?: WriteStream;
  restartTimer?: NodeJS.Timeout;
  probeTimer?: NodeJS.Timeout;
  backoffMs: number;
  /** The container's environment as last started: what `kubectl exec` runs with. */
  env?: NodeJS.ProcessEnv;
}

/**
 * The in-cluster config of a host-process pod (its process cannot use 10.96.0.1 or the absolute
 * /var/run/secrets path): a kubeconfig at `lab/kubeconfig` in the pod root with the pod's own
 * service-account token from its kube-api-access mount (a relative path, re-read as it rotates).
 */
export const HOST_POD_KUBECONFIG = 'lab/kubeconfig';
const SA_TOKEN = 'var/run/secrets/kubernetes.io/serviceaccount/token';

export function hostPodKubeconfig(server: string, caFile: string): string {
  return [
    'apiVersion: v1',
    'kind: Config',
    'clusters:',
    `- { name: lab, cluster: { server: ${JSON.stringify(server)}, certificate-authority: ${JSON.stringify(caFile)} } }`,
    'users:',
    `- { name: pod, user: { auth-provider: { name: tokenFile, config: { tokenFile: ${SA_TOKEN} } } } }`,
    'contexts:',
    '- { name: lab, context: { cluster: lab, user: pod } }',
    'current-context: lab',
    '',
  ].join('\n');
}

/** Kubernetes' `$(VAR)` references in env values: defined names expand, `$$` escapes, unknown ones stay. Pure. */
export function expandEnvRefs(value: string, env: Readonly<Record<string, string | undefined>>): string {
  return value.replace(/\$\$|\$\(([A-Za-z_][A-Za-z0-9_.-]*)\)/g, (m, name: string | undefined) => {
    if (name === undefined) return '$';
    const v = env[name];
    return v === undefined ? m : v;
  });
}

/** The pod runs as host processes when its images say so (all of a pod's containers share one sandbox). */
export function isHostProcessPod(pod: Pod): boolean {
  return pod.spec.containers.some((c) => {
    const r = resolveImage(c.image);
    return !('error' in r) && r.runMode === 'host-process';
  });
}

export function podNetnsName(prefix: string, uid: string): string {
  return `${prefix}-p${uid.replace(/-/g, '').slice(0, 10)}`;
}

/** `<podsDir>/<ns>_<name>_<uid>`: the pod's container logs (`<container>.log`), `root/` and `volumes/`. */
export function podDirName(rec: { namespace: string; name: string; uid: string }): string {
  return `${rec.namespace}_${rec.name}_${rec.uid}`;
}

export class PodRuntime implements KubeletHost {
  private readonly records = new Map<string, PodRecord>();
  private readonly running = new Map<string, Map<string, Running>>();
  private readonly stopping = new Set<string>();

  private readonly cfg: RuntimeConfig;

  constructor(cfg: RuntimeConfig) {
    this.cfg = cfg;
  }

  get(uid: string): PodRecord | undefined {
    return this.records.get(uid);
  }

  uids(): string[] {
    return [...this.records.keys()];
  }

  private byName(namespace: string, name: string): PodRecord | undefined {
    for (const rec of this.records.values()) if (rec.namespace === namespace && rec.name === name && !this.stopping.has(rec.uid)) return rec;
    return undefined;
  }

  /** A running pod (sandbox made) by name: what the kubelet API serves. */
  findPod(namespace: string, name: string): PodTarget | undefined {
    const rec = this.byName(namespace, name);
    if (!rec || rec.podIp === undefined) return undefined;
    return {
      uid: rec.uid, namespace, name,
      ...(rec.hostProcess ? {} : { netnsPath: `/run/netns/${rec.netns}` }),
      containers: rec.containers.map((c) => c.name),
    };
  }

  /** How a command runs as `container` would, and where its log is (undefined before it ever started). */
  findContainer(namespace: string, name: string, container: string): ContainerTarget | undefined {
    const pod = this.findPod(namespace, name);
    const rec = this.byName(namespace, name);
    const cr = rec?.containers.find((c) => c.name === container);
    const r = this.running.get(rec?.uid ?? '')?.get(container);
    if (!pod || !rec || !cr || !r?.env) return undefined;
    const dir = this.podDir(rec);
    return {
      uid: rec.uid, namespace, name, container,
      ...(pod.netnsPath ? { netnsPath: pod.netnsPath } : {}),
      env: r.env, cwd: podRoot(dir), logPath: join(dir, `${container}.log`),
      state: cr.state, restartCount: cr.restartCount, commands: imageCommands(cr.image),
    };
  }

  private cniRuntime(pod: { uid: string; namespace: string; name: string }, netns: string): CniRuntimeArgs {
    return {
      containerId: pod.uid,
      netnsPath: `/run/netns/${netns}`,
      ifName: 'eth0',
      args: {
        IgnoreUnknown: 'true',
        K8S_POD_NAMESPACE: pod.namespace,
        K8S_POD_NAME: pod.name,
        K8S_POD_INFRA_CONTAINER_ID: pod.uid,
        K8S_POD_UID: pod.uid,
      },
    };
  }

  private cniEnv(): { nodeNetns: string; binDirs: string[] } {
    return { nodeNetns: this.cfg.nodeNetns, binDirs: [...this.cfg.extraCniBinDirs, CNI_BIN_DIR] };
  }

  /** Creates the sandbox and starts the containers. Safe to call once per pod uid. */
  async start(pod: Pod): Promise<void> {
    const uid = pod.metadata.uid;
    if (!uid || this.records.has(uid)) return;
    const hostProcess = isHostProcessPod(pod);
    const rec: PodRecord = {
      uid,
      namespace: pod.metadata.namespace ?? 'default',
      name: pod.metadata.name,
      netns: hostProcess ? this.cfg.nodeNetns : podNetnsName(this.cfg.prefix, uid),
      ...(hostProcess ? { hostProcess } : {}),
      startTime: new Date().toISOString(),
      restartPolicy: pod.spec.restartPolicy ?? 'Always',
      containers: pod.spec.containers.map((c) => ({
        name: c.name,
        image: c.image,
        state: { kind: 'waiting', reason: 'ContainerCreating' },
        ready: false,
        restartCount: 0,
      })),
    };
    this.records.set(uid, rec);
    this.running.set(uid, new Map());
    this.cfg.onChange(rec);
    // As the kubelet does: volumes before the sandbox; a missing ConfigMap keeps the pod in
    // ContainerCreating (FailedMount events) and is retried, at once when the object appears.
    if (!(await this.mountVolumes(pod, rec))) return;
    if (hostProcess) {
      // No sandbox: the node's network, as hostNetwork pods have.
      const kubeconfig = join(podRoot(this.podDir(rec)), HOST_POD_KUBECONFIG);
      mkdirSync(dirname(kubeconfig), { recursive: true });
      writeFileSync(kubeconfig, hostPodKubeconfig(this.cfg.apiserver.server, this.cfg.apiserver.caFile), { mode: 0o600 });
      rec.podIp = this.cfg.nodeIp;
      if (this.stopping.has(uid)) return;
      for (const c of pod.spec.containers) this.startContainer(pod, rec, c);
      this.writeIndex(rec);
      this.cfg.onChange(rec);
      return;
    }
    // As the kubelet does: a failed sandbox is torn down (CNI DEL) and retried with backoff.
    for (let attempt = 0; ; attempt++) {
      try {
        run(['ip', 'netns', 'add', rec.netns]);
        run(['ip', '-n', rec.netns, 'link', 'set', 'lo', 'up']);
        const result = await cniAdd(loadConflist(this.cfg.cniConfDir), this.cniRuntime(rec, rec.netns), this.cniEnv());
        const ip = result.ips?.[0]?.address.split('/')[0];
        if (!ip) throw new Error('CNI ADD returned no IP address');
        rec.podIp = ip;
        rec.sandboxError = undefined;
        break;
      } catch (err) {
        rec.sandboxError = `failed to create pod sandbox: ${(err as Error).message}`;
        this.cfg.log('sandbox failed', { pod: `${rec.namespace}/${rec.name}`, attempt, error: (err as Error).message });
        this.cfg.onChange(rec);
        await cniDel(loadConflist(this.cfg.cniConfDir), this.cniRuntime(rec, rec.netns), this.cniEnv()).catch(() => []);
        run(['ip', 'netns', 'del', rec.netns], { allowFail: true });
        await new Promise((r) => setTimeout(r, Math.min(1000 * 2 ** attempt, 10_000)));
        if (this.stopping.has(uid) || !this.records.has(uid)) return;
      }
    }
    if (this.stopping.has(uid)) return;
    for (const c of pod.spec.containers) this.startContainer(pod, rec, c);
    this.writeIndex(rec);
    this.cfg.onChange(rec);
  }

  /** A newer version of a running pod: its downward-API files follow label and annotation changes. */
  updated(pod: Pod): void {
    this.cfg.volumes.podUpdated(pod);
  }

  private podDir(rec: PodRecord): string {
    return join(this.cfg.podsDir, podDirName(rec));
  }

  private async mountVolumes(pod: Pod, rec: PodRecord): Promise<boolean> {
    for (let attempt = 0; ; attempt++) {
      const r = await this.cfg.volumes.setUp(pod, this.podDir(rec));
      if (this.stopping.has(rec.uid) || !this.records.has(rec.uid)) return false;
      if (r.ok) {
        if (attempt > 0) {
          for (const c of rec.containers) c.state = { kind: 'waiting', reason: 'ContainerCreating' };
          this.cfg.onChange(rec);
        }
        return true;
      }
      this.cfg.log('mount failed', { pod: `${rec.namespace}/${rec.name}`, attempt, error: r.error });
      for (const c of rec.containers) c.state = { kind: 'waiting', reason: 'ContainerCreating', message: r.error };
      this.cfg.onChange(rec);
      void this.cfg.events.record(rec, 'Warning', 'FailedMount', r.error);
      await this.cfg.volumes.waitForChange(rec.uid, Math.min(1000 * 2 ** attempt, 8000));
      if (this.stopping.has(rec.uid) || !this.records.has(rec.uid)) return false;
    }
  }

  /** The exec index: how `lab exec` and the suites find a pod's netns, IP and container processes. */
  private writeIndex(rec: PodRecord): void {
    const slot = this.running.get(rec.uid);
    if (!slot || this.stopping.has(rec.uid)) return;
    const containers = Object.fromEntries([...slot].map(([name, r]) => [name, { pid: r.child?.pid ?? null, log: join(this.podDir(rec), `${name}.log`) }]));
    writeFileSync(join(this.cfg.podsDir, `${rec.namespace}_${rec.name}.json`),
      JSON.stringify({ uid: rec.uid, netns: rec.netns, podIp: rec.podIp, node: this.cfg.nodeName, dir: this.podDir(rec), containers }));
  }

  private startContainer(pod: Pod, rec: PodRecord, spec: Container): void {
    const cr = rec.containers.find((c) => c.name === spec.name);
    const slot = this.running.get(rec.uid);
    if (!cr || !slot || this.stopping.has(rec.uid)) return;
    const image = resolveImage(spec.image);
    if ('error' in image) {
      cr.state = { kind: 'waiting', reason: 'ErrImagePull', message: image.error };
      return;
    }
    const program = isAbsolute(image.program) ? image.program : join(REPO_ROOT, image.program);
    const env: NodeJS.ProcessEnv = {
      PATH: process.env.PATH,
      NODE_OPTIONS: process.env.NODE_OPTIONS,
      [LAB_RUN_ENV]: this.cfg.runId,
      POD_NAME: rec.name,
      POD_NAMESPACE: rec.namespace,
      POD_UID: rec.uid,
      NODE_NAME: this.cfg.nodeName,
      POD_IP: rec.podIp,
      POD_LABELS: JSON.stringify(pod.metadata.labels ?? {}),
      SERVICE_ACCOUNT: pod.spec.serviceAccountName ?? 'default',
      // Where a host process finds its node (the lab values' `$(LAB_NODE_ROOT)/…` paths).
      ...(image.runMode === 'host-process' ? { LAB_NODE_ROOT: this.cfg.nodeRoot, LAB_NODE_NETNS: `/run/netns/${this.cfg.nodeNetns}` } : {}),
    };
    for (const e of spec.env ?? []) {
      if (e.value !== undefined) env[e.name] = expandEnvRefs(e.value, env);
      else if (e.valueFrom?.fieldRef) env[e.name] = fieldRef(pod, rec, e.valueFrom.fieldRef.fieldPath, this.cfg.nodeIp);
    }
    const r: Running = slot.get(spec.name) ?? { backoffMs: 1000 };
    slot.set(spec.name, r);
    r.env = env;
    const logDir = this.podDir(rec);
    mkdirSync(logDir, { recursive: true });
    r.logStream ??= createWriteStream(join(logDir, `${spec.name}.log`), { flags: 'a' });
    const netnsPath = `/run/netns/${rec.netns}`;
    // The catalogue decides the netns arrangement; relative paths in env resolve against the pod root.
    if (image.runMode === 'host-with-pod-netns') env.POD_NETNS = netnsPath;
    const argv = [process.execPath, program, ...(spec.args ?? [])];
    const [file, ...args] = image.runMode === 'pod-netns' ? ['nsenter', `--net=${netnsPath}`, '--', ...argv] : argv;
    const readiness = imageReadiness(spec.image);
    const child = spawn(file!, args, {
      env,
      cwd: podRoot(logDir),
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    });
    r.child = child;
    const startedAt = new Date().toISOString();
    cr.state = { kind: 'running', startedAt };
    cr.ready = false;
    child.stderr?.pipe(r.logStream, { end: false });
    const lines = createInterface({ input: child.stdout! });
    let started = false;
    lines.on('line', (line) => {
      r.logStream?.write(`${line}\n`);
      if (started || !isReadyLine(line, readiness)) return;
      started = true;
      const probe = probeTarget(line, readiness, spec);
      if (probe) {
        this.probe(rec, cr, r, child, probe);
        return;
      }
      cr.ready = true;
      r.backoffMs = 1000;
      this.cfg.onChange(rec);
    });
    child.on('error', (err) => this.cfg.log('container failed to start', { pod: rec.name, container: spec.name, error: err.message }));
    child.on('exit', (code, signal) => {
      if (r.child !== child) return;
      r.child = undefined;
      if (r.probeTimer) clearTimeout(r.probeTimer);
      const term = {
        kind: 'terminated' as const,
        exitCode: code ?? 137,
        reason: code === 0 ? 'Completed' : signal ? `Signal ${signal}` : 'Error',
        startedAt,
        finishedAt: new Date().toISOString(),
      };
      cr.ready = false;
      cr.state = term;
      if (this.stopping.has(rec.uid)) return;
      const restart = rec.restartPolicy === 'Always' || (rec.restartPolicy === 'OnFailure' && term.exitCode !== 0);
      this.cfg.log('container exited', { pod: `${rec.namespace}/${rec.name}`, container: spec.name, code, signal, restart });
      if (restart) {
        cr.lastTerminated = term;
        cr.state = { kind: 'waiting', reason: 'CrashLoopBackOff', message: `back-off ${r.backoffMs}ms restarting failed container ${spec.name}` };
        r.restartTimer = setTimeout(() => {
          cr.restartCount++;
          this.startContainer(pod, rec, spec);
          this.writeIndex(rec);
          this.cfg.onChange(rec);
        }, r.backoffMs);
        r.backoffMs = Math.min(r.backoffMs * 2, 30_000);
      }
      this.cfg.onChange(rec);
    });
  }

  /**
   * The container's readinessProbe, at the port its start-up line named: every period (1 s in the
   * lab) while this process lives; Ready follows the answers, as kubelet's prober does.
   */
  private probe(rec: PodRecord, cr: PodRecord['containers'][number], r: Running, child: ChildProcess, url: string): void {
    const tick = async (): Promise<void> => {
      if (r.child !== child || this.stopping.has(rec.uid)) return;
      const ok = await fetch(url, { signal: AbortSignal.timeout(1000) }).then((res) => res.status >= 200 && res.status < 400, () => false);
      if (r.child !== child || this.stopping.has(rec.uid)) return;
      if (ok !== cr.ready) {
        cr.ready = ok;
        if (ok) r.backoffMs = 1000;
        this.cfg.onChange(rec);
      }
      r.probeTimer = setTimeout(() => void tick(), PROBE_PERIOD_MS);
    };
    void tick();
  }

  /** Stops the containers (SIGTERM, then SIGKILL after the grace period), runs CNI DEL, removes the netns. */
  async stop(uid: string, graceSeconds = 5): Promise<void> {
    const rec = this.records.get(uid);
    if (!rec || this.stopping.has(uid)) return;
    this.stopping.add(uid);
    const slot = this.running.get(uid) ?? new Map<string, Running>();
    const exits: Promise<void>[] = [];
    for (const r of slot.values()) {
      if (r.restartTimer) clearTimeout(r.restartTimer);
      if (r.probeTimer) clearTimeout(r.probeTimer);
      const child = r.child;
      if (!child || child.pid === undefined) continue;
      exits.push(new Promise<void>((resolve) => {
        const kill = (sig: NodeJS.Signals) => {
          try {
            process.kill(-child.pid!, sig);
          } catch {
            /* already gone */
          }
        };
        const timer = setTimeout(() => kill('SIGKILL'), Math.min(graceSeconds, 10) * 1000);
        child.once('exit', () => {
          clearTimeout(timer);
          resolve();
        });
        kill('SIGTERM');
      }));
    }
    await Promise.all(exits);
    for (const r of slot.values()) r.logStream?.end();
    if (rec.hostProcess) {
      // No sandbox to take down (rec.netns is the node's).
    } else if (rec.podIp !== undefined || rec.sandboxError) {
      const errors = await cniDel(loadConflist(this.cfg.cniConfDir), this.cniRuntime(rec, rec.netns), this.cniEnv());
      for (const e of errors) this.cfg.log('CNI DEL failed', { pod: `${rec.namespace}/${rec.name}`, error: e.message });
    }
    if (!rec.hostProcess) run(['ip', 'netns', 'del', rec.netns], { allowFail: true });
    this.cfg.volumes.tearDown(uid);
    this.cfg.events.forget(uid);
    rmSync(join(this.cfg.podsDir, `${rec.namespace}_${rec.name}.json`), { force: true });
    this.records.delete(uid);
    this.running.delete(uid);
    this.stopping.delete(uid);
  }

  async stopAll(): Promise<void> {
    await Promise.all(this.uids().map((u) => this.stop(u, 2)));
  }
}

const PROBE_PERIOD_MS = 1000;

function isReadyLine(line: string, r: Readiness): boolean {
  if (!line.startsWith('{')) return false;
  try {
    return (JSON.parse(line) as { msg?: unknown }).msg === r.line;
  } catch {
    return false;
  }
}

/** The probe URL for a started container, or undefined when readiness is the line alone. */
function probeTarget(line: string, r: Readiness, spec: Container): string | undefined {
  const path = spec.readinessProbe?.httpGet?.path;
  if (!r.portField || path === undefined) return undefined;
  const port = Number((JSON.parse(line) as Record<string, unknown>)[r.portField]);
  if (!Number.isInteger(port) || port <= 0) return undefined;
  return `http://127.0.0.1:${port}${path.startsWith('/') ? path : `/${path}`}`;
}

function fieldRef(pod: Pod, rec: PodRecord, path: string, hostIp: string): string {
  switch (path) {
    case 'metadata.name': return rec.name;
    case 'metadata.namespace': return rec.namespace;
    case 'metadata.uid': return rec.uid;
    case 'spec.nodeName': return pod.spec.nodeName ?? '';
    case 'spec.serviceAccountName': return pod.spec.serviceAccountName ?? 'default';
    case 'status.podIP': return rec.podIp ?? '';
    case 'status.hostIP': return hostIp;
    case 'status.podIPs': return rec.podIp ?? '';
    case 'status.hostIPs': return hostIp;
    default: {
      const m = /^metadata\.(labels|annotations)\['(.+)'\]$/.exec(path);
      if (m) return (m[1] === 'labels' ? pod.metadata.labels : pod.metadata.annotations)?.[m[2]!] ?? '';
      return '';
    }
  }
}
