// `make demo`: a 2-node lab, two sample apps, the mesh installed as a user installs it (the four
// Helm releases of charts/, each `helm install` printed: istiod, and the istio-cni node agent and
// ztunnel DaemonSets, one pod per node), and the ambient story printed for a person: plaintext between the nodes first;
// `kubectl label namespace … istio.io/dataplane-mode=ambient`; the same request now over HBONE (the
// fabric sees only TLS on 15008) with both SPIFFE identities in ztunnel's access log; a DENY
// AuthorizationPolicy taking effect and going away; then a waypoint (`ambientctl waypoint apply
// --enroll-namespace --wait`): requests to the Service now cross it (its access log line and
// istio_requests_total{reporter="waypoint"}), and `ambientctl waypoint delete` sends them direct again.
import { spawnSync } from 'node:child_process';
import { captureFabric } from '../ztunnel/lab-mesh.ts';
import { REPO_ROOT } from './config.ts';
import { down, exec, kubectl, kubectlSync, runningLab, up } from './lab.ts';
import { HelmMesh } from './mesh-helm.ts';
import { pollUntil } from './poll.ts';
import { isReady, sampleApps, type PodJson } from './sample-apps.ts';

const NS = 'demo';
const DENY = `
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: { name: deny-client, namespace: ${NS} }
spec:
  selector: { matchLabels: { app: echo } }
  action: DENY
  rules: [{ from: [{ source: { principals: ["cluster.local/ns/${NS}/sa/default"] } }] }]
`;

type DemoPod = PodJson & { metadata: { annotations?: Record<string, string> } };

function pods(): DemoPod[] {
  return (JSON.parse(kubectl(['get', 'pods', '-n', NS, '-o', 'json']).stdout) as { items: DemoPod[] }).items;
}

async function main(): Promise<void> {
  const t0 = Date.now();
  if (runningLab()) throw new Error('a lab is already running; tear it down first with: make lab-down');
  const lab = await up({ nodes: 2, log: (l) => console.log(`  ${l}`) });
  const applied = kubectl(['apply', '-f', '-'], sampleApps(NS));
  if (applied.status !== 0) throw new Error(applied.stderr);
  const ready = await pollUntil('demo pods Ready', () => {
    const ps = pods();
    return ps.length === 3 && ps.every(isReady) ? ps : undefined;
  }, { timeoutMs: 90_000 });
  console.log('\nInstalling the mesh with Helm (charts/, the lab\'s values in e2e/lab/helm-values/)');
  const mesh = await HelmMesh.install(lab, { log: (l) => console.log(`  ${l}`) });
  console.log(kubectl(['get', 'pods', '-n', 'istio-system', '-o', 'custom-columns=NAME:.metadata.name,READY:.status.conditions[?(@.type=="Ready")].status,NODE:.spec.nodeName']).stdout.trimEnd().replace(/^/gm, '  '));

  console.log('\nNodes');
  console.log(kubectl(['get', 'nodes', '-o', 'custom-columns=NAME:.metadata.name,READY:.status.conditions[?(@.type=="Ready")].status,POD-CIDR:.spec.podCIDR']).stdout.trimEnd());
  console.log('\nPods');
  console.log(kubectl(['get', 'pods', '-n', NS, '-o', 'custom-columns=NAME:.metadata.name,IP:.status.podIP,NODE:.spec.nodeName']).stdout.trimEnd());

  const client = ready.find((p) => p.metadata.labels?.app === 'client')!;
  const target = ready.find((p) => p.metadata.labels?.app === 'echo' && p.spec.nodeName !== client.spec.nodeName)!;
  const url = `http://${target.status.podIP}:8080/hello`;
  const request = () => exec(NS, client.metadata.name, ['curl', '-sS', '--max-time', '5', '-H', 'x-demo: top-secret-payload', url]);
  const show = async (title: string) => {
    const cap = await captureFabric(lab, async () => request());
    const r = cap.result;
    // Server ports only (the client side is an ephemeral port).
    const ports = [...new Set(cap.text.flatMap((l) => {
      const m = / IP \S+\.(\d+) > \S+\.(\d+):/.exec(l);
      return m ? [Number(m[1]), Number(m[2])] : [];
    }).filter((p) => p < 32768))].join(', ');
    console.log(`\n${title}`);
    console.log(`  ${client.metadata.name} (${client.spec.nodeName}) -> GET ${url}: ${r.status === 0 ? `answered by ${(JSON.parse(r.stdout) as { pod: string }).pod}` : `refused (${r.stderr.trim()})`}`);
    console.log(`  between the nodes: ${cap.text.length} TCP packets to port(s) ${ports || '-'}; header "top-secret-payload" visible on the wire: ${cap.raw.includes(Buffer.from('top-secret-payload')) ? 'YES' : 'no'}; every byte a TLS record: ${cap.tls.bytes > 0 && cap.tls.problems.length === 0 ? 'yes' : 'no'}`);
    return r;
  };

  await show('1. Before: namespace "demo" is not in the mesh');

  console.log(`\n$ kubectl label namespace ${NS} istio.io/dataplane-mode=ambient`);
  kubectlSync(lab, ['label', 'namespace', NS, 'istio.io/dataplane-mode=ambient']);
  await pollUntil('the pods to be captured', () => pods().every((p) => p.metadata.annotations?.['ambient.istio.io/redirection'] === 'enabled'), { timeoutMs: 30_000 });
  await pollUntil('ztunnel to know the pods as HBONE', async () => {
    const d = JSON.parse(await mesh.admin(client.spec.nodeName!, '/config_dump')) as { workloads: { namespace: string; protocol: string }[] };
    const demo = d.workloads.filter((w) => w.namespace === NS);
    return demo.length === 3 && demo.every((w) => w.protocol === 'HBONE');
  }, { timeoutMs: 15_000 });
  await show('2. After: the same request, no pod restarted');
  const line = await pollUntil('the access log line', () => mesh.logLines(target.spec.nodeName!).find((l) => l.scope === 'access' && l.direction === 'inbound'), { timeoutMs: 10_000 });
  console.log(`  ztunnel on ${target.spec.nodeName} (inbound): src.identity=${String(line['src.identity'])} -> dst.identity=${String(line['dst.identity'])}`);

  console.log('\n$ kubectl apply -f deny-client.yaml   (DENY from principal cluster.local/ns/demo/sa/default to app=echo)');
  kubectlSync(lab, ['apply', '-f', '-'], DENY);
  await pollUntil('the policy to apply', () => request().status !== 0, { timeoutMs: 15_000 });
  await show('3. With the DENY policy');
  kubectlSync(lab, ['delete', 'authorizationpolicy', '-n', NS, 'deny-client']);
  await pollUntil('the policy to be gone', () => request().status === 0, { timeoutMs: 15_000 });
  console.log('\n4. Policy deleted: the request is answered again.');

  // 5. A waypoint for the namespace, the way an Istio user adds one.
  const ambientctl = (args: string[]) => {
    console.log(`\n$ ambientctl ${args.join(' ')}`);
    const r = spawnSync(process.execPath, [`${REPO_ROOT}/cli/src/ambientctl.ts`, ...args], { encoding: 'utf8', timeout: 150_000, env: { ...process.env, KUBECONFIG: lab.kubeconfig } });
    for (const l of `${r.stdout}${r.stderr}`.trimEnd().split('\n')) console.log(`  ${l}`);
    if (r.status !== 0) throw new Error(`ambientctl ${args.join(' ')} exited ${r.status}`);
  };
  ambientctl(['waypoint', 'apply', '-n', NS, '--enroll-namespace', '--wait']);
  const vip = kubectlSync(lab, ['get', 'svc', '-n', NS, 'echo', '-o', 'jsonpath={.spec.clusterIP}']).stdout.trim();
  const svcUrl = `http://${vip}/hello`;
  const viaService = () => exec(NS, client.metadata.name, ['curl', '-sS', '--max-time', '5', svcUrl]);
  const wpPod = await pollUntil('the waypoint pod', () => pods().find((p) => p.metadata.labels?.['gateway.networking.k8s.io/gateway-name'] === 'waypoint' && isReady(p)), { timeoutMs: 30_000 });
  await pollUntil('ztunnel to send the Service to the waypoint', async () => {
    const d = JSON.parse(await mesh.admin(client.spec.nodeName!, '/config_dump')) as { services: { hostname: string; waypoint?: unknown }[] };
    return d.services.find((s) => s.hostname === `echo.${NS}.svc.cluster.local`)?.waypoint !== undefined;
  }, { timeoutMs: 20_000 });
  const r5 = await pollUntil('a request through the waypoint', () => {
    const r = viaService();
    return r.status === 0 && mesh.podLogLines(NS, wpPod.metadata.name).some((l) => l.scope === 'access' && l.path === '/hello') ? r : undefined;
  }, { timeoutMs: 20_000 });
  const echoed = JSON.parse(r5.stdout) as { pod: string; remoteAddress: string; headers: Record<string, string> };
  const access = mesh.podLogLines(NS, wpPod.metadata.name).filter((l) => l.scope === 'access' && l.path === '/hello').pop()!;
  console.log(`\n5. With the waypoint ${wpPod.metadata.name} (${wpPod.spec.nodeName}, ${wpPod.status.podIP})`);
  console.log(`  ${client.metadata.name} -> GET ${svcUrl}: answered by ${echoed.pod}, which saw the request from ${echoed.remoteAddress} (the waypoint) with x-request-id ${echoed.headers['x-request-id']}`);
  console.log(`  waypoint access log: "${String(access.method)} ${String(access.path)} ${String(access.protocol)}" ${String(access.response_code)} ${String(access.response_flags)} upstream ${String(access.upstream_host)} cluster ${String(access.upstream_cluster)}`);
  const wp = mesh.waypointProcess(NS, wpPod.metadata.name);
  if (wp) {
    const m = await (await fetch(`http://127.0.0.1:${wp.ports.stats}/stats/prometheus`)).text();
    const line = m.split('\n').find((l) => l.startsWith('istio_requests_total{') && l.includes('response_code="200"'));
    if (line) console.log(`  ${line.replace(/\{.*\}/, (labels) => `{${['reporter', 'source_workload', 'destination_service', 'response_code'].map((k) => new RegExp(`${k}="[^"]*"`).exec(labels)?.[0]).filter(Boolean).join(',')},…}`)}`);
  }
  ambientctl(['waypoint', 'delete', '-n', NS, 'waypoint']);
  await pollUntil('ztunnel to drop the waypoint', async () => {
    const d = JSON.parse(await mesh.admin(client.spec.nodeName!, '/config_dump')) as { services: { hostname: string; waypoint?: unknown }[] };
    return d.services.find((s) => s.hostname === `echo.${NS}.svc.cluster.local`)?.waypoint === undefined;
  }, { timeoutMs: 30_000 });
  const r6 = viaService();
  console.log(`  after delete: GET ${svcUrl}: ${r6.status === 0 ? `answered by ${(JSON.parse(r6.stdout) as { pod: string; remoteAddress: string }).pod}, which saw ${(JSON.parse(r6.stdout) as { remoteAddress: string }).remoteAddress} (the client itself)` : `failed (${r6.stderr.trim()})`}`);

  const z = mesh.ztunnel(target.spec.nodeName!);
  console.log(`\nDemo ready in ${Math.round((Date.now() - t0) / 1000)} s. The mesh keeps running; try:`);
  console.log(`  curl -s http://127.0.0.1:${z.ports.admin}/config_dump      # ztunnel on ${target.spec.nodeName}: workloads, services, policies, certificates`);
  console.log(`  curl -s http://127.0.0.1:${z.ports.metrics}/metrics          # istio_tcp_* metrics`);
  console.log(`  curl -s http://127.0.0.1:${mesh.controller().ports.monitoring}/debug/connections   # what istiod sent each ztunnel`);
  console.log(`  KUBECONFIG=${lab.kubeconfig} ${lab.toolsBin}/helm list -n istio-system   # the four releases; helm upgrade/uninstall work as on a cluster`);
  console.log(`  e2e/lab/lab exec -n ${NS} ${client.metadata.name} -- curl -s ${url}`);
  console.log(`  e2e/lab/lab ambientctl waypoint apply -n ${NS} --enroll-namespace --wait   # the waypoint again; then: lab ambientctl ztunnel-config services`);
  console.log('Tear down with: make lab-down   (or e2e/lab/lab down)');
}

main().catch(async (err: Error) => {
  console.error(`demo failed: ${err.message}`);
  if (process.env.DEMO_KEEP_ON_FAILURE !== '1') await down().catch(() => {});
  process.exit(1);
});
