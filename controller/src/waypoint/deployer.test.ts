// The deployer loop against in-memory informer caches and a writer that behaves like the
// apiserver (writes show up in the caches as events): leader-only writes, idempotence, drift
// repair, retries with backoff, readiness-driven status.
import type { KubernetesObject, V1Deployment, V1EndpointSlice, V1Service, V1ServiceAccount } from '@kubernetes/client-node';
import { afterEach, describe, expect, it } from 'vitest';
import type { InformerEvent } from '../../../lib/kube/informer.ts';
import { createLogger } from '../../../lib/log/logger.ts';
import { Registry } from '../../../lib/metrics/registry.ts';
import type { Gateway, GatewayClass } from '../model/index.ts';
import { WaypointDeployer, type Source } from './deployer.ts';
import type { WaypointWriter } from './kube.ts';
import { assignedService, hboneSlice, RENDER, waypointGateway } from './test-fixtures.ts';

class FakeSource<T extends { metadata?: { name?: string; namespace?: string } }> implements Source<T> {
  private readonly items = new Map<string, T>();
  private readonly handlers: Record<InformerEvent, ((o: T, old?: T) => void)[]> = { add: [], update: [], delete: [] };
  private key = (o: T) => (o.metadata?.namespace ? `${o.metadata.namespace}/${o.metadata.name}` : (o.metadata?.name ?? ''));
  get(key: string) {
    return this.items.get(key);
  }
  list() {
    return [...this.items.values()];
  }
  on(e: InformerEvent, fn: (o: T, old?: T) => void) {
    this.handlers[e].push(fn);
    return this;
  }
  put(o: T) {
    const old = this.items.get(this.key(o));
    this.items.set(this.key(o), o);
    for (const h of this.handlers[old ? 'update' : 'add']) h(o, old);
  }
  remove(key: string) {
    const old = this.items.get(key);
    if (!old) return;
    this.items.delete(key);
    for (const h of this.handlers.delete) h(old);
  }
}

interface Call {
  op: string;
  what: string;
}

function setup(o: { failApplies?: number } = {}) {
  const sources = {
    gateways: new FakeSource<Gateway>(),
    gatewayClasses: new FakeSource<GatewayClass>(),
    deployments: new FakeSource<V1Deployment>(),
    services: new FakeSource<V1Service>(),
    serviceAccounts: new FakeSource<V1ServiceAccount>(),
    endpointSlices: new FakeSource<V1EndpointSlice>(),
  };
  const calls: Call[] = [];
  let failures = o.failApplies ?? 0;
  // Writes land in the caches a tick later, as watch events would.
  const later = (fn: () => void) => setTimeout(fn, 1);
  const writer: WaypointWriter = {
    apply: async (obj: KubernetesObject) => {
      if (failures > 0) {
        failures--;
        throw Object.assign(new Error('apiserver unavailable'), { code: 503 });
      }
      calls.push({ op: 'apply', what: `${obj.kind}/${obj.metadata?.namespace}/${obj.metadata?.name}` });
      const copy = structuredClone(obj);
      later(() => {
        if (obj.kind === 'Deployment') sources.deployments.put(copy as V1Deployment);
        if (obj.kind === 'ServiceAccount') sources.serviceAccounts.put(copy as V1ServiceAccount);
        if (obj.kind === 'Service') sources.services.put(assignedService(copy as V1Service));
      });
    },
    createGatewayClass: async (gc) => {
      calls.push({ op: 'create', what: `GatewayClass/${gc.metadata.name}` });
      later(() => sources.gatewayClasses.put({ ...structuredClone(gc), metadata: { ...gc.metadata, generation: 1 } }));
      return true;
    },
    patchGatewayStatus: async (ns, name, status) => {
      calls.push({ op: 'status', what: `Gateway/${ns}/${name}` });
      later(() => {
        const gw = sources.gateways.get(`${ns}/${name}`);
        if (gw) sources.gateways.put({ ...gw, status: structuredClone(status) });
      });
    },
    patchGatewayClassStatus: async (name, status) => {
      calls.push({ op: 'status', what: `GatewayClass/${name}` });
      later(() => {
        const gc = sources.gatewayClasses.get(name);
        if (gc) sources.gatewayClasses.put({ ...gc, status: structuredClone(status) });
      });
    },
  };
  const registry = new Registry();
  const deployer = new WaypointDeployer({ sources, writer, render: RENDER, log: createLogger({ component: 'test', level: 'silent' }), registry, backoff: { initialMs: 5, maxMs: 20 } });
  return { sources, calls, deployer, registry };
}

async function until<T>(what: string, fn: () => T | undefined | false, timeoutMs = 2000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = fn();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** Waits until no write happened for a while (the loop settled). */
async function quiet(calls: Call[], ms = 50): Promise<void> {
  let n = -1;
  while (n !== calls.length) {
    n = calls.length;
    await new Promise((r) => setTimeout(r, ms));
  }
}

function metric(registry: Registry, series: string): number {
  const line = registry.render().split('\n').find((l) => l.startsWith(`${series} `));
  return line ? Number(line.slice(series.length + 1)) : 0;
}

const programmed = (gw: Gateway | undefined) => gw?.status?.conditions?.find((c) => c.type === 'Programmed')?.status === 'True';

describe('WaypointDeployer', () => {
  let deployer: WaypointDeployer | undefined;
  afterEach(() => deployer?.stop());

  it('writes nothing until it leads; then creates the class, deploys the Gateway and settles', async () => {
    const t = setup();
    deployer = t.deployer;
    t.sources.gateways.put(waypointGateway());
    await new Promise((r) => setTimeout(r, 20));
    expect(t.calls).toEqual([]);

    t.deployer.start();
    await quiet(t.calls);
    expect(t.calls).toEqual(
      expect.arrayContaining([
        { op: 'create', what: 'GatewayClass/istio-waypoint' },
        { op: 'status', what: 'GatewayClass/istio-waypoint' },
        { op: 'apply', what: 'ServiceAccount/app/waypoint' },
        { op: 'apply', what: 'Deployment/app/waypoint' },
        { op: 'apply', what: 'Service/app/waypoint' },
        { op: 'status', what: 'Gateway/app/waypoint' },
      ]),
    );
    expect(t.calls.filter((c) => c.op === 'apply')).toHaveLength(3);
    const gw = t.sources.gateways.get('app/waypoint')!;
    expect(gw.status?.conditions?.find((c) => c.type === 'Accepted')?.status).toBe('True');
    expect(programmed(gw)).toBe(false);
    expect(t.sources.gatewayClasses.get('istio-waypoint')?.status?.conditions?.[0]).toMatchObject({ type: 'Accepted', status: 'True', observedGeneration: 1 });

    // A ready waypoint pod: Programmed, with addresses; no further applies.
    const before = t.calls.filter((c) => c.op === 'apply').length;
    t.sources.endpointSlices.put(hboneSlice('app', 'waypoint', [true]));
    await until('Programmed=True', () => programmed(t.sources.gateways.get('app/waypoint')));
    await quiet(t.calls);
    expect(t.sources.gateways.get('app/waypoint')?.status?.addresses).toEqual([
      { type: 'IPAddress', value: '10.96.7.7' },
      { type: 'Hostname', value: 'waypoint.app.svc.cluster.local' },
    ]);
    expect(t.calls.filter((c) => c.op === 'apply')).toHaveLength(before);
    expect(metric(t.registry, 'controller_waypoint_reconciles_total{kind="Gateway",result="error"}')).toBe(0);
    expect(metric(t.registry, 'controller_waypoint_writes_total{kind="Deployment",op="apply"}')).toBe(1);
  });

  it('re-applies an owned object that was deleted, and only that one', async () => {
    const t = setup();
    deployer = t.deployer;
    t.sources.gateways.put(waypointGateway());
    t.deployer.start();
    await quiet(t.calls);
    const n = t.calls.length;
    t.sources.deployments.remove('app/waypoint');
    await until('the Deployment back', () => t.sources.deployments.get('app/waypoint'));
    await quiet(t.calls);
    expect(t.calls.slice(n)).toEqual([{ op: 'apply', what: 'Deployment/app/waypoint' }]);
  });

  it('retries failed writes with backoff and gets there', async () => {
    const t = setup({ failApplies: 2 });
    deployer = t.deployer;
    t.sources.gateways.put(waypointGateway());
    t.deployer.start();
    await until('the Service applied', () => t.sources.services.get('app/waypoint'));
    expect(metric(t.registry, 'controller_waypoint_reconciles_total{kind="Gateway",result="error"}')).toBe(2);
  });

  it('a bad Gateway gets Accepted=False and nothing deployed', async () => {
    const t = setup();
    deployer = t.deployer;
    t.sources.gateways.put(waypointGateway({ name: 'bad', listeners: [{ name: 'mesh', port: 80, protocol: 'HTTP' }] }));
    t.deployer.start();
    await until('the status', () => t.sources.gateways.get('app/bad')?.status);
    await quiet(t.calls);
    expect(t.calls.filter((c) => c.op === 'apply')).toEqual([]);
    expect(t.sources.gateways.get('app/bad')?.status?.conditions?.find((c) => c.type === 'Accepted')).toMatchObject({ status: 'False', reason: 'ListenersNotValid' });
  });

  it('stops writing when it stops leading', async () => {
    const t = setup();
    deployer = t.deployer;
    t.deployer.start();
    await quiet(t.calls);
    t.deployer.stop();
    const n = t.calls.length;
    t.sources.gateways.put(waypointGateway({ name: 'late' }));
    await new Promise((r) => setTimeout(r, 30));
    expect(t.calls.length).toBe(n);
    // Leading again reconciles what happened meanwhile.
    t.deployer.start();
    await until('the late Gateway deployed', () => t.sources.deployments.get('app/late'));
  });

  it('ignores Gateways of other classes', async () => {
    const t = setup();
    deployer = t.deployer;
    t.sources.gateways.put(waypointGateway({ name: 'ingress', className: 'istio' }));
    t.deployer.start();
    await quiet(t.calls);
    expect(t.calls.filter((c) => c.what.includes('ingress'))).toEqual([]);
  });
});
