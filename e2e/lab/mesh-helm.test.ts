// The mesh installed with Helm on the lab, as a user installs it: four releases of charts/ with the
// lab values; the kubelet stand-ins run the controller, node agent and ztunnel pods as host
// processes of their nodes. A labelled namespace's pods on two nodes talk over HBONE with their
// SPIFFE identities; a killed ztunnel is restarted by its kubelet; `helm upgrade` of ztunnel rolls
// the nodes one at a time with no refused connection; `helm uninstall` leaves the pods running and
// reachable in plaintext, without the in-pod rules.
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { down, kubectlSync, up } from './lab.ts';
import { installMesh, MESH_NAMESPACE, meshPods, uninstallMesh, upgradeZtunnel, ztunnelPods } from './mesh-helm.ts';
import { pollUntil } from './poll.ts';
import type { LabState } from './state.ts';
import { deployTwoPods, type TwoPods } from './two-pods.ts';
import { ztunnelHttp } from '../ztunnel/lab-mesh.ts';
import { requireRoot, talk } from '../ztunnel/netns-harness.ts';

describe('the Helm-installed mesh on the lab (root)', () => {
  let lab: LabState;
  const helmLines: string[] = [];
  let pods: TwoPods;
  const ztunnelMetrics = async (node: string): Promise<string> => {
    const z = ztunnelPods(lab).get(node);
    if (!z) throw new Error(`no Ready ztunnel on ${node}`);
    return ztunnelHttp(z.ports.metrics, '/metrics');
  };
  const log = (l: string) => {
    helmLines.push(l);
    process.stderr.write(`${l}\n`);
  };

  beforeAll(async () => {
    requireRoot('e2e/lab/mesh-helm.test.ts');
    lab = await up({ nodes: 2 });
    await installMesh(lab, { log });
    pods = await deployTwoPods(lab);
  }, 300_000);

  afterAll(async () => {
    await down();
  }, 120_000);

  it('installs with four helm commands; the controller, and an agent and a ztunnel per node, run as host processes on the node IP', () => {
    expect(helmLines.filter((l) => l.startsWith('$ helm install'))).toEqual([
      '$ helm install istio-base charts/base -n istio-system --create-namespace',
      '$ helm install istiod charts/istiod -n istio-system --create-namespace -f e2e/lab/helm-values/istiod.yaml',
      '$ helm install istio-cni charts/cni -n istio-system --create-namespace -f e2e/lab/helm-values/cni.yaml',
      '$ helm install ztunnel charts/ztunnel -n istio-system --create-namespace -f e2e/lab/helm-values/ztunnel.yaml',
    ]);
    const zt = ztunnelPods(lab);
    expect([...zt.keys()].sort()).toEqual(['node1', 'node2']);
    const byNode = new Map(lab.nodes.map((n) => [n.name, n.fabricIp]));
    for (const p of meshPods(lab)) {
      const node = (p as { spec: { nodeName?: string } }).spec.nodeName ?? '';
      expect({ pod: p.metadata.name, ip: p.status.podIP }).toEqual({ pod: p.metadata.name, ip: byNode.get(node) });
    }
    const agents = meshPods(lab).filter((p) => p.metadata.labels?.app === 'istio-cni-node').map((p) => p.spec.nodeName).sort();
    expect(agents).toEqual(['node1', 'node2']);
  });

  it('captures a labelled namespace: cross-node TCP goes over HBONE between the pods\' SPIFFE identities', async () => {
    const before = await pods.exchange();
    expect(before.reply).toBe(before.secret);
    expect(before.plaintextOnWire).toBe(true);

    kubectlSync(lab, ['label', 'ns', 'amb', 'istio.io/dataplane-mode=ambient']);
    await pollUntil('both pods annotated as captured', () => pods.redirection('client') === 'enabled' && pods.redirection('echo') === 'enabled', { timeoutMs: 30_000 });
    // The ztunnels learn the pods from the controller over xDS; poll until the exchange is meshed.
    const meshed = await pollUntil('an exchange over HBONE', async () => {
      const r = await pods.exchange();
      return r.reply === r.secret && !r.plaintextOnWire ? r : undefined;
    }, { timeoutMs: 30_000 });
    expect([...meshed.ports]).toEqual(['15008']);
    const inbound = await ztunnelMetrics('node2');
    expect(inbound).toMatch(/istio_tcp_connections_opened_total\{[^}]*source_principal="spiffe:\/\/cluster\.local\/ns\/amb\/sa\/default"[^}]*\} [1-9]/);
  }, 90_000);

  it('restarts a killed ztunnel (its kubelet), and the captured pods keep talking over HBONE', async () => {
    const before = ztunnelPods(lab).get('node1')!;
    expect(before.pid).not.toBeNull();
    process.kill(before.pid!, 'SIGKILL');
    const after = await pollUntil('the ztunnel on node1 to be restarted and Ready', () => {
      const z = ztunnelPods(lab).get('node1');
      return z && z.restartCount > before.restartCount && z.pid !== before.pid ? z : undefined;
    }, { timeoutMs: 60_000 });
    expect(after.pod).toBe(before.pod);
    const r = await pollUntil('an exchange over HBONE again', async () => {
      const x = await pods.exchange();
      return x.reply === x.secret && !x.plaintextOnWire ? x : undefined;
    }, { timeoutMs: 30_000 });
    expect([...r.ports]).toEqual(['15008']);
  }, 120_000);

  it('helm upgrade of ztunnel replaces the ztunnels one node at a time with no refused connection', async () => {
    const old = ztunnelPods(lab);
    // Bounded load: one connection at a time from node1 to node2 for the whole rollout.
    let stop = false;
    const results: string[] = [];
    const load = (async () => {
      while (!stop) {
        const secret = `u-${results.length}`;
        const reply = await talk(pods.netns('client'), pods.ip('echo'), 9000, secret);
        results.push(reply === secret ? 'ok' : reply);
      }
    })();
    // Both ztunnel pods of a node overlap (maxSurge 1, maxUnavailable 0): never both nodes surging at once.
    const overlaps = new Set<string>();
    let bothNew = false;
    const watcher = setInterval(() => {
      try {
        const pods = meshPods(lab).filter((p) => p.metadata.labels?.app === 'ztunnel');
        const fresh = new Set(pods.filter((p) => ![...old.values()].some((o) => o.uid === p.metadata.uid)).map((p) => p.spec.nodeName));
        // An old pod being deleted (draining its connections) has handed over: the rollout moves on.
        const oldLive = new Set(pods.filter((p) => !p.metadata.deletionTimestamp && [...old.values()].some((o) => o.uid === p.metadata.uid)).map((p) => p.spec.nodeName));
        for (const n of fresh) if (oldLive.has(n)) overlaps.add(n!);
        if (fresh.size === 2 && oldLive.size === 2) bothNew = true;
      } catch {
        /* a kubectl call racing the apiserver */
      }
    }, 200);
    try {
      await upgradeZtunnel(lab, ['--set-string', `podAnnotations.lab-rollout=${randomBytes(3).toString('hex')}`], { log });
      await pollUntil('some connections during the rollout', () => results.length >= 5, { timeoutMs: 30_000 });
    } finally {
      stop = true;
      clearInterval(watcher);
      await load;
    }
    const now = ztunnelPods(lab);
    for (const node of ['node1', 'node2']) expect(now.get(node)!.uid).not.toBe(old.get(node)!.uid);
    expect(bothNew).toBe(false);
    expect(results.filter((r) => r !== 'ok')).toEqual([]);
  }, 240_000);

  it('helm uninstall leaves the pods running and reachable in plaintext, with the in-pod rules removed', async () => {
    const uids = { client: pods.pod('client').metadata.uid, echo: pods.pod('echo').metadata.uid };
    await uninstallMesh(lab, { log });
    expect(helmLines.filter((l) => l.startsWith('$ helm uninstall'))).toEqual(['ztunnel', 'istio-cni', 'istiod', 'istio-base'].map((r) => `$ helm uninstall ${r} -n ${MESH_NAMESPACE} --wait --timeout 2m`));
    expect({ client: pods.pod('client').metadata.uid, echo: pods.pod('echo').metadata.uid }).toEqual(uids);
    const plain = await pollUntil('a plaintext exchange', async () => {
      const x = await pods.exchange();
      return x.reply === x.secret ? x : undefined;
    }, { timeoutMs: 30_000 });
    expect(plain.plaintextOnWire).toBe(true);
    for (const name of ['client', 'echo']) {
      const rules = spawnSync('nsenter', [`--net=/run/netns/${pods.netns(name)}`, '--', 'iptables-save'], { encoding: 'utf8' }).stdout;
      expect(rules).not.toMatch(/ISTIO_/);
    }
  }, 180_000);
});
