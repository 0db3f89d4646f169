// Traffic management and L7 policy in the waypoint (issue 10) on the lab with the whole mesh (Helm-installed), driven
// only by Kubernetes objects: one `it` per field group of VirtualService (match, weights, timeout,
// retries, fault, mirror, rewrite, redirect, directResponse, headers, CORS, tcp), DestinationRule
// (subsets + ROUND_ROBIN, connection pool → 503 UO, outlier ejection and return), HTTPRoute and
// GRPCRoute (matches, filters, weights, status.parents), L7 AuthorizationPolicy on the waypoint's
// Gateway (403 `RBAC: access denied`), live changes with the same waypoint process, and bad input
// (the controller's log line, `controller_traffic_config_problems`, route status, and the waypoint
// answering 500/503 at once). Every Service here selects lab/http-echo pods (echo-v1 ×2, echo-v2)
// unless it says otherwise, so each field group gets its own host and its own VirtualService.
// Config arrival is polled on the waypoint's /config_dump, behaviour with bounded loops.
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../lab/config.ts';
import { down, kubectlSync, podRef, up } from '../lab/lab.ts';
import { pollUntil } from '../lab/poll.ts';
import { isReady, type PodJson } from '../lab/sample-apps.ts';
import type { LabState } from '../lab/state.ts';
import { requireRoot, talk } from '../ztunnel/netns-harness.ts';
import { grpcStream, h2Session, http1Requests, type HttpResult } from './clients.ts';
import { HelmMesh } from '../lab/mesh-helm.ts';

const NS = 'traffic';
const fqdn = (svc: string) => `${svc}.${NS}.svc.cluster.local`;
const httpRoute = (svc: string, port = 80) => `inbound-vip|${port}|http|${fqdn(svc)}`;
const subsetCluster = (svc: string, subset: string, port = 80, chain = 'http') => `inbound-vip|${port}|${chain}/${subset}|${fqdn(svc)}`;

/** Services over the echo pods (app=echo, versions v1 and v2), one per field group. */
const ECHO_SERVICES = [
  'echo-match', 'echo-split', 'echo-timeout', 'echo-retry', 'echo-fault', 'echo-mirrored', 'echo-rewrite', 'echo-redirect',
  'echo-headers', 'echo-cors', 'echo-rr', 'echo-cb', 'echo-live', 'echo-bad', 'echo-hr', 'echo-hr-bad', 'echo-authz',
];

const apps = `
apiVersion: v1
kind: ServiceAccount
metadata: { name: client, namespace: ${NS} }
---
apiVersion: v1
kind: ServiceAccount
metadata: { name: echo, namespace: ${NS} }
---
apiVersion: v1
kind: Pod
metadata: { name: client, namespace: ${NS}, labels: { app: client } }
spec: { serviceAccountName: client, containers: [{ name: main, image: lab/sleep }] }
${['v1', 'v2'].map((v) => `---
apiVersion: apps/v1
kind: Deployment
metadata: { name: echo-${v}, namespace: ${NS} }
spec:
  replicas: ${v === 'v1' ? 2 : 1}
  selector: { matchLabels: { app: echo, version: ${v} } }
  template:
    metadata: { labels: { app: echo, version: ${v} } }
    spec:
      serviceAccountName: echo
      containers:
      - { name: http, image: lab/http-echo, env: [{ name: LOG_REQUESTS, value: "1" }] }
      - { name: tcp, image: lab/tcp-echo, env: [{ name: ECHO_PREFIX, value: "${v}:" }] }`).join('\n')}
---
apiVersion: apps/v1
kind: Deployment
metadata: { name: echo-mirror, namespace: ${NS} }
spec:
  replicas: 1
  selector: { matchLabels: { app: echo-mirror } }
  template:
    metadata: { labels: { app: echo-mirror, version: v1 } }
    spec:
      serviceAccountName: echo
      containers: [{ name: http, image: lab/http-echo, env: [{ name: LOG_REQUESTS, value: "1" }] }]
---
# Retried to success: the first two requests answer 503.
apiVersion: apps/v1
kind: Deployment
metadata: { name: flaky, namespace: ${NS} }
spec:
  replicas: 1
  selector: { matchLabels: { app: flaky } }
  template:
    metadata: { labels: { app: flaky } }
    spec:
      serviceAccountName: echo
      containers: [{ name: ratings, image: lab/bookinfo-ratings, env: [{ name: PORT, value: "8080" }, { name: FAIL_FIRST, value: "2" }, { name: FAIL_STATUS, value: "503" }] }]
---
# Outlier detection: one healthy echo, one pod answering 500 to its first three requests.
apiVersion: apps/v1
kind: Deployment
metadata: { name: od-good, namespace: ${NS} }
spec:
  replicas: 1
  selector: { matchLabels: { app: od, role: good } }
  template:
    metadata: { labels: { app: od, role: good } }
    spec:
      serviceAccountName: echo
      containers: [{ name: http, image: lab/http-echo }]
---
apiVersion: apps/v1
kind: Deployment
metadata: { name: od-bad, namespace: ${NS} }
spec:
  replicas: 1
  selector: { matchLabels: { app: od, role: bad } }
  template:
    metadata: { labels: { app: od, role: bad } }
    spec:
      serviceAccountName: echo
      containers: [{ name: ratings, image: lab/bookinfo-ratings, env: [{ name: PORT, value: "8080" }, { name: FAIL_FIRST, value: "3" }] }]
${ECHO_SERVICES.map((s) => `---
apiVersion: v1
kind: Service
metadata: { name: ${s}, namespace: ${NS} }
spec: { selector: { app: echo }, ports: [{ name: http, port: 80, targetPort: 8080 }] }`).join('\n')}
---
apiVersion: v1
kind: Service
metadata: { name: echo-tcp, namespace: ${NS} }
spec: { selector: { app: echo }, ports: [{ name: tcp, port: 9000, targetPort: 9000 }] }
---
apiVersion: v1
kind: Service
metadata: { name: echo-grpc, namespace: ${NS} }
spec: { selector: { app: echo }, ports: [{ name: grpc, port: 7070, targetPort: 8080 }] }
${['v1', 'v2'].map((v) => `---
apiVersion: v1
kind: Service
metadata: { name: echo-${v}, namespace: ${NS} }
spec: { selector: { app: echo, version: ${v} }, ports: [{ name: http, port: 80, targetPort: 8080 }, { name: grpc, port: 7070, targetPort: 8080 }] }`).join('\n')}
---
apiVersion: v1
kind: Service
metadata: { name: echo-mirror, namespace: ${NS} }
spec: { selector: { app: echo-mirror }, ports: [{ name: http, port: 80, targetPort: 8080 }] }
---
apiVersion: v1
kind: Service
metadata: { name: flaky, namespace: ${NS} }
spec: { selector: { app: flaky }, ports: [{ name: http, port: 80, targetPort: 8080 }] }
---
apiVersion: v1
kind: Service
metadata: { name: od, namespace: ${NS} }
spec: { selector: { app: od }, ports: [{ name: http, port: 80, targetPort: 8080 }] }
`;

/** Subsets v1/v2 by the echo pods' version label (plus an optional top-level trafficPolicy). */
const subsetsRule = (svc: string, trafficPolicy = '') => `
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: { name: ${svc} }
spec:
  host: ${svc}
${trafficPolicy}  subsets:
  - { name: v1, labels: { version: v1 } }
  - { name: v2, labels: { version: v2 } }
`;

interface EchoReply {
  pod: string;
  labels: { app: string | null; version: string | null };
  method: string;
  path: string;
  headers: Record<string, string | string[] | undefined>;
}

type Pod = PodJson & { metadata: { name: string; annotations?: Record<string, string> }; status: { podIP?: string; containerStatuses?: { restartCount: number }[] } };
type Dump = { configs: Record<string, unknown>[] };

describe('traffic management and L7 policy in the waypoint (root)', () => {
  let lab: LabState;
  let mesh: HelmMesh;
  let vips: Record<string, string> = {};
  let clientNetns: string;
  let waypointName: string;
  let waypointPid: number;

  const kubectl = (args: string[], input?: string) => kubectlSync(lab, args, input);
  const apply = (yaml: string) => kubectl(['apply', '-n', NS, '-f', '-'], yaml);
  const pods = (selector?: string) => (JSON.parse(kubectl(['get', 'pods', '-n', NS, ...(selector ? ['-l', selector] : []), '-o', 'json']).stdout) as { items: Pod[] }).items;
  const waypoint = () => {
    const w = mesh.waypointProcess(NS, waypointName);
    if (!w) throw new Error('the waypoint process is not known (yet)');
    return w;
  };
  const ambientctl = (args: string[]) => spawnSync(process.execPath, [`${REPO_ROOT}/cli/src/ambientctl.ts`, ...args], { encoding: 'utf8', timeout: 150_000, env: { ...process.env, KUBECONFIG: lab.kubeconfig } });

  // ---- requests from the client pod --------------------------------------------------------------
  type Req = { method?: string; path: string; headers?: Record<string, string> };
  /** Requests one after another on one keep-alive connection to `svc`'s VIP. */
  const send = (svc: string, reqs: Req[], timeoutMs = 10_000, port = 80): Promise<HttpResult[]> => http1Requests(clientNetns, vips[svc]!, port, reqs, timeoutMs);
  const one = async (svc: string, r: Req, timeoutMs = 10_000): Promise<HttpResult> => (await send(svc, [r], timeoutMs))[0]!;
  const echo = (r: HttpResult): EchoReply => JSON.parse(r.body.toString()) as EchoReply;
  const versionOf = (r: HttpResult): string => (r.status === 200 ? echo(r).labels.version ?? '?' : `HTTP ${r.status}`);
  const rid = (tag: string) => `${tag}-${randomBytes(4).toString('hex')}`;

  // ---- what the waypoint holds and logs ---------------------------------------------------------
  const dump = async (): Promise<Dump> => JSON.parse(await (await fetch(`http://127.0.0.1:${waypoint().ports.admin}/config_dump`)).text()) as Dump;
  const section = <T>(d: Dump, type: string, key: string): T[] => ((d.configs.find((c) => String(c['@type']).endsWith(type)) ?? {})[key] as T[] | undefined) ?? [];
  const routeText = (d: Dump, name: string) => {
    const e = section<{ route_config?: { name?: string } }>(d, 'RoutesConfigDump', 'dynamic_route_configs').find((x) => x.route_config?.name === name);
    return e ? JSON.stringify(e.route_config) : undefined;
  };
  /** Waits until the waypoint's route config for `svc` names every route in `routeNames`. */
  const waitRoutes = (svc: string, routeNames: string[], port = 80) =>
    pollUntil(`the waypoint's routes for ${svc}: ${routeNames.join(', ')}`, async () => {
      const t = routeText(await dump(), httpRoute(svc, port));
      return t !== undefined && routeNames.every((n) => t.includes(`"name":${JSON.stringify(n)}`));
    }, { timeoutMs: 30_000 });
  /** Waits until cluster `name` is held with endpoints and its JSON contains `includes`. */
  const waitCluster = (name: string, includes: string[] = []) =>
    pollUntil(`the waypoint's cluster ${name}`, async () => {
      const d = await dump();
      const c = section<{ cluster?: { name?: string } }>(d, 'ClustersConfigDump', 'dynamic_active_clusters').find((x) => x.cluster?.name === name);
      const e = section<{ endpoint_config?: { cluster_name?: string; endpoints?: { lb_endpoints?: unknown[] }[] } }>(d, 'EndpointsConfigDump', 'dynamic_endpoint_configs').find((x) => x.endpoint_config?.cluster_name === name);
      const text = JSON.stringify(c?.cluster ?? {});
      return c !== undefined && (e?.endpoint_config?.endpoints ?? []).some((l) => (l.lb_endpoints ?? []).length > 0) && includes.every((s) => text.includes(s));
    }, { timeoutMs: 30_000 });
  const applySubsets = async (svc: string, trafficPolicy = '', port = 80, chain = 'http') => {
    apply(subsetsRule(svc, trafficPolicy));
    await waitCluster(subsetCluster(svc, 'v1', port, chain));
    await waitCluster(subsetCluster(svc, 'v2', port, chain));
  };
  const accessLog = () => mesh.podLogLines(NS, waypointName).filter((l) => l.scope === 'access');
  const accessLine = (requestId: string) => pollUntil(`the access log line of ${requestId}`, () => accessLog().find((l) => l.request_id === requestId), { timeoutMs: 10_000 });
  const waypointMetrics = async () => (await fetch(`http://127.0.0.1:${waypoint().ports.stats}/stats/prometheus`)).text();
  const controllerMetrics = async () => (await fetch(`http://127.0.0.1:${mesh.controller().ports.monitoring}/metrics`)).text();
  const counter = (text: string, name: string, labels: Record<string, string>) =>
    text.split('\n').filter((l) => (l.startsWith(`${name}{`) || l.startsWith(`${name} `)) && Object.entries(labels).every(([k, v]) => l.includes(`${k}="${v}"`)))
      .reduce((s, l) => s + Number(l.slice(l.lastIndexOf(' ') + 1)), 0);
  /** The `request` lines lab/http-echo (LOG_REQUESTS=1) wrote in container `http` of the pods matching `selector`. */
  const echoRequestLog = (selector: string) => pods(selector).flatMap((p) => mesh.podLogLines(NS, p.metadata.name, 'http').filter((l) => l.msg === 'request').map((l) => ({ pod: p.metadata.name, path: String(l.path) })));
  const controllerLog = () => readFileSync(mesh.controller().log, 'utf8').split('\n').filter((l) => l.startsWith('{')).flatMap((l) => {
    try {
      return [JSON.parse(l) as Record<string, unknown>];
    } catch {
      return [];
    }
  });

  beforeAll(async () => {
    requireRoot('e2e/waypoint/traffic.test.ts');
    lab = await up({ nodes: 2 });
    mesh = await HelmMesh.install(lab);
    kubectl(['create', 'namespace', NS]);
    kubectl(['label', 'namespace', NS, 'istio.io/dataplane-mode=ambient']);
    const r = ambientctl(['waypoint', 'apply', '-n', NS, '--enroll-namespace', '--wait']);
    if (r.status !== 0) throw new Error(`ambientctl waypoint apply: ${r.stdout}${r.stderr}`);
    kubectl(['apply', '-f', '-'], apps);
    await pollUntil('the apps Ready and captured', () => {
      const all = pods().filter((p) => !p.metadata.labels?.['gateway.networking.k8s.io/gateway-name']);
      return all.length === 8 && all.every((p) => isReady(p) && p.metadata.annotations?.['ambient.istio.io/redirection'] === 'enabled');
    }, { timeoutMs: 120_000 });
    const wp = await pollUntil('the waypoint pod', () => pods('gateway.networking.k8s.io/gateway-name=waypoint').find((p) => isReady(p)), { timeoutMs: 60_000 });
    waypointName = wp.metadata.name;
    waypointPid = (await pollUntil('the waypoint process', () => mesh.waypointProcess(NS, waypointName), { timeoutMs: 30_000 })).pid;
    const svcs = (JSON.parse(kubectl(['get', 'svc', '-n', NS, '-o', 'json']).stdout) as { items: { metadata: { name: string }; spec: { clusterIP: string } }[] }).items;
    vips = Object.fromEntries(svcs.map((s) => [s.metadata.name, s.spec.clusterIP]));
    const client = podRef(NS, 'client', lab);
    clientNetns = client.netns;
    await pollUntil('ztunnel to send every test Service to the waypoint', async () => {
      const d = JSON.parse(await mesh.admin(client.node, '/config_dump')) as { services: { hostname: string; waypoint?: unknown }[] };
      return [...ECHO_SERVICES, 'echo-tcp', 'echo-grpc', 'echo-v1', 'echo-v2', 'echo-mirror', 'flaky', 'od'].every((s) => d.services.find((x) => x.hostname === fqdn(s))?.waypoint !== undefined);
    }, { timeoutMs: 30_000 });
    await pollUntil('a first request through the waypoint', async () => {
      const res = await one('echo-match', { path: '/warmup' }, 5_000);
      return res.status === 200 && accessLog().some((l) => l.path === '/warmup');
    }, { timeoutMs: 30_000, intervalMs: 500 });
  }, 400_000);

  afterAll(async () => {
    await down();
  }, 120_000);

  it('VirtualService match: uri exact/prefix/regex, headers exact/prefix/regex, withoutHeaders, queryParams, method; first match wins', async () => {
    await applySubsets('echo-match');
    const to = (v: string) => `[{ destination: { host: echo-match, subset: ${v} } }]`;
    apply(`
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: echo-match }
spec:
  hosts: [echo-match]
  http:
  - name: first-wins
    match: [{ uri: { prefix: /first }, headers: { x-order: { exact: v1 } } }]
    route: ${to('v1')}
  - name: by-uri
    match:
    - uri: { exact: /exact }
    - uri: { prefix: /prefix/ }
    - uri: { regex: "/re/[0-9]+" }
    - uri: { prefix: /first }
    route: ${to('v2')}
  - name: by-header
    match:
    - headers: { x-canary: { exact: "yes" } }
    - headers: { x-team: { prefix: blue } }
    - headers: { x-build: { regex: "b-[0-9]{3}" } }
    route: ${to('v2')}
  - name: by-without-headers
    match: [{ uri: { prefix: /without }, withoutHeaders: { x-stable: { exact: "1" } } }]
    route: ${to('v2')}
  - name: by-query
    match: [{ queryParams: { canary: { exact: "1" } } }]
    route: ${to('v2')}
  - name: by-method
    match: [{ method: { exact: PUT } }]
    route: ${to('v2')}
  - name: default
    route: ${to('v1')}
`);
    await waitRoutes('echo-match', ['first-wins', 'by-uri', 'by-header', 'by-without-headers', 'by-query', 'by-method', 'default']);
    const cases: [string, Req, string][] = [
      ['uri exact', { path: '/exact' }, 'v2'],
      ['uri exact, longer path', { path: '/exact/more' }, 'v1'],
      ['uri prefix', { path: '/prefix/a' }, 'v2'],
      ['uri prefix, no match', { path: '/prefixx' }, 'v1'],
      ['uri regex (full match)', { path: '/re/123' }, 'v2'],
      ['uri regex, partial only', { path: '/re/12a' }, 'v1'],
      ['first match wins', { path: '/first', headers: { 'x-order': 'v1' } }, 'v1'],
      ['second route when the first does not match', { path: '/first' }, 'v2'],
      ['header exact', { path: '/h', headers: { 'x-canary': 'yes' } }, 'v2'],
      ['header exact, other value', { path: '/h', headers: { 'x-canary': 'no' } }, 'v1'],
      ['header prefix', { path: '/h', headers: { 'x-team': 'blue-42' } }, 'v2'],
      ['header prefix, other value', { path: '/h', headers: { 'x-team': 'red' } }, 'v1'],
      ['header regex', { path: '/h', headers: { 'x-build': 'b-123' } }, 'v2'],
      ['header regex, partial only', { path: '/h', headers: { 'x-build': 'b-12' } }, 'v1'],
      ['withoutHeaders, header absent', { path: '/without' }, 'v2'],
      ['withoutHeaders, other value', { path: '/without', headers: { 'x-stable': '2' } }, 'v2'],
      ['withoutHeaders, the excluded value', { path: '/without', headers: { 'x-stable': '1' } }, 'v1'],
      ['query param', { path: '/q?canary=1' }, 'v2'],
      ['query param, other value', { path: '/q?canary=2' }, 'v1'],
      ['query param absent', { path: '/q?other=1' }, 'v1'],
      ['method PUT', { method: 'PUT', path: '/m' }, 'v2'],
      ['method GET', { path: '/m' }, 'v1'],
    ];
    const res = await send('echo-match', cases.map(([, r]) => r));
    expect(cases.map(([name], i) => `${name}: ${versionOf(res[i]!)}`)).toEqual(cases.map(([name, , want]) => `${name}: ${want}`));
    // The path reached the pod unchanged.
    expect(echo(res[0]!).path).toBe('/exact');
  }, 120_000);

  it('weighted split 80/20 over subsets: 1000 requests on keep-alive connections land within ±5 points', async () => {
    await applySubsets('echo-split');
    apply(`
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: echo-split }
spec:
  hosts: [echo-split]
  http:
  - name: split
    route:
    - { destination: { host: echo-split, subset: v1 }, weight: 80 }
    - { destination: { host: echo-split, subset: v2 }, weight: 20 }
`);
    await waitRoutes('echo-split', ['split']);
    await pollUntil('the split route to answer', async () => (await one('echo-split', { path: '/split-warmup' })).status === 200, { timeoutMs: 10_000 });
    const perConn = await Promise.all(Array.from({ length: 10 }, () => send('echo-split', Array.from({ length: 100 }, (_, i) => ({ path: `/split/${i}` })))));
    const versions = perConn.flat().map(versionOf);
    expect(versions.length).toBe(1000);
    const v1 = versions.filter((v) => v === 'v1').length;
    const v2 = versions.filter((v) => v === 'v2').length;
    expect(v1 + v2).toBe(1000);
    expect(v1).toBeGreaterThanOrEqual(750);
    expect(v1).toBeLessThanOrEqual(850);
  }, 120_000);

  it('timeout: a backend slower than the route timeout gets 504 "upstream request timeout" (UT); a fast one 200', async () => {
    apply(`
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: echo-timeout }
spec:
  hosts: [echo-timeout]
  http:
  - name: half-second
    timeout: 0.5s
    route: [{ destination: { host: echo-timeout } }]
`);
    await waitRoutes('echo-timeout', ['half-second']);
    const id = rid('timeout');
    const t0 = Date.now();
    const slow = await one('echo-timeout', { path: '/delay/3000', headers: { 'x-request-id': id } });
    const ms = Date.now() - t0;
    expect(slow.status).toBe(504);
    expect(slow.body.toString()).toBe('upstream request timeout');
    // The route's timeout answered (UT), not the backend's 3 s reply; latency is bench/waypoint's.
    expect(ms).toBeGreaterThanOrEqual(400);
    expect(await accessLine(id)).toMatchObject({ response_code: 504, response_flags: 'UT' });
    expect((await one('echo-timeout', { path: '/delay/10' })).status).toBe(200);
  }, 60_000);

  it('retries: retryOn 5xx with 2 attempts makes 3 tries (URX when exhausted); a pod failing twice is retried to a 200', async () => {
    apply(`
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: echo-retry }
spec:
  hosts: [echo-retry]
  http:
  - name: retry-5xx
    retries: { attempts: 2, retryOn: 5xx }
    route: [{ destination: { host: echo-retry } }]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: flaky }
spec:
  hosts: [flaky]
  http:
  - name: retry-503
    retries: { attempts: 3, retryOn: "503" }
    route: [{ destination: { host: flaky } }]
`);
    await waitRoutes('echo-retry', ['retry-5xx']);
    await waitRoutes('flaky', ['retry-503']);
    const id = rid('retry');
    const path = `/status/503?try=${id}`;
    const r = await one('echo-retry', { path, headers: { 'x-request-id': id } });
    expect(r.status).toBe(503);
    // Every try reached a pod: the original and two retries.
    const tries = await pollUntil('three tries in the echo pods\' logs', () => {
      const seen = echoRequestLog('app=echo').filter((l) => l.path === path);
      return seen.length >= 3 ? seen : undefined;
    }, { timeoutMs: 10_000 });
    expect(tries.length).toBe(3);
    expect(String((await accessLine(id)).response_flags)).toContain('URX');
    // flaky answers 503 to its first two requests: the client only sees the third answer.
    const ok = await one('flaky', { path: '/ratings/0' });
    expect(ok.status).toBe(200);
    expect(JSON.parse(ok.body.toString())).toMatchObject({ id: 0, ratings: { Reviewer1: 5 } });
    const flakyPod = pods('app=flaky')[0]!.metadata.name;
    const served = await pollUntil('flaky\'s three requests', () => {
      const l = mesh.podLogLines(NS, flakyPod, 'ratings').filter((x) => x.msg === 'request');
      return l.length >= 3 ? l : undefined;
    }, { timeoutMs: 10_000 });
    expect(served.slice(0, 3).map((l) => l.status)).toEqual([503, 503, 200]);
  }, 60_000);

  it('fault injection: abort 418 (FI) and a fixed 1 s delay (DI), each on its own header match', async () => {
    const route = '[{ destination: { host: echo-fault } }]';
    apply(`
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: echo-fault }
spec:
  hosts: [echo-fault]
  http:
  - name: abort
    match: [{ headers: { x-fault: { exact: abort } } }]
    fault: { abort: { httpStatus: 418, percentage: { value: 100 } } }
    route: ${route}
  - name: delay
    match: [{ headers: { x-fault: { exact: delay } } }]
    fault: { delay: { fixedDelay: 1s, percentage: { value: 100 } } }
    route: ${route}
  - name: plain
    route: ${route}
`);
    await waitRoutes('echo-fault', ['abort', 'delay', 'plain']);
    const abortId = rid('abort');
    const aborted = await one('echo-fault', { path: '/f', headers: { 'x-fault': 'abort', 'x-request-id': abortId } });
    expect(aborted.status).toBe(418);
    expect(aborted.body.toString()).toBe('fault filter abort');
    expect(await accessLine(abortId)).toMatchObject({ response_code: 418, response_flags: 'FI' });
    const delayId = rid('delay');
    const t0 = Date.now();
    const delayed = await one('echo-fault', { path: '/f', headers: { 'x-fault': 'delay', 'x-request-id': delayId } });
    expect(delayed.status).toBe(200);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(900);
    expect(String((await accessLine(delayId)).response_flags)).toContain('DI');
    // A request the fault does not match is not delayed: its access line has no DI flag.
    const plainId = rid('plain');
    expect((await one('echo-fault', { path: '/f', headers: { 'x-request-id': plainId } })).status).toBe(200);
    expect(String((await accessLine(plainId)).response_flags)).not.toContain('DI');
  }, 60_000);

  it('mirror: the mirror Deployment sees the request, the client gets the primary\'s reply', async () => {
    apply(`
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: echo-mirrored }
spec:
  hosts: [echo-mirrored]
  http:
  - name: mirrored
    route: [{ destination: { host: echo-mirrored } }]
    mirror: { host: echo-mirror }
    mirrorPercentage: { value: 100.0 }
`);
    await waitRoutes('echo-mirrored', ['mirrored']);
    const path = `/mirror/${rid('m')}`;
    const r = await one('echo-mirrored', { path });
    expect(r.status).toBe(200);
    expect(echo(r).labels.app).toBe('echo');
    expect(echo(r).pod).toMatch(/^echo-v[12]-/);
    const seen = await pollUntil('the mirror pod to log the copy', () => echoRequestLog('app=echo-mirror').find((l) => l.path === path), { timeoutMs: 10_000 });
    expect(seen.pod).toMatch(/^echo-mirror-/);
  }, 60_000);

  it('rewrite: uri prefix and authority, and uriRegexRewrite', async () => {
    apply(`
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: echo-rewrite }
spec:
  hosts: [echo-rewrite]
  http:
  - name: rw-prefix
    match: [{ uri: { prefix: /old/ } }]
    rewrite: { uri: /new/, authority: new-authority }
    route: [{ destination: { host: echo-rewrite } }]
  - name: rw-regex
    match: [{ uri: { prefix: /re-old/ } }]
    rewrite: { uriRegexRewrite: { match: '^/re-old/(.*)$', rewrite: '/re-new/\\1' } }
    route: [{ destination: { host: echo-rewrite } }]
  - name: rw-rest
    route: [{ destination: { host: echo-rewrite } }]
`);
    await waitRoutes('echo-rewrite', ['rw-prefix', 'rw-regex', 'rw-rest']);
    const [a, b, c] = await send('echo-rewrite', [{ path: '/old/x?k=v' }, { path: '/re-old/abc' }, { path: '/kept' }]);
    expect(echo(a!).path).toBe('/new/x?k=v');
    expect(echo(a!).headers.host).toBe('new-authority');
    expect(echo(b!).path).toBe('/re-new/abc');
    expect(echo(c!).path).toBe('/kept');
  }, 60_000);

  it('redirect 301 with Location, and directResponse with a body', async () => {
    apply(`
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: echo-redirect }
spec:
  hosts: [echo-redirect]
  http:
  - name: redir
    match: [{ uri: { exact: /redir } }]
    redirect: { uri: /target, authority: other.example, redirectCode: 301 }
  - name: direct
    match: [{ uri: { exact: /direct } }]
    directResponse: { status: 200, body: { string: "hello from the waypoint" } }
    headers: { response: { set: { content-type: text/plain } } }
  - name: redir-rest
    route: [{ destination: { host: echo-redirect } }]
`);
    await waitRoutes('echo-redirect', ['redir', 'direct', 'redir-rest']);
    const [redir, direct, rest] = await send('echo-redirect', [{ path: '/redir' }, { path: '/direct' }, { path: '/other' }]);
    expect(redir!.status).toBe(301);
    expect(String(redir!.headers.location)).toMatch(/^http:\/\/other\.example(:80)?\/target$/);
    expect(direct!.status).toBe(200);
    expect(direct!.body.toString()).toBe('hello from the waypoint');
    expect(String(direct!.headers['content-type'])).toMatch(/^text\/plain/);
    expect(rest!.status).toBe(200);
    expect(echo(rest!).path).toBe('/other');
  }, 60_000);

  it('headers: request set/add/remove reach the pod, response set/add/remove reach the client', async () => {
    apply(`
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: echo-headers }
spec:
  hosts: [echo-headers]
  http:
  - name: hdrs
    headers:
      request: { set: { x-set: from-waypoint }, add: { x-add: from-waypoint }, remove: [x-remove] }
      response: { set: { x-resp-set: "yes" }, add: { x-resp-add: "yes" }, remove: [content-type] }
    route:
    - destination: { host: echo-headers }
      headers: { response: { set: { x-dest: picked } } }
`);
    await waitRoutes('echo-headers', ['hdrs']);
    const r = await one('echo-headers', { path: '/hdr', headers: { 'x-set': 'client', 'x-add': 'client', 'x-remove': 'gone' } });
    expect(r.status).toBe(200);
    const seen = echo(r).headers;
    expect(seen['x-set']).toBe('from-waypoint');
    expect(String(seen['x-add'])).toMatch(/^client,\s*from-waypoint$/);
    expect(Object.keys(seen)).not.toContain('x-remove');
    expect(r.headers['x-resp-set']).toBe('yes');
    expect(r.headers['x-resp-add']).toBe('yes');
    expect(r.headers['x-dest']).toBe('picked');
    expect(r.headers['content-type']).toBeUndefined();
  }, 60_000);

  it('CORS: the waypoint answers a matching preflight; other origins are forwarded; simple requests get allow-origin', async () => {
    apply(`
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: echo-cors }
spec:
  hosts: [echo-cors]
  http:
  - name: cors
    corsPolicy:
      allowOrigins: [{ exact: "https://cors.example" }]
      allowMethods: [POST, GET]
      allowHeaders: [X-Foo-Bar, X-Foo-Baz]
      exposeHeaders: [X-Expose]
      maxAge: 24h
    route: [{ destination: { host: echo-cors } }]
`);
    await waitRoutes('echo-cors', ['cors']);
    const preflight = (origin: string): Req => ({ method: 'OPTIONS', path: '/cors', headers: { origin, 'access-control-request-method': 'POST' } });
    const [ok, other, simple] = await send('echo-cors', [preflight('https://cors.example'), preflight('https://evil.example'), { path: '/cors', headers: { origin: 'https://cors.example' } }]);
    expect(ok!.status).toBe(200);
    expect(ok!.headers).toMatchObject({
      'access-control-allow-origin': 'https://cors.example',
      'access-control-allow-methods': 'POST,GET',
      'access-control-allow-headers': 'X-Foo-Bar,X-Foo-Baz',
      'access-control-max-age': '86400',
    });
    // Not matching: forwarded upstream (Istio's default unmatchedPreflights FORWARD), answered by the echo.
    expect(other!.status).toBe(200);
    expect(echo(other!).method).toBe('OPTIONS');
    expect(other!.headers['access-control-allow-origin']).toBeUndefined();
    expect(simple!.status).toBe(200);
    expect(echo(simple!).path).toBe('/cors');
    expect(simple!.headers['access-control-allow-origin']).toBe('https://cors.example');
    expect(simple!.headers['access-control-expose-headers']).toBe('X-Expose');
  }, 60_000);

  it('TCP routes: all to subset v2, then 50/50 over v1 and v2', async () => {
    await applySubsets('echo-tcp', '', 9000, 'tcp');
    const tcpRoute = (weights: [number, number]) => `
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: echo-tcp }
spec:
  hosts: [echo-tcp]
  tcp:
  - match: [{ port: 9000 }]
    route:
${(['v1', 'v2'] as const).map((v, i) => weights[i] ? `    - { destination: { host: echo-tcp, subset: ${v}, port: { number: 9000 } }, weight: ${weights[i]} }` : '').filter(Boolean).join('\n')}
`;
    const talkTo = async (n: number) => {
      const out: string[] = [];
      for (let i = 0; i < n; i++) out.push((await talk(clientNetns, vips['echo-tcp']!, 9000, `hello-${i}`)).split(':')[0]!);
      return out;
    };
    apply(tcpRoute([0, 100]));
    // Ten in a row: five all-v2 answers happen by chance 1 time in 32 while the old 50/50 is still in force.
    await pollUntil('the tcp route to send everything to v2', async () => (await talkTo(10)).every((v) => v === 'v2'), { timeoutMs: 30_000, intervalMs: 500 });
    expect(await talkTo(20)).toEqual(Array(20).fill('v2'));
    apply(tcpRoute([50, 50]));
    // Once a connection reached v1 the split is in force; the sample is taken after that, so that
    // no all-v2 connections from before the change count.
    await pollUntil('the tcp route to split', async () => (await talkTo(5)).includes('v1'), { timeoutMs: 30_000, intervalMs: 500 });
    const mixed = await talkTo(60);
    const v1 = mixed.filter((v) => v === 'v1').length;
    expect(mixed.filter((v) => v !== 'v1' && v !== 'v2')).toEqual([]);
    expect(v1).toBeGreaterThanOrEqual(15);
    expect(v1).toBeLessThanOrEqual(45);
  }, 90_000);

  it('DestinationRule subsets + ROUND_ROBIN: subset v1\'s two pods answer in strict turns, v2 never', async () => {
    await applySubsets('echo-rr', `  trafficPolicy: { loadBalancer: { simple: ROUND_ROBIN } }\n`);
    // ROUND_ROBIN is lb_policy's zero value: proto3 JSON (Envoy's config_dump too) leaves it out,
    // where a cluster without the rule shows Istio's LEAST_REQUEST.
    const lbPolicy = async (name: string) => {
      const c = section<{ cluster?: { name?: string; lb_policy?: string } }>(await dump(), 'ClustersConfigDump', 'dynamic_active_clusters').find((x) => x.cluster?.name === name);
      return c?.cluster ? c.cluster.lb_policy ?? 'ROUND_ROBIN' : undefined;
    };
    await pollUntil('ROUND_ROBIN on the subset clusters', async () => (await lbPolicy(subsetCluster('echo-rr', 'v1'))) === 'ROUND_ROBIN' && (await lbPolicy(subsetCluster('echo-rr', 'v2'))) === 'ROUND_ROBIN', { timeoutMs: 30_000 });
    expect(await lbPolicy(httpRoute('echo-timeout'))).toBe('LEAST_REQUEST');
    apply(`
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: echo-rr }
spec:
  hosts: [echo-rr]
  http:
  - name: only-v1
    route: [{ destination: { host: echo-rr, subset: v1 } }]
`);
    await waitRoutes('echo-rr', ['only-v1']);
    const res = await send('echo-rr', Array.from({ length: 20 }, (_, i) => ({ path: `/rr/${i}` })));
    const served = res.map((r) => echo(r));
    expect(served.every((s) => s.labels.version === 'v1')).toBe(true);
    const v1Pods = pods('app=echo,version=v1').map((p) => p.metadata.name).sort();
    expect([...new Set(served.map((s) => s.pod))].sort()).toEqual(v1Pods);
    for (let i = 1; i < served.length; i++) expect(served[i]!.pod).not.toBe(served[i - 1]!.pod);
  }, 60_000);

  it('connectionPool: a bounded burst over 1 connection / 1 pending request overflows → 503 UO (access log, x-envoy-overloaded, metric label)', async () => {
    apply(`
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: { name: echo-cb }
spec:
  host: echo-cb
  trafficPolicy:
    connectionPool:
      tcp: { maxConnections: 1 }
      http: { http1MaxPendingRequests: 1, maxRequestsPerConnection: 1 }
`);
    await waitCluster(httpRoute('echo-cb'), ['"max_connections":1', '"max_pending_requests":1']);
    // 20 requests at once, each on its own connection, each holding the upstream for 300 ms.
    const burst = await Promise.all(Array.from({ length: 20 }, () => one('echo-cb', { path: '/delay/300' }, 15_000)));
    const ok = burst.filter((r) => r.status === 200);
    const overflow = burst.filter((r) => r.status === 503);
    expect(ok.length).toBeGreaterThanOrEqual(1);
    expect(overflow.length).toBeGreaterThanOrEqual(1);
    expect(ok.length + overflow.length).toBe(20);
    for (const r of overflow) {
      expect(r.headers['x-envoy-overloaded']).toBe('true');
      expect(r.body.toString()).toContain('overflow');
    }
    await pollUntil('UO lines in the access log', () => accessLog().filter((l) => l.path === '/delay/300' && l.response_code === 503 && l.response_flags === 'UO').length >= overflow.length, { timeoutMs: 10_000 });
    await pollUntil('istio_requests_total{response_flags="UO"}', async () =>
      counter(await waypointMetrics(), 'istio_requests_total', { reporter: 'waypoint', response_code: '503', response_flags: 'UO' }) >= overflow.length, { timeoutMs: 10_000 });
  }, 60_000);

  it('outlierDetection: a pod answering 500 is ejected (failed_outlier_check), traffic goes to the healthy one, and it is back after baseEjectionTime', async () => {
    apply(`
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: { name: od }
spec:
  host: od
  trafficPolicy:
    loadBalancer: { simple: ROUND_ROBIN }
    outlierDetection: { consecutive5xxErrors: 2, interval: 1s, baseEjectionTime: 3s, maxEjectionPercent: 100 }
`);
    await waitCluster(httpRoute('od'), ['outlier_detection']);
    const bad = pods('app=od,role=bad')[0]!;
    const badHost = `${httpRoute('od')}::${bad.status.podIP}:8080::health_flags::`;
    const healthOfBad = async () => {
      const text = await (await fetch(`http://127.0.0.1:${waypoint().ports.admin}/clusters`)).text();
      return text.split('\n').find((l) => l.startsWith(badHost))?.slice(badHost.length);
    };
    const statuses: number[] = [];
    await pollUntil('the failing pod to be ejected', async () => {
      statuses.push((await one('od', { path: '/ratings/0' })).status);
      return (await healthOfBad())?.includes('failed_outlier_check');
    }, { timeoutMs: 20_000, intervalMs: 50 });
    expect(statuses).toContain(500);
    // While ejected, the healthy echo pod answers everything.
    const during = await send('od', Array.from({ length: 10 }, () => ({ path: '/ratings/0' })));
    expect(during.map((r) => r.status)).toEqual(Array(10).fill(200));
    expect(during.every((r) => echo(r).pod.startsWith('od-good-'))).toBe(true);
    // baseEjectionTime later it is a host again, and once past its failures it answers.
    await pollUntil('the ejected pod to come back and answer', async () => {
      const r = await one('od', { path: '/ratings/0' });
      const fromBad = r.status === 200 && 'ratings' in (JSON.parse(r.body.toString()) as object);
      return fromBad && (await healthOfBad()) === 'healthy';
    }, { timeoutMs: 30_000, intervalMs: 200 });
  }, 90_000);

  it('HTTPRoute: path, headers, query and method matches, weights, header modifiers, redirect, rewrite, mirror; status.parents Accepted and ResolvedRefs', async () => {
    apply(`
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: { name: echo-hr }
spec:
  parentRefs: [{ group: "", kind: Service, name: echo-hr, port: 80 }]
  rules:
  - matches: [{ path: { type: PathPrefix, value: /hr/header }, headers: [{ name: x-hr, value: two }] }]
    backendRefs: [{ name: echo-v2, port: 80 }]
  - matches: [{ path: { type: Exact, value: /hr/modify } }]
    filters:
    - type: RequestHeaderModifier
      requestHeaderModifier: { set: [{ name: x-hr-set, value: "yes" }], add: [{ name: x-hr-add, value: "yes" }], remove: [x-hr-remove] }
    - type: ResponseHeaderModifier
      responseHeaderModifier: { add: [{ name: x-hr-resp, value: "yes" }] }
    backendRefs: [{ name: echo-v1, port: 80 }]
  - matches: [{ path: { type: PathPrefix, value: /hr/redirect } }]
    filters: [{ type: RequestRedirect, requestRedirect: { hostname: redirected.example, statusCode: 301 } }]
  - matches: [{ path: { type: PathPrefix, value: /hr/rewrite } }]
    filters: [{ type: URLRewrite, urlRewrite: { hostname: rewritten.example, path: { type: ReplacePrefixMatch, replacePrefixMatch: /rewritten } } }]
    backendRefs: [{ name: echo-v1, port: 80 }]
  - matches: [{ path: { type: PathPrefix, value: /hr/mirror } }]
    filters: [{ type: RequestMirror, requestMirror: { backendRef: { name: echo-mirror, port: 80 } } }]
    backendRefs: [{ name: echo-v1, port: 80 }]
  - matches: [{ path: { type: PathPrefix, value: /hr/split } }]
    backendRefs: [{ name: echo-v1, port: 80, weight: 50 }, { name: echo-v2, port: 80, weight: 50 }]
  - matches: [{ path: { type: PathPrefix, value: /hr/query }, queryParams: [{ name: v, value: "2" }], method: GET }]
    backendRefs: [{ name: echo-v2, port: 80 }]
  - backendRefs: [{ name: echo-v1, port: 80 }]
`);
    const parents = await pollUntil('HTTPRoute status.parents from the mesh controller', () => {
      const hr = JSON.parse(kubectl(['get', 'httproute', '-n', NS, 'echo-hr', '-o', 'json']).stdout) as { status?: { parents?: { controllerName: string; parentRef: { name: string }; conditions: { type: string; status: string; reason: string }[] }[] } };
      const mine = hr.status?.parents?.find((p) => p.controllerName === 'istio.io/gateway-controller');
      return mine?.conditions.some((c) => c.type === 'Accepted') ? mine : undefined;
    }, { timeoutMs: 30_000 });
    expect(parents.parentRef.name).toBe('echo-hr');
    expect(parents.conditions).toEqual(expect.arrayContaining([
      expect.objectContaining({ type: 'Accepted', status: 'True', reason: 'Accepted' }),
      expect.objectContaining({ type: 'ResolvedRefs', status: 'True', reason: 'ResolvedRefs' }),
    ]));
    // Istio's default route (every echo pod, v2 among them) answers until the HTTPRoute is in: the
    // redirect is what only the HTTPRoute gives (one route config, so the other rules are in too).
    await pollUntil('the HTTPRoute in the waypoint', async () => {
      const [r] = await send('echo-hr', [{ path: '/hr/redirect/warmup' }]);
      return r!.status === 301;
    }, { timeoutMs: 30_000, intervalMs: 500 });
    const mirrorPath = `/hr/mirror/${rid('hm')}`;
    const [hdr, noHdr, modify, redirect, rewrite, mirror, q2, q1, rest] = await send('echo-hr', [
      { path: '/hr/header', headers: { 'x-hr': 'two' } },
      { path: '/hr/header' },
      { path: '/hr/modify', headers: { 'x-hr-set': 'client', 'x-hr-remove': 'x' } },
      { path: '/hr/redirect/a' },
      { path: '/hr/rewrite/x' },
      { path: mirrorPath },
      { path: '/hr/query?v=2' },
      { path: '/hr/query?v=1' },
      { path: '/anything' },
    ]);
    expect(versionOf(hdr!)).toBe('v2');
    expect(versionOf(noHdr!)).toBe('v1');
    expect(echo(modify!).headers).toMatchObject({ 'x-hr-set': 'yes', 'x-hr-add': 'yes' });
    expect(Object.keys(echo(modify!).headers)).not.toContain('x-hr-remove');
    expect(modify!.headers['x-hr-resp']).toBe('yes');
    expect(redirect!.status).toBe(301);
    expect(String(redirect!.headers.location)).toMatch(/^http:\/\/redirected\.example(:80)?\/hr\/redirect\/a$/);
    expect(echo(rewrite!).path).toBe('/rewritten/x');
    expect(echo(rewrite!).headers.host).toBe('rewritten.example');
    expect(versionOf(mirror!)).toBe('v1');
    expect(versionOf(q2!)).toBe('v2');
    expect(versionOf(q1!)).toBe('v1');
    expect(versionOf(rest!)).toBe('v1');
    await pollUntil('the mirrored copy at echo-mirror', () => echoRequestLog('app=echo-mirror').some((l) => l.path === mirrorPath), { timeoutMs: 10_000 });
    const split = (await send('echo-hr', Array.from({ length: 100 }, (_, i) => ({ path: `/hr/split/${i}` })))).map(versionOf);
    const v1 = split.filter((v) => v === 'v1').length;
    expect(split.filter((v) => v !== 'v1' && v !== 'v2')).toEqual([]);
    expect(v1).toBeGreaterThanOrEqual(30);
    expect(v1).toBeLessThanOrEqual(70);
  }, 90_000);

  it('GRPCRoute: a method match sends /echo.Echo/V2 to echo-v2, everything else to echo-v1 (gRPC-shaped echo, trailers kept)', async () => {
    apply(`
apiVersion: gateway.networking.k8s.io/v1
kind: GRPCRoute
metadata: { name: echo-grpc }
spec:
  parentRefs: [{ group: "", kind: Service, name: echo-grpc, port: 7070 }]
  rules:
  - matches: [{ method: { service: echo.Echo, method: V2 } }]
    backendRefs: [{ name: echo-v2, port: 7070 }]
  - backendRefs: [{ name: echo-v1, port: 7070 }]
`);
    const call = async (path: string) => {
      const s = h2Session(clientNetns, vips['echo-grpc']!, 7070);
      try {
        return await grpcStream(s, path, [Buffer.from('ping')]);
      } finally {
        s.close();
      }
    };
    // Until the GRPCRoute is in, Istio's default route spreads over v1 and v2: wait for its routes first.
    await waitRoutes('echo-grpc', [`${NS}.echo-grpc.0`, `${NS}.echo-grpc.1`], 7070);
    await pollUntil('the GRPCRoute in the waypoint', async () => String((await call('/echo.Echo/V2')).trailers['x-echo-pod']).startsWith('echo-v2-'), { timeoutMs: 30_000, intervalMs: 500 });
    const v2 = await call('/echo.Echo/V2');
    expect(v2.replies.map((b) => b.toString())).toEqual(['ping']);
    expect(v2.trailers['grpc-status']).toBe('0');
    expect(String(v2.trailers['x-echo-pod'])).toMatch(/^echo-v2-/);
    const other = await call('/echo.Echo/Unary');
    expect(other.trailers['grpc-status']).toBe('0');
    expect(String(other.trailers['x-echo-pod'])).toMatch(/^echo-v1-/);
    const st = await pollUntil('GRPCRoute status.parents', () => {
      const gr = JSON.parse(kubectl(['get', 'grpcroute', '-n', NS, 'echo-grpc', '-o', 'json']).stdout) as { status?: { parents?: { controllerName: string; conditions: { type: string; status: string }[] }[] } };
      return gr.status?.parents?.find((p) => p.controllerName === 'istio.io/gateway-controller');
    }, { timeoutMs: 30_000 });
    expect(st.conditions).toEqual(expect.arrayContaining([expect.objectContaining({ type: 'Accepted', status: 'True' }), expect.objectContaining({ type: 'ResolvedRefs', status: 'True' })]));
  }, 60_000);

  it('L7 AuthorizationPolicy on the waypoint Gateway: ALLOW GET only, DENY /admin/* → 403 "RBAC: access denied"', async () => {
    const target = '[{ kind: Gateway, group: gateway.networking.k8s.io, name: waypoint }]';
    apply(`
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: { name: allow-get }
spec:
  targetRefs: ${target}
  action: ALLOW
  rules: [{ to: [{ operation: { methods: ["GET"] } }] }]
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: { name: deny-admin }
spec:
  targetRefs: ${target}
  action: DENY
  rules: [{ to: [{ operation: { paths: ["/admin/*"] } }] }]
`);
    try {
      await pollUntil('the policies in the waypoint', async () => (await one('echo-authz', { method: 'POST', path: '/authz' })).status === 403 && (await one('echo-authz', { path: '/admin/x' })).status === 403, { timeoutMs: 30_000, intervalMs: 500 });
      const postId = rid('post');
      const [get, post, admin] = await send('echo-authz', [{ path: '/authz' }, { method: 'POST', path: '/authz', headers: { 'x-request-id': postId } }, { path: '/admin/x' }]);
      expect(get!.status).toBe(200);
      expect(echo(get!).method).toBe('GET');
      expect(post!.status).toBe(403);
      expect(post!.body.toString()).toBe('RBAC: access denied');
      expect(admin!.status).toBe(403);
      expect(admin!.body.toString()).toBe('RBAC: access denied');
      const line = await accessLine(postId);
      expect(line.response_code).toBe(403);
      expect(String(line.response_code_details)).toMatch(/^rbac_access_denied/);
    } finally {
      kubectl(['delete', 'authorizationpolicy', '-n', NS, 'allow-get', 'deny-admin', '--ignore-not-found']);
    }
    // Gone again: the rest of the suite is not under the policies.
    await pollUntil('the policies to be removed from the waypoint', async () => (await one('echo-authz', { method: 'POST', path: '/authz' })).status === 200, { timeoutMs: 30_000, intervalMs: 500 });
  }, 90_000);

  it('config changes apply live: a VirtualService edit moves traffic from v1 to v2 with the same waypoint process', async () => {
    await applySubsets('echo-live');
    const live = (v: string) => `
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: echo-live }
spec:
  hosts: [echo-live]
  http:
  - name: live-${v}
    route: [{ destination: { host: echo-live, subset: ${v} } }]
`;
    apply(live('v1'));
    await waitRoutes('echo-live', ['live-v1']);
    const before = waypoint().pid;
    const configsBefore = counter(await waypointMetrics(), 'waypoint_xds_configs_total', {});
    expect((await send('echo-live', Array.from({ length: 10 }, () => ({ path: '/live' })))).map(versionOf)).toEqual(Array(10).fill('v1'));
    apply(live('v2'));
    await waitRoutes('echo-live', ['live-v2']);
    expect((await send('echo-live', Array.from({ length: 10 }, () => ({ path: '/live' })))).map(versionOf)).toEqual(Array(10).fill('v2'));
    expect(waypoint().pid).toBe(before);
    expect(counter(await waypointMetrics(), 'waypoint_xds_configs_total', {})).toBeGreaterThan(configsBefore);
  }, 60_000);

  it('bad input: invalid regex, unknown subset, missing backend, uneven weights → controller log + gauge + route status; the waypoint answers 503/500 at once and keeps the rest', async () => {
    await applySubsets('echo-bad');
    apply(`
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: echo-bad }
spec:
  hosts: [echo-bad]
  http:
  - name: bad-regex
    match: [{ uri: { regex: "/bad/(unclosed" } }]
    route: [{ destination: { host: echo-bad, subset: v2 } }]
  - name: unknown-subset
    match: [{ uri: { prefix: /unknown-subset } }]
    route: [{ destination: { host: echo-bad, subset: nope } }]
  - name: missing-service
    match: [{ uri: { prefix: /missing-service } }]
    route: [{ destination: { host: does-not-exist } }]
  - name: uneven
    match: [{ uri: { prefix: /uneven } }]
    route:
    - { destination: { host: echo-bad, subset: v1 }, weight: 30 }
    - { destination: { host: echo-bad, subset: v2 }, weight: 30 }
  - name: bad-rest
    route: [{ destination: { host: echo-bad, subset: v1 } }]
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: { name: echo-hr-bad }
spec:
  parentRefs: [{ group: "", kind: Service, name: echo-hr-bad, port: 80 }]
  rules:
  - matches: [{ path: { type: RegularExpression, value: "/hr-bad/(unclosed" } }]
    backendRefs: [{ name: echo-v2, port: 80 }]
  - matches: [{ path: { type: PathPrefix, value: /hr-bad/missing } }]
    backendRefs: [{ name: no-such-service, port: 80 }]
  - backendRefs: [{ name: echo-v1, port: 80 }]
`);
    // The rest of the VirtualService is in force (the bad match left out, not the whole object).
    await waitRoutes('echo-bad', ['unknown-subset', 'missing-service', 'uneven', 'bad-rest']);
    const timed = async (path: string, svc = 'echo-bad') => {
      const id = rid('bad');
      const r = await one(svc, { path, headers: { 'x-request-id': id } }, 5_000);
      return { r, id };
    };
    const subset = await timed('/unknown-subset');
    expect(subset.r.status).toBe(503);
    expect(await accessLine(subset.id)).toMatchObject({ response_code: 503, response_flags: 'NC' });
    const missing = await timed('/missing-service');
    expect(missing.r.status).toBe(503);
    expect(await accessLine(missing.id)).toMatchObject({ response_code: 503, response_flags: 'NC' });
    expect((await timed('/uneven')).r.status).toBe(200);
    const rest = await timed('/bad/x');
    expect(versionOf(rest.r)).toBe('v1');

    // HTTPRoute: status says what is wrong; a missing backend answers 500, the rest works.
    const hrStatus = await pollUntil('echo-hr-bad status.parents', () => {
      const hr = JSON.parse(kubectl(['get', 'httproute', '-n', NS, 'echo-hr-bad', '-o', 'json']).stdout) as { status?: { parents?: { controllerName: string; conditions: { type: string; status: string; reason: string; message: string }[] }[] } };
      const mine = hr.status?.parents?.find((p) => p.controllerName === 'istio.io/gateway-controller');
      return mine?.conditions.find((c) => c.type === 'ResolvedRefs')?.status === 'False' ? mine : undefined;
    }, { timeoutMs: 30_000 });
    expect(hrStatus.conditions).toEqual(expect.arrayContaining([
      expect.objectContaining({ type: 'Accepted', status: 'False', reason: 'UnsupportedValue' }),
      expect.objectContaining({ type: 'ResolvedRefs', status: 'False', reason: 'BackendNotFound' }),
    ]));
    expect(hrStatus.conditions.find((c) => c.type === 'ResolvedRefs')!.message).toContain('no-such-service');
    const hrMissing = await pollUntil('the HTTPRoute in the waypoint', async () => {
      const t = await timed('/hr-bad/missing', 'echo-hr-bad');
      return t.r.status === 500 ? t : undefined;
    }, { timeoutMs: 30_000, intervalMs: 500 });
    expect(await accessLine(hrMissing.id)).toMatchObject({ response_code: 500, response_flags: 'NC' });
    expect(versionOf((await timed('/hr-bad/other', 'echo-hr-bad')).r)).toBe('v1');

    // The controller: one log line per problem, and the gauge by kind/reason/severity.
    const problems = await pollUntil('the controller to log every problem', () => {
      const lines = controllerLog().filter((l) => l.object === `${NS}/echo-bad` || l.object === `${NS}/echo-hr-bad`);
      const reasons = new Set(lines.map((l) => `${String(l.kind)}/${String(l.reason)}`));
      const want = ['VirtualService/invalid-regex', 'VirtualService/unknown-subset', 'VirtualService/missing-service', 'VirtualService/invalid-weights', 'HTTPRoute/invalid-regex', 'HTTPRoute/missing-service'];
      return want.every((w) => reasons.has(w)) ? lines : undefined;
    }, { timeoutMs: 20_000 });
    expect(problems.find((l) => l.reason === 'invalid-regex' && l.kind === 'VirtualService')).toMatchObject({ severity: 'refused' });
    const m = await controllerMetrics();
    expect(counter(m, 'controller_traffic_config_problems', { kind: 'VirtualService', reason: 'invalid-regex', severity: 'refused' })).toBeGreaterThanOrEqual(1);
    expect(counter(m, 'controller_traffic_config_problems', { kind: 'VirtualService', reason: 'unknown-subset' })).toBeGreaterThanOrEqual(1);
    expect(counter(m, 'controller_traffic_config_problems', { kind: 'VirtualService', reason: 'missing-service' })).toBeGreaterThanOrEqual(1);
    expect(counter(m, 'controller_traffic_config_problems', { kind: 'VirtualService', reason: 'invalid-weights' })).toBeGreaterThanOrEqual(1);
    expect(counter(m, 'controller_traffic_config_problems', { kind: 'HTTPRoute', reason: 'invalid-regex' })).toBeGreaterThanOrEqual(1);
  }, 120_000);

  it('the waypoint served the whole suite without a restart: same process, no container restarts', () => {
    expect(waypoint().pid).toBe(waypointPid);
    const wp = pods('gateway.networking.k8s.io/gateway-name=waypoint').find((p) => p.metadata.name === waypointName)!;
    expect(wp.status.containerStatuses?.[0]?.restartCount ?? 0).toBe(0);
  });
});
