// The controller's waypoint deployer on the lab: a waypoint Gateway gets its ServiceAccount,
// Deployment and Service (named like it, owned by it, labelled as istiod's template does), a bad
// one is refused without deploying anything, a deleted Deployment comes back, a ready waypoint pod
// makes the Gateway Programmed with addresses and binds the namespace's Services in workload xDS,
// and deleting the Gateway lets the garbage collector take everything.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { down, kubectlSync, up } from '../lab/lab.ts';
import { pollUntil } from '../lab/poll.ts';
import type { LabState } from '../lab/state.ts';
import { requireRoot } from '../ztunnel/netns-harness.ts';
import { HelmMesh } from '../lab/mesh-helm.ts';

const NS = 'wp-e2e';

const gatewayYaml = (name: string, listener = '{ name: mesh, port: 15008, protocol: HBONE }') => `
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: { name: ${name}, namespace: ${NS} }
spec:
  gatewayClassName: istio-waypoint
  listeners: [${listener}]
`;

interface Cond { type: string; status: string; reason: string; message: string; observedGeneration?: number }
interface Obj {
  metadata: { name: string; uid: string; labels?: Record<string, string>; ownerReferences?: { kind: string; name: string; uid: string; controller?: boolean; blockOwnerDeletion?: boolean }[] };
  spec?: Record<string, unknown>;
  status?: { conditions?: Cond[]; addresses?: { type: string; value: string }[]; listeners?: { name: string; conditions: Cond[] }[] };
}

describe('waypoint deployer: Gateways of class istio-waypoint (root)', () => {
  let lab: LabState;
  const get = (kind: string, name: string, ns: string | undefined = NS): Obj | undefined => {
    const r = kubectlSync(lab, ['get', kind, name, ...(ns ? ['-n', ns] : []), '-o', 'json', '--ignore-not-found']);
    return r.stdout.trim() ? (JSON.parse(r.stdout) as Obj) : undefined;
  };
  const cond = (o: Obj | undefined, type: string) => o?.status?.conditions?.find((c) => c.type === type);

  beforeAll(async () => {
    requireRoot('e2e/controller/waypoint-deployer.test.ts');
    lab = await up({ nodes: 2 });
    kubectlSync(lab, ['create', 'namespace', NS]);
    await HelmMesh.install(lab);
  }, 240_000);

  afterAll(async () => {
    await down();
  }, 120_000);

  it('creates the istio-waypoint GatewayClass and accepts it', async () => {
    const gc = await pollUntil('GatewayClass istio-waypoint Accepted', () => {
      const o = get('gatewayclass', 'istio-waypoint', undefined);
      return cond(o, 'Accepted')?.status === 'True' ? o : undefined;
    }, { timeoutMs: 30_000 });
    expect(gc.spec).toMatchObject({ controllerName: 'istio.io/mesh-controller', description: 'The default Istio waypoint GatewayClass' });
    expect(cond(gc, 'Accepted')).toMatchObject({ reason: 'Accepted', message: 'Handled by Istio controller' });
  });

  it('deploys a waypoint Gateway as a ServiceAccount, Deployment and Service named like it and owned by it', async () => {
    kubectlSync(lab, ['apply', '-f', '-'], gatewayYaml('waypoint'));
    const gw = await pollUntil('the Gateway', () => get('gateway', 'waypoint'));
    for (const kind of ['serviceaccount', 'deployment', 'service']) {
      const o = await pollUntil(`${kind} waypoint`, () => get(kind, 'waypoint'), { timeoutMs: 30_000 });
      expect(o.metadata.labels).toMatchObject({
        'gateway.networking.k8s.io/gateway-name': 'waypoint',
        'gateway.networking.k8s.io/gateway-class-name': 'istio-waypoint',
        'gateway.istio.io/managed': 'istio.io-mesh-controller',
      });
      expect(o.metadata.ownerReferences).toEqual([{ apiVersion: 'gateway.networking.k8s.io/v1', kind: 'Gateway', name: 'waypoint', uid: gw.metadata.uid, controller: true, blockOwnerDeletion: true }]);
    }
    const svc = get('service', 'waypoint')!;
    expect((svc.spec?.ports as { name: string; port: number }[]).map((p) => `${p.name}:${p.port}`)).toEqual(['status-port:15021', 'mesh:15008']);
    const accepted = await pollUntil('Accepted=True', () => cond(get('gateway', 'waypoint'), 'Accepted')?.status === 'True' || undefined, { timeoutMs: 30_000 });
    expect(accepted).toBe(true);
  }, 60_000);

  it('refuses a Gateway whose listener is not {15008, HBONE} and deploys nothing for it', async () => {
    kubectlSync(lab, ['apply', '-f', '-'], gatewayYaml('bad', '{ name: mesh, port: 80, protocol: HTTP }'));
    const gw = await pollUntil('Accepted=False on the bad Gateway', () => {
      const o = get('gateway', 'bad');
      return cond(o, 'Accepted')?.status === 'False' ? o : undefined;
    }, { timeoutMs: 30_000 });
    expect(cond(gw, 'Accepted')?.reason).toBe('ListenersNotValid');
    expect(gw.status?.listeners?.[0]?.conditions.find((c) => c.type === 'Accepted')).toMatchObject({
      status: 'False',
      reason: 'UnsupportedProtocol',
      message: 'Expected a single listener on port 15008 with protocol "HBONE"',
    });
    expect([get('deployment', 'bad'), get('service', 'bad'), get('serviceaccount', 'bad')]).toEqual([undefined, undefined, undefined]);
  }, 60_000);

  it('puts back a Deployment someone deleted', async () => {
    const before = get('deployment', 'waypoint')!.metadata.uid;
    kubectlSync(lab, ['delete', 'deployment', '-n', NS, 'waypoint', '--wait=true']);
    const after = await pollUntil('a new waypoint Deployment', () => {
      const d = get('deployment', 'waypoint');
      return d && d.metadata.uid !== before ? d : undefined;
    }, { timeoutMs: 30_000 });
    expect(after.metadata.labels?.['gateway.networking.k8s.io/gateway-name']).toBe('waypoint');
  }, 60_000);

  // Needs the waypoint pod to become Ready, i.e. the lab's waypoint program reaching the controller
  // (WAYPOINT_EXTRA_ENV / DISCOVERY_ADDRESS pointing at the lab's controller).
  it('programs the Gateway once its pod is ready, with the ClusterIP and hostname as addresses', async () => {
    const gw = await pollUntil('Programmed=True', () => {
      const o = get('gateway', 'waypoint');
      return cond(o, 'Programmed')?.status === 'True' ? o : undefined;
    }, { timeoutMs: 90_000 });
    const clusterIP = kubectlSync(lab, ['get', 'svc', '-n', NS, 'waypoint', '-o', 'jsonpath={.spec.clusterIP}']).stdout.trim();
    expect(cond(gw, 'Programmed')?.message).toBe(`Resource programmed, assigned to service(s) waypoint.${NS}.svc.cluster.local:15008`);
    expect(gw.status?.addresses).toEqual([{ type: 'IPAddress', value: clusterIP }, { type: 'Hostname', value: `waypoint.${NS}.svc.cluster.local` }]);
  }, 120_000);

  it('deleting the Gateway garbage-collects its ServiceAccount, Deployment and Service', async () => {
    kubectlSync(lab, ['delete', 'gateway', '-n', NS, 'waypoint', 'bad']);
    await pollUntil('the waypoint objects gone', () =>
      ['serviceaccount', 'deployment', 'service'].every((k) => get(k, 'waypoint') === undefined) || undefined, { timeoutMs: 60_000 });
  }, 90_000);
});
