// The mesh on the lab cluster, for the ztunnel suites and bench/l4 until the CNI node agent and the
// controller take over: one ztunnel process per lab node (standalone: a local config file generated
// here from the apiserver's pods and services, and a file CA shared by the nodes), and this harness
// playing each node's agent: it applies Istio's in-pod rules inside a pod's netns and hands the netns
// to that node's ztunnel over ZDS. Processes are recorded in the lab state, so `lab down` reaps them.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { createSelfSignedRoot } from '../../lib/identity/index.ts';
import { closeFd, openNetns } from '../../lib/netns/index.ts';
import { applyInpodRules, removeInpodRules, type RedirectFlavour } from '../../lib/redirect/index.ts';
import { ZdsServer, type ZdsWorkloadInfo } from '../../lib/zds/index.ts';
import { REPO_ROOT } from '../lab/config.ts';
import { startDaemon, tail } from '../lab/daemons.ts';
import { KubeClient } from '../lab/kube-client.ts';
import { kubectlSync, podLogLines, podLogPath, podRef, readJsonLines } from '../lab/lab.ts';
import { pollUntil } from '../lab/poll.ts';
import { isAlive, writeState, type LabNode, type LabState } from '../lab/state.ts';
import { checkAllTls, readPcapTcp, type TlsCheck } from './pcap.ts';

const ZTUNNEL_MAIN = join(REPO_ROOT, 'ztunnel/src/main.ts');
/** ztunnel as installed (scripts/build-ztunnel.ts, `make bundles`): what the images and the lab's charts run. */
export const ZTUNNEL_BUNDLE = join(REPO_ROOT, 'build/ztunnel/ztunnel.mjs');
export const AGENT_MAIN = join(REPO_ROOT, 'cni/agent/main.ts');
const CONTROLLER_MAIN = join(REPO_ROOT, 'controller/src/main.ts');

/** Waits for a process's JSON log line `msg` (ports bound, ready) and returns it parsed. */
async function startLine<T>(pid: number, log: string, msg: string, what: string): Promise<T> {
  return pollUntil(`${what} to start`, () => {
    if (!isAlive(pid)) throw new Error(`${what} exited:\n${tail(log)}`);
    const line = existsSync(log) ? readFileSync(log, 'utf8').split('\n').find((l) => l.includes(`"msg":"${msg}"`)) : undefined;
    return line ? (JSON.parse(line) as T) : undefined;
  }, { timeoutMs: 30_000 });
}

export interface ZtunnelProcess {
  generation: number;
  pid: number;
  log: string;
  ports: { admin: number; metrics: number; readiness: number };
}

interface MeshNode {
  name: string;
  dir: string;
  /** The ZDS socket ztunnel connects to: served here (test agent) or by the node agent process. */
  zdsPath: string;
  /** Test-agent mode: this harness is the node agent. */
  zds?: ZdsServer;
  agent?: AgentProcess;
  agentStarts: number;
  config: string;
  current?: ZtunnelProcess;
  generations: number;
}

export interface ControllerProcess {
  pid: number;
  log: string;
  ports: { grpc: number; grpcTls: number; monitoring: number };
}

/** A waypoint pod's current process (the kubelet stand-in runs it on the host, data plane in the pod netns). */
export interface WaypointProcess {
  pid: number;
  /** Its 15008 in the pod netns, and its ops ports on the host's loopback (ephemeral in the lab). */
  ports: { hbone: number; admin: number; stats: number; readiness: number };
  /** The container log file (JSON lines). */
  log: string;
}

/** Env the controller adds to every waypoint container in the lab: several waypoints share the host's ports. */
export const LAB_WAYPOINT_EXTRA_ENV = { ADMIN_ADDR: '127.0.0.1:0', STATS_ADDR: '127.0.0.1:0', READINESS_ADDR: '127.0.0.1:0' };

/** A loopback port free right now (the controller's TLS port must be known before it starts: waypoints get it in their env). */
async function freePort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((resolve, reject) => srv.once('error', reject).listen(0, '127.0.0.1', resolve));
  const addr = srv.address();
  await new Promise((r) => srv.close(r));
  if (addr === null || typeof addr === 'string') throw new Error('no TCP address');
  return addr.port;
}

export interface AgentProcess {
  pid: number;
  log: string;
  pluginEventSocket: string;
  ports: { readiness: number; metrics: number };
}

interface Enrolled {
  uid: string;
  info: ZdsWorkloadInfo;
  node: string;
  netnsPath: string;
  netnsFd: number;
}

/** GET `path` of a ztunnel's admin or metrics port on the host's loopback; the body as text. */
export function ztunnelHttp(port: number, path: string): Promise<string> {
  // A fresh connection per request (no keep-alive pool): a caller that blocked its event loop (a
  // spawnSync'd iperf3) would otherwise write into a pooled socket the server has since closed.
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, path, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
      res.on('error', reject);
    });
    req.on('error', reject);
  });
}

/** The local-config YAML document (see ztunnel/src/config/local-config.ts). */
export interface MeshConfig {
  workloads: Record<string, unknown>[];
  services: Record<string, unknown>[];
  policies: Record<string, unknown>[];
}

export interface ConfigEdit {
  policies?: Record<string, unknown>[];
  /** Per-node changes on top (e.g. a node told a wrong identity for a pod). */
  perNode?: (node: string, cfg: MeshConfig) => void;
}

interface PodItem {
  metadata: { name: string; namespace: string; uid: string; labels?: Record<string, string> };
  spec: { nodeName?: string; serviceAccountName?: string };
  status: { podIP?: string };
}

interface ServiceItem {
  metadata: { name: string; namespace: string };
  spec: { clusterIP?: string; selector?: Record<string, string>; ports?: { port: number; targetPort?: number | string }[] };
}

export const ZTUNNEL_ENV_BASE = { CONNECTION_TERMINATION_DEADLINE: '5', LOG_LEVEL: 'info' };

export class LabMesh {
  readonly lab: LabState;
  readonly dir: string;
  readonly flavour: RedirectFlavour;
  private readonly nodes = new Map<string, MeshNode>();
  private readonly enrolled = new Map<string, Enrolled>();
  private lastEdit: ConfigEdit = {};

  /**
   * Starts a node agent and a ztunnel on every lab node and waits until they are ready. The agent is
   * this harness (pods enrolled by `enroll`) unless `nodeAgent`: then it is our cni/agent process,
   * which enrolls the pods of ambient namespaces itself.
   */
  static async start(lab: LabState, opts: { flavour?: RedirectFlavour; nodeAgent?: boolean; controller?: boolean; controllerEnv?: Record<string, string>; ztunnelEnv?: Record<string, string>; ztunnelMain?: string } = {}): Promise<LabMesh> {
    const mesh = new LabMesh(lab, opts.flavour ?? 'iptables', opts.nodeAgent === true || opts.controller === true);
    mesh.ztunnelEnv = opts.ztunnelEnv ?? {};
    mesh.ztunnelMain = opts.ztunnelMain ?? ZTUNNEL_MAIN;
    try {
      if (opts.controller) mesh.controllerProc = await mesh.startController(opts.controllerEnv ?? {});
      const root = await createSelfSignedRoot();
      writeFileSync(join(mesh.dir, 'root-cert.pem'), root.certPem);
      writeFileSync(join(mesh.dir, 'root-key.pem'), root.keyPem, { mode: 0o600 });
      for (const n of lab.nodes) {
        const dir = join(mesh.dir, n.name);
        mkdirSync(dir, { recursive: true });
        const zdsPath = join(dir, 'ztunnel.sock');
        const node: MeshNode = {
          name: n.name, dir, zdsPath, config: join(dir, 'config.yaml'), generations: 0, agentStarts: 0,
          ...(mesh.nodeAgent ? {} : { zds: ZdsServer.listen({ path: zdsPath, snapshot: () => mesh.snapshotFor(n.name) }) }),
        };
        mesh.nodes.set(n.name, node);
        if (mesh.nodeAgent) node.agent = await mesh.startAgent(node, n);
      }
      if (!mesh.controllerProc) mesh.writeConfigs(await mesh.buildConfig());
      for (const node of mesh.nodes.values()) node.current = await mesh.startZtunnel(node);
      mesh.recordZtunnelAdmin();
      return mesh;
    } catch (err) {
      await mesh.stop();
      throw err;
    }
  }

  readonly nodeAgent: boolean;
  /** Extra environment of every ztunnel this mesh starts (over the harness's own). */
  private ztunnelEnv: Record<string, string> = {};
  /** What each ztunnel process runs: the TypeScript entry point, or the bundle (build/ztunnel). */
  private ztunnelMain = ZTUNNEL_MAIN;
  /** Controller mode: state and certificates come from our controller, not files. */
  controllerProc: ControllerProcess | undefined;

  /**
   * The controller as a host process, plus what a cluster would hold for ztunnel: namespace
   * istio-system, service account ztunnel, and per node a Pod object `ztunnel-<node>` (host network,
   * so the kubelet stand-in leaves it alone) that the node's token is bound to, as the CA checks.
   */
  private async startController(extraEnv: Record<string, string> = {}): Promise<ControllerProcess> {
    kubectlSync(this.lab, ['apply', '-f', '-'], `
apiVersion: v1
kind: Namespace
metadata: { name: istio-system }
---
apiVersion: v1
kind: ServiceAccount
metadata: { name: ztunnel, namespace: istio-system }
${this.lab.nodes.map((n) => `---
apiVersion: v1
kind: Pod
metadata: { name: ztunnel-${n.name}, namespace: istio-system, labels: { app: ztunnel } }
spec: { nodeName: ${n.name}, hostNetwork: true, serviceAccountName: ztunnel, containers: [{ name: istio-proxy, image: lab/sleep }] }`).join('\n')}
`);
    const log = join(this.dir, `controller-${++this.controllerStarts}.log`);
    // Waypoint pods run on the host (data plane in their pod netns) and reach xDS + CA on loopback,
    // over TLS checked against the published root with the serving certificate's name istiod's.
    const grpcTls = await freePort();
    const p = startDaemon('controller', [process.execPath, CONTROLLER_MAIN], log, this.lab.runId, {
      NODE_OPTIONS: '--disable-warning=ExperimentalWarning',
      KUBECONFIG: this.lab.kubeconfig,
      POD_NAME: 'ambient-controller-lab',
      GRPC_ADDR: '127.0.0.1:0',
      GRPC_TLS_ADDR: `127.0.0.1:${grpcTls}`,
      MONITORING_ADDR: '127.0.0.1:0',
      DISCOVERY_ADDRESS: `127.0.0.1:${grpcTls}`,
      WAYPOINT_EXTRA_ENV: JSON.stringify(LAB_WAYPOINT_EXTRA_ENV),
      ...extraEnv,
    });
    this.lab.processes.push(p);
    writeState(this.lab);
    const ports = await startLine<{ grpc: number; grpcTls: number; monitoring: number }>(p.pid, log, 'controller ready', 'the controller');
    // ztunnel trusts the control plane through the root the controller publishes, as in a cluster.
    const root = await pollUntil('the published CA root', () => kubectlSync(this.lab, ['get', 'configmap', '-n', 'istio-system', 'istio-ca-root-cert', '-o', 'jsonpath={.data.root-cert\\.pem}']).stdout || undefined, { timeoutMs: 30_000 });
    writeFileSync(join(this.dir, 'istio-root-cert.pem'), root);
    this.syncRootFile();
    return { pid: p.pid, log, ports: { grpc: ports.grpc, grpcTls: ports.grpcTls, monitoring: ports.monitoring } };
  }

  private controllerStarts = 0;
  private rootSync: { stop: () => void } | undefined;

  /**
   * Keeps istio-root-cert.pem (the ztunnels' CA_ROOT_CA/XDS_ROOT_CA) equal to the published
   * ConfigMap, replaced atomically, as the kubelet does for a mounted ConfigMap: a root rotation
   * reaches the ztunnels' files.
   */
  private syncRootFile(): void {
    if (this.rootSync) return;
    const client = new KubeClient(this.lab.kubeconfig);
    const path = join(this.dir, 'istio-root-cert.pem');
    let stopped = false;
    let timer: NodeJS.Timeout | undefined;
    const pass = async () => {
      try {
        const cm = await client.request<{ data?: Record<string, string> }>('GET', '/api/v1/namespaces/istio-system/configmaps/istio-ca-root-cert');
        const pem = cm.data?.['root-cert.pem'];
        if (pem && !stopped && existsSync(this.dir) && readFileSync(path, 'utf8') !== pem) {
          writeFileSync(`${path}.tmp`, pem);
          renameSync(`${path}.tmp`, path);
        }
      } catch {
        /* the apiserver or the ConfigMap is briefly away: the next pass */
      }
      if (!stopped) timer = setTimeout(() => void pass(), 500);
    };
    void pass();
    this.rootSync = {
      stop: () => {
        stopped = true;
        clearTimeout(timer);
        client.close();
      },
    };
  }

  /** A pod-bound token (audience istio-ca) for the node's ztunnel, as kubelet would project it. */
  private ztunnelToken(node: MeshNode): string {
    const path = join(node.dir, 'istio-token');
    const token = kubectlSync(this.lab, ['create', 'token', 'ztunnel', '-n', 'istio-system', '--audience', 'istio-ca', '--duration', '12h', '--bound-object-kind', 'Pod', '--bound-object-name', `ztunnel-${node.name}`]).stdout.trim();
    writeFileSync(path, token, { mode: 0o600 });
    return path;
  }

  controller(): ControllerProcess {
    if (!this.controllerProc) throw new Error('no controller (started without controller: true)');
    return this.controllerProc;
  }

  /**
   * The current process of waypoint pod ns/podName, from its container log (the latest
   * `waypoint started` line: bound ports) and the kubelet's exec index (pid); undefined until the
   * waypoint has started.
   */
  waypointProcess(namespace: string, podName: string): WaypointProcess | undefined {
    return waypointProcess(this.lab, namespace, podName);
  }

  /** A pod's container log lines parsed as JSON (e.g. a waypoint's access log). */
  podLogLines(namespace: string, podName: string, container = 'istio-proxy'): Record<string, unknown>[] {
    return podLogLines(namespace, podName, container, this.lab);
  }

  /** Records each node's ztunnel admin port in the lab state, for `lab ambientctl`. */
  private recordZtunnelAdmin(): void {
    const ports: Record<string, number> = {};
    for (const n of this.nodes.values()) if (n.current) ports[n.name] = n.current.ports.admin;
    this.lab.ztunnelAdminPorts = Object.keys(ports).length ? ports : undefined;
    writeState(this.lab);
  }

  private constructor(lab: LabState, flavour: RedirectFlavour, nodeAgent: boolean) {
    this.lab = lab;
    this.flavour = flavour;
    this.nodeAgent = nodeAgent;
    this.dir = join(lab.dir, 'mesh');
    mkdirSync(this.dir, { recursive: true });
  }

  get rootCertPath(): string {
    return join(this.dir, 'root-cert.pem');
  }

  get rootKeyPath(): string {
    return join(this.dir, 'root-key.pem');
  }

  private testAgent(node: string): ZdsServer {
    const z = this.node(node).zds;
    if (!z) throw new Error('enroll/unenroll are for test-agent mode; the node agent enrolls by namespace label');
    return z;
  }

  private node(name: string): MeshNode {
    const n = this.nodes.get(name);
    if (!n) throw new Error(`no mesh node ${name}`);
    return n;
  }

  private snapshotFor(node: string): { uid: string; info: ZdsWorkloadInfo; netnsFd: number }[] {
    return [...this.enrolled.values()].filter((e) => e.node === node).map(({ uid, info, netnsFd }) => ({ uid, info, netnsFd }));
  }

  ztunnel(node: string): ZtunnelProcess {
    const z = this.node(node).current;
    if (!z) throw new Error(`no ztunnel running on ${node}`);
    return z;
  }

  /** A ztunnel process for `node`, tagged with the lab run so `lab down` reaps it; resolves when ready. */
  private async startZtunnel(node: MeshNode): Promise<ZtunnelProcess> {
    const generation = ++node.generations;
    const log = join(node.dir, `ztunnel-${generation}.log`);
    const p = startDaemon(`ztunnel-${node.name}-${generation}`, [process.execPath, this.ztunnelMain], log, this.lab.runId, {
      ...ZTUNNEL_ENV_BASE,
      NODE_OPTIONS: '--disable-warning=ExperimentalWarning',
      NODE_NAME: node.name,
      ...(this.controllerProc
        ? {
            // TLS (15012's role) with the published root, the server name istiod's.
            XDS_ADDRESS: `https://127.0.0.1:${this.controllerProc.ports.grpcTls}`,
            CA_ADDRESS: `https://127.0.0.1:${this.controllerProc.ports.grpcTls}`,
            XDS_ROOT_CA: join(this.dir, 'istio-root-cert.pem'),
            CA_ROOT_CA: join(this.dir, 'istio-root-cert.pem'),
            ALT_XDS_HOSTNAME: 'istiod.istio-system.svc',
            ALT_CA_HOSTNAME: 'istiod.istio-system.svc',
            AUTH_TOKEN: this.ztunnelToken(node),
            POD_NAME: `ztunnel-${node.name}`,
            POD_NAMESPACE: 'istio-system',
            INSTANCE_IP: this.lab.nodes.find((n) => n.name === node.name)!.fabricIp,
          }
        : { LOCAL_XDS_PATH: node.config, CA_ROOT_CERT: this.rootCertPath, CA_ROOT_KEY: this.rootKeyPath }),
      INPOD_UDS: node.zdsPath,
      ADMIN_ADDR: '127.0.0.1:0',
      STATS_ADDR: '127.0.0.1:0',
      READINESS_ADDR: '127.0.0.1:0',
      ...this.ztunnelEnv,
    });
    this.lab.processes.push(p);
    writeState(this.lab);
    // Port 0 everywhere: the start-up line says what was bound (old and new generations overlap).
    const ports = await startLine<ZtunnelProcess['ports']>(p.pid, log, 'ztunnel started', `ztunnel on ${node.name}`);
    const z: ZtunnelProcess = { generation, pid: p.pid, log, ports: { admin: ports.admin, metrics: ports.metrics, readiness: ports.readiness } };
    await pollUntil(`ztunnel on ${node.name} to be ready`, async () => {
      if (!isAlive(p.pid)) throw new Error(`ztunnel on ${node.name} exited:\n${tail(log)}`);
      const r = await fetch(`http://127.0.0.1:${z.ports.readiness}/healthz/ready`).catch(() => undefined);
      return r?.status === 200;
    }, { timeoutMs: 30_000 });
    return z;
  }

  /** Our cni/agent for `node`, serving the node's ZDS socket; resolves once it reconciled the node. */
  private async startAgent(node: MeshNode, labNode: LabNode): Promise<AgentProcess> {
    const log = join(node.dir, `cni-agent-${++node.agentStarts}.log`);
    const p = startDaemon(`cni-agent-${node.name}`, [process.execPath, AGENT_MAIN], log, this.lab.runId, {
      NODE_OPTIONS: '--disable-warning=ExperimentalWarning',
      NODE_NAME: node.name,
      KUBECONFIG: this.lab.kubeconfig,
      ZTUNNEL_UDS: node.zdsPath,
      PLUGIN_EVENT_SOCKET: join(node.dir, 'pluginevent.sock'),
      CNI_NET_DIR: labNode.cniConfDir,
      CNI_BIN_DIR: labNode.cniBinDir,
      HOST_NETNS: `/run/netns/${labNode.netns}`,
      AMBIENT_DNS_CAPTURE: 'false',
      NATIVE_NFTABLES: String(this.flavour === 'nftables'),
      READINESS_ADDR: '127.0.0.1:0',
      METRICS_ADDR: '127.0.0.1:0',
    });
    this.lab.processes.push(p);
    writeState(this.lab);
    const ports = await startLine<AgentProcess['ports']>(p.pid, log, 'node agent ready', `the node agent on ${node.name}`);
    return { pid: p.pid, log, pluginEventSocket: join(node.dir, 'pluginevent.sock'), ports: { readiness: ports.readiness, metrics: ports.metrics } };
  }

  agent(node: string): AgentProcess {
    const a = this.node(node).agent;
    if (!a) throw new Error(`no node agent process on ${node} (test-agent mode)`);
    return a;
  }

  /** Stops the node agent of `node` (SIGKILL: as in a crash). */
  async stopAgent(node: string, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    const n = this.node(node);
    if (n.agent) await this.stopPid(n.agent.pid, signal);
    n.agent = undefined;
  }

  /** Stops the node agent of `node` if it runs (SIGKILL with `kill`: a crash) and starts a new one. */
  async restartAgent(node: string, opts: { kill?: boolean } = {}): Promise<AgentProcess> {
    const n = this.node(node);
    await this.stopAgent(node, opts.kill ? 'SIGKILL' : 'SIGTERM');
    const agent = await this.startAgent(n, this.lab.nodes.find((x) => x.name === node)!);
    n.agent = agent;
    // The node's ztunnel reconnects with backoff; until it has, new pods would start captured but
    // unserved (Istio's `pending`). Callers get an agent the ztunnel is connected to.
    if (n.current) {
      await pollUntil(`ztunnel on ${node} to reconnect to the new agent`, async () => {
        const m = await (await fetch(`http://127.0.0.1:${agent.ports.metrics}/metrics`)).text();
        return /^istio_cni_ztunnel_connections [1-9]/m.test(m);
      }, { timeoutMs: 30_000 });
    }
    return agent;
  }

  /**
   * Captures a pod: the in-pod rules in its netns, then its netns to its node's ztunnel. The pod
   * must be in the config (call syncConfig after it runs) for ztunnel to know its identity.
   */
  async enroll(namespace: string, name: string): Promise<void> {
    const ref = podRef(namespace, name, this.lab);
    const pod = JSON.parse(kubectlSync(this.lab, ['get', 'pod', '-n', namespace, name, '-o', 'json']).stdout) as PodItem;
    const netnsPath = `/run/netns/${ref.netns}`;
    applyInpodRules({ path: netnsPath }, { dnsCapture: false }, this.flavour);
    const e: Enrolled = { uid: ref.uid, info: { name, namespace, serviceAccount: pod.spec.serviceAccountName ?? 'default' }, node: ref.node, netnsPath, netnsFd: openNetns(netnsPath) };
    this.enrolled.set(`${namespace}/${name}`, e);
    await this.testAgent(ref.node).addWorkload(e.uid, e.info, e.netnsFd);
  }

  async unenroll(namespace: string, name: string): Promise<void> {
    const e = this.enrolled.get(`${namespace}/${name}`);
    if (!e) return;
    this.enrolled.delete(`${namespace}/${name}`);
    await this.testAgent(e.node).delWorkload(e.uid);
    removeInpodRules({ path: e.netnsPath }, this.flavour);
    closeFd(e.netnsFd);
  }

  /** The config every ztunnel gets: the running pods of enrolled namespaces and their Services. */
  private async buildConfig(): Promise<MeshConfig> {
    const namespaces = this.nodeAgent
      ? kubectlSync(this.lab, ['get', 'ns', '-l', 'istio.io/dataplane-mode=ambient', '-o', 'jsonpath={.items[*].metadata.name}']).stdout.split(/\s+/).filter(Boolean)
      : [...new Set([...this.enrolled.keys()].map((k) => k.split('/')[0]!))];
    const cfg: MeshConfig = { workloads: [], services: [], policies: [...(this.lastEdit.policies ?? [])] };
    for (const ns of namespaces) {
      const pods = (JSON.parse(kubectlSync(this.lab, ['get', 'pods', '-n', ns, '-o', 'json']).stdout) as { items: PodItem[] }).items;
      const svcs = (JSON.parse(kubectlSync(this.lab, ['get', 'services', '-n', ns, '-o', 'json']).stdout) as { items: ServiceItem[] }).items;
      for (const s of svcs) {
        if (!s.spec.clusterIP || s.spec.clusterIP === 'None') continue;
        cfg.services.push({
          name: s.metadata.name, namespace: ns, vips: [s.spec.clusterIP],
          ports: Object.fromEntries((s.spec.ports ?? []).map((p) => [p.port, typeof p.targetPort === 'number' ? p.targetPort : p.port])),
        });
      }
      for (const p of pods) {
        if (!p.status.podIP || (!this.nodeAgent && !this.enrolled.has(`${ns}/${p.metadata.name}`))) continue;
        const labels = p.metadata.labels ?? {};
        const services: Record<string, Record<number, number>> = {};
        for (const s of svcs) {
          const sel = s.spec.selector;
          if (!sel || !Object.entries(sel).every(([k, v]) => labels[k] === v)) continue;
          services[`${ns}/${s.metadata.name}.${ns}.svc.cluster.local`] = Object.fromEntries((s.spec.ports ?? []).map((sp) => [sp.port, typeof sp.targetPort === 'number' ? sp.targetPort : sp.port]));
        }
        cfg.workloads.push({
          uid: `Kubernetes//Pod/${ns}/${p.metadata.name}`, name: p.metadata.name, namespace: ns,
          serviceAccount: p.spec.serviceAccountName ?? 'default', addresses: [p.status.podIP], node: p.spec.nodeName ?? '',
          canonicalName: labels['service.istio.io/canonical-name'] ?? labels.app ?? p.metadata.name,
          canonicalRevision: labels['service.istio.io/canonical-revision'] ?? labels.version ?? 'latest',
          workloadName: labels.app ?? p.metadata.name,
          services,
        });
      }
    }
    return cfg;
  }

  private writeConfigs(base: MeshConfig): Map<string, MeshConfig> {
    const written = new Map<string, MeshConfig>();
    for (const node of this.nodes.values()) {
      const cfg = structuredClone(base);
      this.lastEdit.perNode?.(node.name, cfg);
      writeFileSync(node.config, stringify(cfg));
      written.set(node.name, cfg);
    }
    return written;
  }

  /**
   * Regenerates every node's config from the apiserver (with `edit`, which stays in force until the
   * next call) and waits until each ztunnel's /config_dump shows exactly those workloads and policies.
   */
  async syncConfig(edit: ConfigEdit = {}): Promise<void> {
    this.lastEdit = edit;
    const written = this.writeConfigs(await this.buildConfig());
    for (const [node, cfg] of written) {
      const want = JSON.stringify({
        w: cfg.workloads.map((w) => `${String(w.uid)} ${String(w.serviceAccount)}`).sort(),
        p: cfg.policies.map((p) => `${String(p.namespace ?? 'default')}/${String(p.name)}`).sort(),
      });
      await pollUntil(`ztunnel on ${node} to apply its config`, async () => {
        const dump = JSON.parse(await this.admin(node, '/config_dump')) as { workloads: { uid: string; serviceAccount: string }[]; policies: { namespace: string; name: string }[] };
        const got = JSON.stringify({ w: dump.workloads.map((w) => `${w.uid} ${w.serviceAccount}`).sort(), p: dump.policies.map((p) => `${p.namespace}/${p.name}`).sort() });
        return got === want;
      }, { timeoutMs: 15_000 });
    }
  }

  admin(node: string, path: string): Promise<string> {
    return ztunnelHttp(this.ztunnel(node).ports.admin, path);
  }

  metrics(node: string): Promise<string> {
    return ztunnelHttp(this.ztunnel(node).ports.metrics, '/metrics');
  }

  /** Every log line of `node`'s ztunnels (all generations), parsed. */
  logLines(node: string): Record<string, unknown>[] {
    const n = this.node(node);
    const out: Record<string, unknown>[] = [];
    for (let g = 1; g <= n.generations; g++) {
      out.push(...readJsonLines(join(n.dir, `ztunnel-${g}.log`)));
    }
    return out;
  }

  /**
   * Istio's upgrade hand-over: a new ztunnel starts beside the running one, takes the snapshot and
   * opens the same pod listeners (SO_REUSEPORT); then the old one gets SIGTERM and drains.
   */
  async restart(node: string): Promise<ZtunnelProcess> {
    const n = this.node(node);
    const old = n.current;
    const next = await this.startZtunnel(n);
    n.current = next;
    this.recordZtunnelAdmin();
    if (old) await this.stopProcess(old);
    return next;
  }

  private async stopProcess(z: ZtunnelProcess): Promise<void> {
    await this.stopPid(z.pid, 'SIGTERM');
  }

  private async stopPid(pid: number, signal: NodeJS.Signals): Promise<void> {
    try {
      process.kill(pid, signal);
    } catch {
      return;
    }
    await pollUntil(`process ${pid} to exit`, () => !isAlive(pid), { timeoutMs: 30_000 }).catch(() => process.kill(pid, 'SIGKILL'));
    this.lab.processes = this.lab.processes.filter((p) => p.pid !== pid);
    writeState(this.lab);
  }

  /** Stops the ztunnels and agents; removes the rules it applied (pods may live on). */
  async stop(): Promise<void> {
    this.rootSync?.stop();
    for (const n of this.nodes.values()) {
      if (n.current) await this.stopProcess(n.current);
      n.current = undefined;
      if (n.agent) await this.stopPid(n.agent.pid, 'SIGTERM');
      n.zds?.close();
    }
    this.recordZtunnelAdmin();
    if (this.controllerProc) await this.stopPid(this.controllerProc.pid, 'SIGTERM');
    for (const e of this.enrolled.values()) {
      try {
        removeInpodRules({ path: e.netnsPath }, this.flavour);
      } catch {
        /* the pod is gone already */
      }
      closeFd(e.netnsFd);
    }
    this.enrolled.clear();
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** See LabMesh.waypointProcess; usable without a LabMesh handle (e.g. from the CLI). */
export function waypointProcess(lab: LabState, namespace: string, podName: string): WaypointProcess | undefined {
  let ref;
  try {
    ref = podRef(namespace, podName, lab);
  } catch {
    return undefined;
  }
  const started = podLogLines(namespace, podName, 'istio-proxy', lab).filter((l) => l.msg === 'waypoint started');
  const last = started[started.length - 1];
  if (!last) return undefined;
  const num = (...keys: string[]): number => Number(keys.map((k) => last[k]).find((v) => v !== undefined) ?? NaN);
  const current = ref.containers?.['istio-proxy']?.pid;
  // A line from an earlier process of a restarted container is not the current one's ports.
  if (last.pid !== undefined && current != null && num('pid') !== current) return undefined;
  const pid = current ?? num('pid');
  return {
    pid,
    ports: { hbone: num('hbone', 'inbound'), admin: num('admin'), stats: num('stats', 'metrics'), readiness: num('readiness') },
    log: podLogPath(namespace, podName, 'istio-proxy', lab),
  };
}

/** tcpdump on the lab fabric bridge (between the nodes) while `during` runs. */
export async function captureFabric<T>(lab: LabState, during: () => Promise<T>): Promise<{ result: T; text: string[]; tls: TlsCheck; raw: Buffer }> {
  const pcap = join(lab.dir, `fabric-${Date.now()}.pcap`);
  const dump: ChildProcess = spawn('nsenter', [`--net=/run/netns/${lab.fabricNetns}`, '--', 'tcpdump', '--immediate-mode', '-i', 'fab0', '-U', '-s', '0', '-w', pcap, 'tcp'], { stdio: ['ignore', 'ignore', 'pipe'] });
  try {
    let err = '';
    dump.stderr!.on('data', (d: Buffer) => (err += d.toString()));
    await pollUntil('tcpdump to listen', () => {
      if (dump.exitCode !== null) throw new Error(`tcpdump exited: ${err}`);
      return err.includes('listening on');
    }, { timeoutMs: 10_000 });
    const result = await during();
    // Let the last FIN/ACKs land in the file before stopping.
    const size = () => (existsSync(pcap) ? readFileSync(pcap).length : 0);
    let last = -1;
    await pollUntil('the capture to settle', () => {
      const s = size();
      const settled = s === last && s > 24;
      last = s;
      return settled;
    }, { timeoutMs: 10_000, intervalMs: 300 });
    dump.kill('SIGINT');
    await new Promise((r) => (dump.exitCode !== null ? r(undefined) : dump.once('exit', r)));
    const raw = readFileSync(pcap);
    const text = spawnText(['tcpdump', '-nn', '-r', pcap]);
    return { result, text, tls: checkAllTls(readPcapTcp(raw)), raw };
  } finally {
    dump.kill('SIGKILL');
    rmSync(pcap, { force: true });
  }
}

function spawnText(argv: string[]): string[] {
  // tcpdump -r prints packets on stdout; stderr has the "reading from file" banner.
  const r = spawnSync(argv[0]!, argv.slice(1), { encoding: 'utf8', timeout: 30_000 });
  return (r.stdout ?? '').split('\n').filter(Boolean);
}
