// `make demo-bookinfo`: the lab with the mesh (installed with Helm, as `make demo`), the Bookinfo-shaped sample in an
// ambient namespace with a waypoint, and Istio's traffic-management tasks replayed on it with the
// YAML their pages use: DestinationRules with subsets; all traffic to reviews v1; user jason to v2;
// 50/50 v1/v3 then 100 % v3; a 7 s delay for jason on ratings (productpage's 3 s timeout + one retry
// give up first); an HTTP 500 abort for jason on ratings; a connection-pool circuit breaker tripped
// by a bounded burst (503s with flag UO). Each step prints what it applies and what 10–20 requests
// to productpage from the sleep pod saw. The lab keeps running; tear down with `make lab-down`.
import { spawnSync } from 'node:child_process';
import { http1Requests } from '../waypoint/clients.ts';
import { bookinfoServices, bookinfoWorkloads, type BookinfoAddresses } from './bookinfo.ts';
import { REPO_ROOT } from './config.ts';
import type { ProductPage } from './images/bookinfo-pages.ts';
import { down, kubectlSync, podRef, runningLab, up } from './lab.ts';
import { pollUntil } from './poll.ts';
import { isReady, type PodJson } from './sample-apps.ts';
import type { LabState } from './state.ts';
import { HelmMesh } from './mesh-helm.ts';

const NS = 'bookinfo';
const fqdn = (svc: string) => `${svc}.${NS}.svc.cluster.local`;
const routeName = (svc: string) => `inbound-vip|9080|http|${fqdn(svc)}`;
const subsetCluster = (svc: string, subset: string) => `inbound-vip|9080|http/${subset}|${fqdn(svc)}`;

// ------------------------------------------------------------------------------------------------
// The YAML, as Istio's task pages write it (samples/bookinfo/networking/*.yaml).

const destinationRule = (svc: string, subsets: string[], trafficPolicy = '') => `apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata:
  name: ${svc}
spec:
  host: ${svc}
${trafficPolicy}  subsets:
${subsets.map((s) => `  - name: ${s}\n    labels:\n      version: ${s}`).join('\n')}
`;

const DESTINATION_RULE_ALL = [
  destinationRule('productpage', ['v1']),
  destinationRule('reviews', ['v1', 'v2', 'v3']),
  destinationRule('ratings', ['v1']),
  destinationRule('details', ['v1']),
].join('---\n');

const routeAll = (svc: string, subset: string) => `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: ${svc}
spec:
  hosts:
  - ${svc}
  http:
  - route:
    - destination:
        host: ${svc}
        subset: ${subset}
`;

const VIRTUAL_SERVICE_ALL_V1 = ['productpage', 'reviews', 'ratings', 'details'].map((s) => routeAll(s, 'v1')).join('---\n');

const REVIEWS_TEST_V2 = `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: reviews
spec:
  hosts:
  - reviews
  http:
  - match:
    - headers:
        end-user:
          exact: jason
    route:
    - destination:
        host: reviews
        subset: v2
  - route:
    - destination:
        host: reviews
        subset: v1
`;

const REVIEWS_50_V3 = `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: reviews
spec:
  hosts:
  - reviews
  http:
  - route:
    - destination:
        host: reviews
        subset: v1
      weight: 50
    - destination:
        host: reviews
        subset: v3
      weight: 50
`;

const REVIEWS_V3 = routeAll('reviews', 'v3');

const ratingsForJason = (fault: string) => `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: ratings
spec:
  hosts:
  - ratings
  http:
  - match:
    - headers:
        end-user:
          exact: jason
    fault:
${fault}    route:
    - destination:
        host: ratings
        subset: v1
  - route:
    - destination:
        host: ratings
        subset: v1
`;

const RATINGS_TEST_DELAY = ratingsForJason(`      delay:
        percentage:
          value: 100.0
        fixedDelay: 7s
`);

const RATINGS_TEST_ABORT = ratingsForJason(`      abort:
        percentage:
          value: 100.0
        httpStatus: 500
`);

const PRODUCTPAGE_CIRCUIT_BREAKER = destinationRule('productpage', ['v1'], `  trafficPolicy:
    connectionPool:
      tcp:
        maxConnections: 1
      http:
        http1MaxPendingRequests: 1
        maxRequestsPerConnection: 1
`);

// ------------------------------------------------------------------------------------------------
// What the requests saw.

interface Seen {
  status: number;
  ms: number;
  page?: ProductPage;
  overloaded: boolean;
}

function pct(sorted: number[], p: number): number {
  return sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]! : 0;
}

/** "reviews-v1 ×6 (no ratings), reviews-v2 ×6 (black stars); 45 ms p50, 60 ms max" */
function summarize(seen: Seen[]): string {
  const counts = new Map<string, number>();
  for (const s of seen) {
    let key: string;
    if (s.status !== 200 || !s.page) key = `HTTP ${s.status}${s.overloaded ? ' (x-envoy-overloaded)' : ''}`;
    else if (!s.page.reviewsVersion) key = `"${s.page.reviewsError}"`;
    else {
      const r = s.page.ratings === 'not-used' ? 'no ratings' : s.page.ratings === 'available' ? `${s.page.stars} stars` : '"Ratings service is currently unavailable"';
      key = `reviews-${s.page.reviewsVersion} (${r})`;
    }
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  const ms = seen.map((s) => s.ms).sort((a, b) => a - b);
  const lat = ms.length ? `; latency p50 ${fmtMs(pct(ms, 50))}, max ${fmtMs(ms[ms.length - 1]!)}` : '';
  return `${[...counts].sort((a, b) => b[1] - a[1]).map(([k, n]) => `${k} ×${n}`).join(', ')}${lat}`;
}

function fmtMs(ms: number): string {
  return ms >= 1000 ? `${(ms / 1000).toFixed(1)} s` : `${Math.round(ms)} ms`;
}

function printYaml(yaml: string): void {
  console.log(`  $ kubectl apply -n ${NS} -f - <<EOF`);
  for (const l of yaml.trimEnd().split('\n')) console.log(`    ${l}`);
  console.log('  EOF');
}

async function main(): Promise<void> {
  const t0 = Date.now();
  if (runningLab()) throw new Error('a lab is already running; tear it down first with: make lab-down');
  const lab: LabState = await up({ nodes: 2, log: (l) => console.log(`  ${l}`) });
  console.log('  installing the mesh with Helm: istiod, and an istio-cni node agent + ztunnel on each node');
  const mesh = await HelmMesh.install(lab, { log: (l) => console.log(`  ${l}`) });
  const kubectl = (args: string[], input?: string) => kubectlSync(lab, args, input);
  const apply = (yaml: string) => kubectl(['apply', '-n', NS, '-f', '-'], yaml);

  console.log(`\nBookinfo in namespace ${NS} (labelled istio.io/dataplane-mode=ambient)`);
  kubectl(['apply', '-f', '-'], bookinfoServices(NS, { namespaceLabels: { 'istio.io/dataplane-mode': 'ambient' } }));
  const vip = (svc: string) => kubectl(['get', 'svc', '-n', NS, svc, '-o', 'jsonpath={.spec.clusterIP}']).stdout.trim();
  const addresses: BookinfoAddresses = { details: vip('details'), reviews: vip('reviews'), ratings: vip('ratings') };
  const productpage = vip('productpage');
  kubectl(['apply', '-f', '-'], bookinfoWorkloads(NS, addresses));
  type DemoPod = PodJson & { metadata: { annotations?: Record<string, string> } };
  const pods = () => (JSON.parse(kubectl(['get', 'pods', '-n', NS, '-o', 'json']).stdout) as { items: DemoPod[] }).items;
  await pollUntil('the Bookinfo pods Ready and captured', () => {
    const ps = pods().filter((p) => !p.metadata.labels?.['gateway.networking.k8s.io/gateway-name']);
    return ps.length === 7 && ps.every((p) => isReady(p) && p.metadata.annotations?.['ambient.istio.io/redirection'] === 'enabled');
  }, { timeoutMs: 90_000 });
  console.log(kubectl(['get', 'pods', '-n', NS, '-o', 'custom-columns=NAME:.metadata.name,IP:.status.podIP,NODE:.spec.nodeName,VERSION:.metadata.labels.version']).stdout.trimEnd().replace(/^/gm, '  '));

  console.log(`\n  $ ambientctl waypoint apply -n ${NS} --enroll-namespace --wait`);
  const r = spawnSync(process.execPath, [`${REPO_ROOT}/cli/src/ambientctl.ts`, 'waypoint', 'apply', '-n', NS, '--enroll-namespace', '--wait'], { encoding: 'utf8', timeout: 150_000, env: { ...process.env, KUBECONFIG: lab.kubeconfig } });
  for (const l of `${r.stdout}${r.stderr}`.trimEnd().split('\n')) console.log(`    ${l}`);
  if (r.status !== 0) throw new Error(`ambientctl waypoint apply exited ${r.status}`);
  const wpPod = await pollUntil('the waypoint pod', () => pods().find((p) => p.metadata.labels?.['gateway.networking.k8s.io/gateway-name'] === 'waypoint' && isReady(p)), { timeoutMs: 60_000 });
  const wp = await pollUntil('the waypoint process', () => mesh.waypointProcess(NS, wpPod.metadata.name), { timeoutMs: 30_000 });
  const sleep = podRef(NS, 'sleep', lab);
  await pollUntil('ztunnel to send the Bookinfo services to the waypoint', async () => {
    const d = JSON.parse(await mesh.admin(sleep.node, '/config_dump')) as { services: { hostname: string; waypoint?: unknown }[] };
    return ['productpage', 'reviews', 'ratings', 'details'].every((s) => d.services.find((x) => x.hostname === fqdn(s))?.waypoint !== undefined);
  }, { timeoutMs: 30_000 });

  const dump = async () => JSON.parse(await (await fetch(`http://127.0.0.1:${wp.ports.admin}/config_dump`)).text()) as { configs: Record<string, unknown>[] };
  const section = <T>(d: { configs: Record<string, unknown>[] }, type: string, key: string): T[] =>
    ((d.configs.find((c) => String(c['@type']).endsWith(type)) ?? {})[key] as T[] | undefined) ?? [];
  const routeJson = async (svc: string) => {
    const entry = section<{ version_info?: string; route_config?: { name?: string } }>(await dump(), 'RoutesConfigDump', 'dynamic_route_configs').find((e) => e.route_config?.name === routeName(svc));
    return entry ? { version: entry.version_info ?? '', text: JSON.stringify(entry.route_config) } : undefined;
  };
  /** Applies `yaml` and waits until the waypoint holds a new route config for `svc` that says `includes`. */
  const applyRoute = async (yaml: string, svc: string, includes: string[], excludes: string[] = []) => {
    printYaml(yaml);
    const before = (await routeJson(svc))?.version;
    apply(yaml);
    await pollUntil(`the waypoint's route for ${svc} to update`, async () => {
      const rj = await routeJson(svc);
      return rj !== undefined && rj.version !== before && includes.every((s) => rj.text.includes(s)) && excludes.every((s) => !rj.text.includes(s));
    }, { timeoutMs: 20_000 });
  };
  const clusterReady = async (name: string, includes: string[] = []) => {
    const d = await dump();
    const c = section<{ cluster?: { name?: string } }>(d, 'ClustersConfigDump', 'dynamic_active_clusters').find((e) => e.cluster?.name === name);
    const e = section<{ endpoint_config?: { cluster_name?: string; endpoints?: { lb_endpoints?: unknown[] }[] } }>(d, 'EndpointsConfigDump', 'dynamic_endpoint_configs').find((x) => x.endpoint_config?.cluster_name === name);
    const text = JSON.stringify(c?.cluster ?? {});
    return c !== undefined && (e?.endpoint_config?.endpoints ?? []).some((l) => (l.lb_endpoints ?? []).length > 0) && includes.every((s) => text.includes(s));
  };

  /** One request from the sleep pod to productpage (its own connection, so a batch runs concurrently). */
  const visit = async (user?: string): Promise<Seen> => {
    const started = performance.now();
    const [res] = await http1Requests(sleep.netns, productpage, 9080, [{ path: `/api/productpage${user ? `?u=${user}` : ''}` }], 20_000);
    const ms = performance.now() - started;
    let page: ProductPage | undefined;
    if (res!.status === 200) page = JSON.parse(res!.body.toString()) as ProductPage;
    return { status: res!.status, ms, overloaded: res!.headers['x-envoy-overloaded'] === 'true', ...(page ? { page } : {}) };
  };
  const batch = (n: number, user?: string) => Promise.all(Array.from({ length: n }, () => visit(user)));
  const report = (label: string, seen: Seen[]) => console.log(`  ${label.padEnd(16)} ${summarize(seen)}`);

  await pollUntil('productpage through the waypoint', async () => {
    const s = await visit();
    return s.status === 200 && mesh.podLogLines(NS, wpPod.metadata.name).some((l) => l.scope === 'access' && l.path === '/api/productpage');
  }, { timeoutMs: 30_000, intervalMs: 500 });
  console.log(`\n  the waypoint ${wpPod.metadata.name} (${wpPod.spec.nodeName}) now carries every request between the Bookinfo services`);

  console.log('\n0. No routing rules: reviews load-balances over v1, v2 and v3');
  report('12 requests', await batch(12));

  console.log('\n1. DestinationRules: subsets v1/v2/v3 of reviews by the pods\' version label (and v1 of the others)');
  printYaml(DESTINATION_RULE_ALL);
  apply(DESTINATION_RULE_ALL);
  await pollUntil('the subset clusters with their endpoints', async () => {
    for (const c of [subsetCluster('reviews', 'v1'), subsetCluster('reviews', 'v2'), subsetCluster('reviews', 'v3'), subsetCluster('ratings', 'v1'), subsetCluster('details', 'v1'), subsetCluster('productpage', 'v1')]) if (!(await clusterReady(c))) return false;
    return true;
  }, { timeoutMs: 20_000 });
  console.log(`  the waypoint has clusters ${subsetCluster('reviews', 'v1')}, …/v2…, …/v3… holding only the pods of each version`);

  console.log('\n2. Request routing: every service to v1 (virtual-service-all-v1.yaml)');
  printYaml(VIRTUAL_SERVICE_ALL_V1);
  apply(VIRTUAL_SERVICE_ALL_V1);
  for (const s of ['productpage', 'details', 'ratings']) await pollUntil(`the route for ${s}`, async () => (await routeJson(s))?.text.includes(subsetCluster(s, 'v1')), { timeoutMs: 20_000 });
  await pollUntil('the route for reviews', async () => (await routeJson('reviews'))?.text.includes(subsetCluster('reviews', 'v1')), { timeoutMs: 20_000 });
  report('12 requests', await batch(12));

  console.log('\n3. Route by user identity: requests with header end-user: jason to v2, everyone else to v1');
  await applyRoute(REVIEWS_TEST_V2, 'reviews', ['jason', subsetCluster('reviews', 'v2')]);
  const [j3, o3] = await Promise.all([batch(6, 'jason'), batch(6)]);
  report('jason ×6', j3);
  report('others ×6', o3);

  console.log('\n4. Traffic shifting: 50 % to v1 and 50 % to v3, then 100 % to v3');
  await applyRoute(REVIEWS_50_V3, 'reviews', [subsetCluster('reviews', 'v1'), subsetCluster('reviews', 'v3')], ['jason']);
  report('20 requests', await batch(20));
  await applyRoute(REVIEWS_V3, 'reviews', [subsetCluster('reviews', 'v3')], [subsetCluster('reviews', 'v1')]);
  report('10 requests', await batch(10));

  console.log('\n5. Fault injection, delay: jason back on v2, and a 7 s delay for jason on ratings');
  console.log('   reviews v2 waits up to 10 s for ratings, but productpage gives reviews 3 s and retries once: 6 s, then it gives up');
  await applyRoute(REVIEWS_TEST_V2, 'reviews', ['jason', subsetCluster('reviews', 'v2')]);
  await applyRoute(RATINGS_TEST_DELAY, 'ratings', ['jason']);
  const [j5, o5] = await Promise.all([batch(5, 'jason'), batch(5)]);
  report('jason ×5', j5);
  report('others ×5', o5);

  console.log('\n6. Fault injection, abort: HTTP 500 for jason on ratings');
  await applyRoute(RATINGS_TEST_ABORT, 'ratings', ['jason'], ['7s']);
  const [j6, o6] = await Promise.all([batch(6, 'jason'), batch(6)]);
  report('jason ×6', j6);
  report('others ×6', o6);
  const aborted = mesh.podLogLines(NS, wpPod.metadata.name).filter((l) => l.scope === 'access' && l.response_flags === 'FI').length;
  console.log(`  waypoint access log: ${aborted} ratings request(s) answered 500 by the fault filter (response flag FI)`);

  console.log('\n7. Circuit breaking: productpage allows 1 connection, 1 pending request, 1 request per connection');
  printYaml(PRODUCTPAGE_CIRCUIT_BREAKER);
  apply(PRODUCTPAGE_CIRCUIT_BREAKER);
  await pollUntil('the circuit breaker on productpage v1', () => clusterReady(subsetCluster('productpage', 'v1'), ['"max_connections":1', '"max_pending_requests":1']), { timeoutMs: 20_000 });
  const uoBefore = mesh.podLogLines(NS, wpPod.metadata.name).filter((l) => l.scope === 'access' && l.response_flags === 'UO').length;
  // A bounded burst: 5 clients at once, each sending 6 requests one after another (a connection each).
  const burst = (await Promise.all(Array.from({ length: 5 }, async () => {
    const out: Seen[] = [];
    for (let i = 0; i < 6; i++) out.push(await visit());
    return out;
  }))).flat();
  report('30 requests, 5 at a time', burst);
  const uo = await pollUntil('the overflow access-log lines', () => {
    const lines = mesh.podLogLines(NS, wpPod.metadata.name).filter((l) => l.scope === 'access' && l.response_flags === 'UO');
    const want = burst.filter((s) => s.status === 503).length;
    return lines.length - uoBefore >= Math.min(want, 1) ? lines : undefined;
  }, { timeoutMs: 10_000 });
  const last = uo[uo.length - 1];
  if (last) console.log(`  waypoint access log: ${uo.length - uoBefore} × "${String(last.method)} ${String(last.path)}" ${String(last.response_code)} ${String(last.response_flags)} ${String(last.response_code_details)} cluster ${String(last.upstream_cluster)}`);
  const m = await (await fetch(`http://127.0.0.1:${wp.ports.stats}/stats/prometheus`)).text();
  const uoMetric = m.split('\n').find((l) => l.startsWith('istio_requests_total{') && l.includes('response_flags="UO"') && l.includes(`destination_service="${fqdn('productpage')}"`));
  if (uoMetric) console.log(`  ${uoMetric.replace(/\{.*\}/, (labels) => `{${['reporter', 'destination_service', 'response_code', 'response_flags'].map((k) => new RegExp(`${k}="[^"]*"`).exec(labels)?.[0]).filter(Boolean).join(',')},…}`)}`);

  console.log(`\nDemo ready in ${Math.round((Date.now() - t0) / 1000)} s. The mesh keeps running; try:`);
  console.log(`  e2e/lab/lab exec -n ${NS} sleep -- curl -s "http://${productpage}:9080/productpage?u=jason"`);
  console.log(`  curl -s http://127.0.0.1:${wp.ports.admin}/config_dump     # the waypoint's routes, clusters and endpoints`);
  console.log(`  curl -s http://127.0.0.1:${wp.ports.admin}/clusters        # circuit breakers and endpoint health`);
  console.log(`  e2e/lab/lab kubectl get virtualservice,destinationrule -n ${NS}`);
  console.log('Tear down with: make lab-down   (or e2e/lab/lab down)');
}

main().catch(async (err: Error) => {
  console.error(`demo-bookinfo failed: ${err.message}`);
  if (process.env.DEMO_KEEP_ON_FAILURE !== '1') await down().catch(() => {});
  process.exit(1);
});
