// `make demo`: a 2-node lab, two sample apps, and one cross-node request, printed for a person.
import { down, exec, kubectl, runningLab, up } from './lab.ts';
import { pollUntil } from './poll.ts';
import { isReady, sampleApps, type PodJson } from './sample-apps.ts';

const NS = 'demo';
const APPS = sampleApps(NS);

function pods(): PodJson[] {
  return (JSON.parse(kubectl(['get', 'pods', '-n', NS, '-o', 'json']).stdout) as { items: PodJson[] }).items;
}

async function main(): Promise<void> {
  const t0 = Date.now();
  if (runningLab()) console.log('Using the lab that is already running.');
  else await up({ nodes: 2, log: (l) => console.log(`  ${l}`) });
  const applied = kubectl(['apply', '-f', '-'], APPS);
  if (applied.status !== 0) throw new Error(applied.stderr);
  const ready = await pollUntil('demo pods Ready', () => {
    const ps = pods();
    const ok = ps.length === 3 && ps.every(isReady);
    return ok ? ps : undefined;
  }, { timeoutMs: 90_000 });

  console.log('\nNodes');
  console.log(kubectl(['get', 'nodes', '-o', 'custom-columns=NAME:.metadata.name,READY:.status.conditions[?(@.type=="Ready")].status,POD-CIDR:.spec.podCIDR,ADDRESS:.status.addresses[0].address']).stdout.trimEnd());
  console.log('\nPods');
  console.log(kubectl(['get', 'pods', '-n', NS, '-o', 'custom-columns=NAME:.metadata.name,IP:.status.podIP,NODE:.spec.nodeName,STATUS:.status.phase']).stdout.trimEnd());

  const client = ready.find((p) => p.metadata.labels?.app === 'client')!;
  const target = ready.find((p) => p.metadata.labels?.app === 'echo' && p.spec.nodeName !== client.spec.nodeName)!;
  const url = `http://${target.status.podIP}:8080/hello`;
  const r = exec(NS, client.metadata.name, ['curl', '-sS', '--max-time', '5', url]);
  if (r.status !== 0) throw new Error(`cross-node request failed: ${r.stderr}`);
  const body = JSON.parse(r.stdout) as { pod: string; node: string };
  console.log(`\nCross-node request: ${client.metadata.name} (${client.spec.nodeName}) -> GET ${url}`);
  console.log(`  answered by pod ${body.pod} on ${body.node}`);
  const vip = kubectl(['get', 'svc', 'echo', '-n', NS, '-o', 'jsonpath={.spec.clusterIP}']).stdout.trim();
  const v = exec(NS, client.metadata.name, ['curl', '-sS', '--max-time', '5', `http://${vip}/`]);
  if (v.status === 0) console.log(`Service VIP: GET http://${vip}/ answered by ${(JSON.parse(v.stdout) as { pod: string }).pod}`);

  console.log(`\nDemo ready in ${Math.round((Date.now() - t0) / 1000)} s. Try:`);
  console.log(`  e2e/lab/lab kubectl get pods -A -o wide`);
  console.log(`  e2e/lab/lab exec -n ${NS} ${client.metadata.name} -- curl -s http://${vip}/`);
  console.log('Tear down with: make lab-down   (or e2e/lab/lab down)');
}

main().catch(async (err: Error) => {
  console.error(`demo failed: ${err.message}`);
  if (process.env.DEMO_KEEP_ON_FAILURE !== '1') await down().catch(() => {});
  process.exit(1);
});
