// bench/waypoint: the same HTTP/1.1 client/server pair on the lab, node1 → node2, once per scenario
// (outside the mesh, captured by ztunnel at L4, and through a namespace waypoint), measured one after
// the other on one lab with the mesh in controller mode: max req/s over keep-alive connections,
// latency at a fixed rate, and what the waypoint and both ztunnels spend per 1000 requests.
import { existsSync, readFileSync } from 'node:fs';
import { kubectlSync, podRef } from '../../e2e/lab/lab.ts';
import { pollUntil } from '../../e2e/lab/poll.ts';
import { isReady, type PodJson } from '../../e2e/lab/sample-apps.ts';
import { isAlive, type LabState } from '../../e2e/lab/state.ts';
import { waypointProcess, type LabMesh } from '../../e2e/ztunnel/lab-mesh.ts';
import { cpuSeconds, rssMiB } from '../common/proc.ts';
import { httpLoad, type HttpLoadOptions, type HttpLoadResult, type HttpRequestSpec, type HttpTarget } from './http-load.ts';
import type { RunCost, ScenarioResult } from './report.ts';

/** One column of the table: a namespace set up one way. Add a scenario here to add a column. */
export interface Scenario {
  name: string;
  /** Heading of its ratio column against the first scenario (the baseline). */
  ratioHead?: string;
  namespace: string;
  ambient: boolean;
  /** A Gateway `waypoint` of class istio-waypoint, and the namespace labelled to use it. */
  waypoint: boolean;
  /** More objects for the namespace (policies, routes), applied once the waypoint is Programmed. */
  extraManifest?: (namespace: string) => string;
}

export const SCENARIOS: readonly Scenario[] = [
  { name: 'no mesh', namespace: 'bench-plain', ambient: false, waypoint: false },
  { name: 'L4', ratioHead: 'L4/base', namespace: 'bench-l4', ambient: true, waypoint: false },
  { name: 'L4+waypoint', ratioHead: 'wp/base', namespace: 'bench-l7', ambient: true, waypoint: true },
  { name: 'wp+VS+authz', ratioHead: 'rules/base', namespace: 'bench-rules', ambient: true, waypoint: true, extraManifest: (ns) => routingAndAuthorization(ns) },
];

/**
 * Issue 10's cost row: a VirtualService of 10 http rules (nine header matches the load never sends,
 * then the catch-all, so every request walks all ten) and an L7 AuthorizationPolicy on the waypoint
 * (ALLOW POST and GET on any path from the namespace's principals) in force.
 */
export function routingAndAuthorization(ns: string): string {
  const rules = Array.from({ length: 9 }, (_, i) => `  - name: rule-${i}
    match: [{ headers: { x-bench-route: { exact: "r${i}" } } }]
    route: [{ destination: { host: echo.${ns}.svc.cluster.local } }]`).join('\n');
  return `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: echo-rules, namespace: ${ns} }
spec:
  hosts: [echo.${ns}.svc.cluster.local]
  http:
${rules}
  - name: default
    route: [{ destination: { host: echo.${ns}.svc.cluster.local } }]
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: { name: allow-bench, namespace: ${ns} }
spec:
  targetRefs: [{ kind: Gateway, group: gateway.networking.k8s.io, name: waypoint }]
  action: ALLOW
  rules:
  - from: [{ source: { namespaces: ["${ns}"] } }]
    to: [{ operation: { methods: ["GET", "POST"], paths: ["/*"] } }]
`;
}

export interface WaypointBenchOptions {
  /** Seconds per measurement. */
  seconds: number;
  /** Total requests per second of the fixed-rate latency run. */
  rate: number;
  connections: number;
  /** Connections of the fixed-rate run (each with one request in flight). */
  rateConnections: number;
  /** POST of `bodyBytes` (Istio's anchor is for 1 KB payloads); 0 sends a GET. */
  bodyBytes: number;
  /** Unmeasured load first, so JIT warm-up and pool set-up are not in the numbers. */
  warmupSeconds: number;
  scenarios: readonly Scenario[];
}

export const DEFAULT_WAYPOINT_BENCH: WaypointBenchOptions = {
  seconds: 10,
  rate: 1000,
  connections: 16,
  rateConnections: 16,
  bodyBytes: 1024,
  warmupSeconds: 2,
  scenarios: SCENARIOS,
};

export class WaypointBenchError extends Error {
  readonly code = 'WAYPOINT_BENCH';
}

const ECHO_PORT = 80;
const CLIENT_NODE = 'node1';
const SERVER_NODE = 'node2';
const WAYPOINT_LABEL = 'gateway.networking.k8s.io/gateway-name=waypoint';

export function requestLabel(o: Pick<WaypointBenchOptions, 'bodyBytes'>): string {
  return o.bodyBytes > 0 ? `POST ${o.bodyBytes === 1024 ? '1 KiB' : `${o.bodyBytes} B`}` : 'GET';
}

/** Namespace, client pod on node1, lab/http-echo (1 replica) on node2 behind Service `echo`. */
export function appsManifest(s: Scenario): string {
  const labels = { ...(s.ambient ? { 'istio.io/dataplane-mode': 'ambient' } : {}), ...(s.waypoint ? { 'istio.io/use-waypoint': 'waypoint' } : {}) };
  const waypoint = s.waypoint
    ? `---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: { name: waypoint, namespace: ${s.namespace} }
spec:
  gatewayClassName: istio-waypoint
  listeners: [{ name: mesh, port: 15008, protocol: HBONE }]
`
    : '';
  return `apiVersion: v1
kind: Namespace
metadata: { name: ${s.namespace}, labels: ${JSON.stringify(labels)} }
${waypoint}---
apiVersion: v1
kind: ServiceAccount
metadata: { name: client, namespace: ${s.namespace} }
---
apiVersion: v1
kind: ServiceAccount
metadata: { name: echo, namespace: ${s.namespace} }
---
apiVersion: v1
kind: Pod
metadata: { name: client, namespace: ${s.namespace}, labels: { app: client } }
spec: { nodeName: ${CLIENT_NODE}, serviceAccountName: client, containers: [{ name: main, image: lab/sleep }] }
---
apiVersion: apps/v1
kind: Deployment
metadata: { name: echo, namespace: ${s.namespace} }
spec:
  replicas: 1
  selector: { matchLabels: { app: echo } }
  template:
    metadata: { labels: { app: echo, version: v1 } }
    spec:
      nodeSelector: { kubernetes.io/hostname: ${SERVER_NODE} }
      serviceAccountName: echo
      containers: [{ name: http, image: lab/http-echo }]
---
apiVersion: v1
kind: Service
metadata: { name: echo, namespace: ${s.namespace} }
spec: { selector: { app: echo }, ports: [{ name: http, port: ${ECHO_PORT}, targetPort: 8080 }] }
`;
}

type PodItem = PodJson & { metadata: { name: string; annotations?: Record<string, string> }; spec: { nodeName?: string } };

interface GatewayJson {
  status?: { conditions?: { type: string; status: string; reason?: string; message?: string }[] };
}

interface Prepared {
  s: Scenario;
  target: HttpTarget;
  request: HttpRequestSpec;
  waypoint?: { pod: string; node: string; pid: number };
}

function pods(lab: LabState, ns: string, selector?: string): PodItem[] {
  return (JSON.parse(kubectlSync(lab, ['get', 'pods', '-n', ns, ...(selector ? ['-l', selector] : []), '-o', 'json']).stdout) as { items: PodItem[] }).items;
}

function tailOf(path: string, lines = 20): string {
  if (!existsSync(path)) return '(no log)';
  return readFileSync(path, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
}

/** Waits with a deadline; on timeout the error carries `explain()` (what the cluster says). */
async function waitFor<T>(what: string, check: () => Promise<T | undefined | false> | T | undefined | false, timeoutMs: number, explain: () => string): Promise<T> {
  try {
    return await pollUntil(what, check, { timeoutMs });
  } catch (err) {
    let detail: string;
    try {
      detail = explain();
    } catch (e) {
      detail = `(could not read the state: ${(e as Error).message})`;
    }
    throw new WaypointBenchError(`${(err as Error).message}\n${detail}`);
  }
}

async function serviceInDump(mesh: LabMesh, node: string, host: string): Promise<{ waypoint?: unknown; endpoints?: Record<string, unknown> } | undefined> {
  const dump = JSON.parse(await mesh.admin(node, '/config_dump')) as { services?: { hostname: string; waypoint?: unknown; endpoints?: Record<string, unknown> }[] };
  return dump.services?.find((x) => x.hostname === host);
}

/** Applies a scenario's objects and waits until its path is what the scenario says. */
async function prepare(lab: LabState, mesh: LabMesh, s: Scenario, o: WaypointBenchOptions, log: (l: string) => void): Promise<Prepared> {
  const ns = s.namespace;
  const host = `echo.${ns}.svc.cluster.local`;
  kubectlSync(lab, ['apply', '-f', '-'], appsManifest(s));
  let waypoint: Prepared['waypoint'];
  if (s.waypoint) {
    const gateway = () => JSON.parse(kubectlSync(lab, ['get', 'gateway', '-n', ns, 'waypoint', '-o', 'json']).stdout) as GatewayJson;
    await waitFor(`Gateway ${ns}/waypoint to be Programmed=True`, () => gateway().status?.conditions?.some((c) => c.type === 'Programmed' && c.status === 'True'), 120_000, () =>
      `Gateway status: ${JSON.stringify(gateway().status?.conditions ?? [])}\nwaypoint pods: ${pods(lab, ns, WAYPOINT_LABEL).map((p) => `${p.metadata.name} ready=${isReady(p)}`).join(', ') || 'none'}\ncontroller log (last lines):\n${tailOf(mesh.controller().log)}`);
    const pod = await waitFor(`the waypoint pod of ${ns} to be Ready`, () => pods(lab, ns, WAYPOINT_LABEL).find(isReady), 120_000, () =>
      `waypoint pods: ${JSON.stringify(pods(lab, ns, WAYPOINT_LABEL).map((p) => ({ name: p.metadata.name, node: p.spec.nodeName, status: p.status })))}`);
    const ports = await waitFor(`the "waypoint started" line of ${ns}/${pod.metadata.name}`, () => {
      const p = waypointProcess(lab, ns, pod.metadata.name);
      return p && Number.isInteger(p.pid) && isAlive(p.pid) ? p : undefined;
    }, 30_000, () => `no live pid in ${lab.dir}/pods/${ns}_${pod.metadata.name}_*/istio-proxy.log`);
    waypoint = { pod: pod.metadata.name, node: pod.spec.nodeName ?? '?', pid: ports.pid };
    log(`${ns}: waypoint ${pod.metadata.name} on ${waypoint.node}, pid ${ports.pid}`);
  }
  if (s.extraManifest) kubectlSync(lab, ['apply', '-f', '-'], s.extraManifest(ns));
  await waitFor(`the ${ns} pods to be Ready${s.ambient ? ' and captured' : ''}`, () => {
    const all = pods(lab, ns, 'app in (client,echo)');
    return all.length === 2 && all.every((p) => isReady(p) && (!s.ambient || p.metadata.annotations?.['ambient.istio.io/redirection'] === 'enabled'));
  }, 120_000, () => `pods: ${JSON.stringify(pods(lab, ns).map((p) => ({ name: p.metadata.name, node: p.spec.nodeName, annotations: p.metadata.annotations, conditions: p.status.conditions })))}`);
  if (s.ambient) {
    await waitFor(`${CLIENT_NODE}'s ztunnel to have ${host}${s.waypoint ? ' with its waypoint' : ''}`, async () => {
      const svc = await serviceInDump(mesh, CLIENT_NODE, host);
      return svc !== undefined && Object.keys(svc.endpoints ?? {}).length > 0 && (!s.waypoint || svc.waypoint !== undefined);
    }, 60_000, () => `${CLIENT_NODE} ztunnel log (last lines):\n${tailOf(mesh.ztunnel(CLIENT_NODE).log)}`);
  }
  const vip = kubectlSync(lab, ['get', 'svc', '-n', ns, 'echo', '-o', 'jsonpath={.spec.clusterIP}']).stdout.trim();
  const target: HttpTarget = { netns: `/run/netns/${podRef(ns, 'client', lab).netns}`, host: vip, port: ECHO_PORT };
  const request: HttpRequestSpec = o.bodyBytes > 0
    ? { method: 'POST', path: '/bench', authority: host, bodyBytes: o.bodyBytes }
    : { method: 'GET', path: '/bench', authority: host };
  // One request answered 200 before measuring: the Service rules, the mesh and the waypoint's routes are in place.
  let last: HttpLoadResult | undefined;
  await waitFor(`a ${requestLabel(o)} to ${host} from ${ns}/client to answer 200`, async () => {
    last = await httpLoad(target, { connections: 1, seconds: 2, request, maxRequests: 1, timeoutMs: 2000 });
    return last.count === 1;
  }, 60_000, () => `last attempt: statuses ${JSON.stringify(last?.statuses)}, errors ${JSON.stringify(last?.errorKinds)}`);
  return { s, target, request, ...(waypoint ? { waypoint } : {}) };
}

/** Reads a process's CPU seconds; a pid that went away mid-bench is an error, not a zero. */
function cpuOf(pids: readonly number[], what: string): number {
  let sum = 0;
  for (const pid of pids) {
    try {
      sum += cpuSeconds(pid);
    } catch {
      throw new WaypointBenchError(`${what} (pid ${pid}) exited during the bench`);
    }
  }
  return sum;
}

type Watched = Partial<Record<'ztunnel' | 'waypoint', { pids: readonly number[]; what: string }>>;

/** One load run with the CPU seconds each watched process set spent during it. */
async function measured(t: HttpTarget, opts: HttpLoadOptions, watched: Watched): Promise<{ load: HttpLoadResult; cost: Partial<Record<keyof Watched, RunCost>> }> {
  const keys = Object.keys(watched) as (keyof Watched)[];
  const before = keys.map((k) => cpuOf(watched[k]!.pids, watched[k]!.what));
  const load = await httpLoad(t, opts);
  const after = keys.map((k) => cpuOf(watched[k]!.pids, watched[k]!.what));
  return { load, cost: Object.fromEntries(keys.map((k, i) => [k, { cpuSeconds: after[i]! - before[i]!, requests: load.count }])) };
}

function rssOf(pids: readonly number[], what: string): number {
  try {
    return pids.reduce((a, pid) => a + rssMiB(pid), 0);
  } catch {
    throw new WaypointBenchError(`${what} exited during the bench`);
  }
}

function describeErrors(r: HttpLoadResult): string {
  const kinds = Object.entries(r.errorKinds).filter(([, n]) => n > 0).map(([k, n]) => `${k} ${n}`);
  return kinds.length ? ` (errors: ${kinds.join(', ')}; statuses ${JSON.stringify(r.statuses)})` : '';
}

/** Sets up every scenario, then measures them one after the other; one result per scenario, in order. */
export async function runWaypointBench(lab: LabState, mesh: LabMesh, o: WaypointBenchOptions = DEFAULT_WAYPOINT_BENCH, log: (l: string) => void = () => {}): Promise<ScenarioResult[]> {
  for (const n of [CLIENT_NODE, SERVER_NODE]) if (!lab.nodes.some((x) => x.name === n)) throw new WaypointBenchError(`the lab has no ${n}; bench/waypoint needs 2 nodes`);
  const prepared: Prepared[] = [];
  try {
    for (const s of o.scenarios) {
      log(`${s.name}: setting up namespace ${s.namespace}`);
      prepared.push(await prepare(lab, mesh, s, o, log));
    }
    const ztunnels = lab.nodes.map((n) => mesh.ztunnel(n.name).pid);
    const results: ScenarioResult[] = [];
    for (const p of prepared) {
      const watched: Watched = {
        ...(p.s.ambient ? { ztunnel: { pids: ztunnels, what: 'a ztunnel' } } : {}),
        ...(p.waypoint ? { waypoint: { pids: [p.waypoint.pid], what: `the waypoint of ${p.s.namespace}` } } : {}),
      };
      log(`${p.s.name}: ${p.s.namespace}/client (${CLIENT_NODE}) -> ${p.target.host}:${p.target.port}${p.waypoint ? ` via waypoint on ${p.waypoint.node}` : ''}, ${requestLabel(o)}`);
      await httpLoad(p.target, { connections: o.connections, seconds: o.warmupSeconds, request: p.request });
      const max = await measured(p.target, { connections: o.connections, seconds: o.seconds, request: p.request }, watched);
      log(`${p.s.name}: max ${Math.round(max.load.rate)} req/s${describeErrors(max.load)}`);
      const fixed = await measured(p.target, { connections: o.rateConnections, seconds: o.seconds, rate: o.rate, request: p.request }, watched);
      log(`${p.s.name}: @${o.rate} req/s p50 ${fixed.load.p50.toFixed(2)} ms p99 ${fixed.load.p99.toFixed(2)} ms${describeErrors(fixed.load)}`);
      results.push({
        name: p.s.name,
        ...(p.s.ratioHead ? { ratioHead: p.s.ratioHead } : {}),
        max: max.load,
        fixed: fixed.load,
        client: { max: { cpuSeconds: max.load.clientCpuSeconds, requests: max.load.count }, fixed: { cpuSeconds: fixed.load.clientCpuSeconds, requests: fixed.load.count } },
        ...(watched.ztunnel ? { ztunnel: { max: max.cost.ztunnel!, fixed: fixed.cost.ztunnel!, rssMiB: rssOf(ztunnels, 'a ztunnel') } } : {}),
        ...(p.waypoint ? { waypoint: { node: p.waypoint.node, max: max.cost.waypoint!, fixed: fixed.cost.waypoint!, rssMiB: rssOf([p.waypoint.pid], `the waypoint of ${p.s.namespace}`) } } : {}),
      });
    }
    return results;
  } finally {
    // The namespaces go (the lab may outlive the bench); not waited for.
    for (const s of o.scenarios) {
      try {
        kubectlSync(lab, ['delete', 'namespace', s.namespace, '--ignore-not-found', '--wait=false']);
      } catch (err) {
        log(`could not delete namespace ${s.namespace}: ${(err as Error).message}`);
      }
    }
  }
}
