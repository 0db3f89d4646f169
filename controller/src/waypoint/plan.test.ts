// Reconcile plans for waypoint Gateways: validation, the Gateway status through the waypoint's
// life (reference istio-waypoint.md §1.4), drift detection, and the GatewayClass status.
import type { V1Deployment, V1Service, V1ServiceAccount } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import type { Condition, Gateway, GatewayListener, GatewayStatus } from '../model/index.ts';
import { isSubset, planGateway, type GatewayObserved, type GatewayPlan } from './plan.ts';
import { renderWaypoint } from './render.ts';
import { desiredGatewayClassStatus, LISTENER_MESSAGE, validateWaypointGateway, waypointGatewayClass } from './status.ts';
import { assignedService, hboneSlice, MESH_LISTENER, RENDER, waypointGateway } from './test-fixtures.ts';

const T0 = new Date('2026-03-01T10:00:00.123Z');
const T1 = new Date('2026-03-01T10:05:00Z');
const FQDN = 'waypoint.app.svc.cluster.local';

function reconcile(plan: GatewayPlan) {
  if (plan.kind !== 'reconcile') throw new Error(`ignored: ${plan.why}`);
  return plan;
}
const cond = (s: GatewayStatus | undefined, type: string) => s?.conditions?.find((c) => c.type === type);
const brief = (c: Condition | undefined) => c && [c.status, c.reason, c.message];

/** The cluster after the deployer's applies took effect, with `ready` endpoint conditions. */
function deployed(gw: Gateway, ready: (boolean | undefined)[] = [true]): GatewayObserved {
  const r = renderWaypoint(gw, RENDER);
  return {
    serviceAccount: r.serviceAccount,
    deployment: { ...r.deployment, status: { replicas: 1 } },
    service: assignedService(r.service),
    endpointSlices: [hboneSlice('app', 'waypoint', ready)],
  };
}

describe('validateWaypointGateway', () => {
  it.each<[string, GatewayListener[], string | undefined]>([
    ['the single mesh listener', [MESH_LISTENER], undefined],
    ['another port', [{ name: 'mesh', port: 15009, protocol: 'HBONE' }], 'ListenersNotValid'],
    ['another protocol', [{ name: 'mesh', port: 15008, protocol: 'HTTP' }], 'ListenersNotValid'],
    ['two listeners', [MESH_LISTENER, { name: 'extra', port: 80, protocol: 'HTTP' }], 'ListenersNotValid'],
    ['no listener', [], 'ListenersNotValid'],
  ])('%s → %s', (_n, listeners, reason) => {
    const v = validateWaypointGateway(waypointGateway({ listeners }));
    expect(v.kind === 'invalid' ? v.reason : undefined).toBe(reason);
  });

  it('the name `none` is reserved', () => {
    const v = validateWaypointGateway(waypointGateway({ name: 'none' }));
    expect(v).toMatchObject({ kind: 'invalid', reason: 'Invalid', listenersValid: true });
  });
});

describe('planGateway', () => {
  it('a new Gateway: applies SA, Deployment, Service in that order; Accepted, not Programmed yet', () => {
    const gw = waypointGateway();
    const p = reconcile(planGateway(gw, { endpointSlices: [] }, RENDER, T0));
    expect(p.objects.map((o) => [o.object.kind, o.drifted])).toEqual([['ServiceAccount', true], ['Deployment', true], ['Service', true]]);
    expect(brief(cond(p.status, 'Accepted'))).toEqual(['True', 'Accepted', 'Resource accepted']);
    expect(brief(cond(p.status, 'Programmed'))).toEqual(['False', 'AddressNotUsable', `Failed to assign to any requested addresses: hostname "${FQDN}" not found`]);
    expect(cond(p.status, 'Programmed')).toMatchObject({ observedGeneration: 1, lastTransitionTime: '2026-03-01T10:00:00Z' });
    expect(p.status?.addresses).toBeUndefined();
    expect(p.status?.listeners).toEqual([
      {
        name: 'mesh',
        supportedKinds: [],
        attachedRoutes: 0,
        conditions: [
          { type: 'Accepted', status: 'True', reason: 'Accepted', message: 'No errors found', observedGeneration: 1, lastTransitionTime: '2026-03-01T10:00:00Z' },
          { type: 'Conflicted', status: 'False', reason: 'NoConflicts', message: 'No errors found', observedGeneration: 1, lastTransitionTime: '2026-03-01T10:00:00Z' },
          { type: 'Programmed', status: 'True', reason: 'Programmed', message: 'No errors found', observedGeneration: 1, lastTransitionTime: '2026-03-01T10:00:00Z' },
          { type: 'ResolvedRefs', status: 'True', reason: 'ResolvedRefs', message: 'No errors found', observedGeneration: 1, lastTransitionTime: '2026-03-01T10:00:00Z' },
        ],
      },
    ]);
  });

  it.each<[string, (boolean | undefined)[], boolean]>([
    ['no endpoints', [], false],
    ['only unready endpoints', [false, false], false],
    ['a ready endpoint', [false, true], true],
    ['an endpoint with unknown readiness (counts as ready)', [undefined], true],
  ])('Programmed with %s → %s', (_n, ready, programmed) => {
    const gw = waypointGateway();
    const p = reconcile(planGateway(gw, deployed(gw, ready), RENDER, T0));
    expect(p.objects.every((o) => !o.drifted)).toBe(true);
    if (programmed) {
      expect(brief(cond(p.status, 'Programmed'))).toEqual(['True', 'Programmed', `Resource programmed, assigned to service(s) ${FQDN}:15008`]);
      expect(p.status?.addresses).toEqual([{ type: 'IPAddress', value: '10.96.7.7' }, { type: 'Hostname', value: FQDN }]);
    } else {
      expect(brief(cond(p.status, 'Programmed'))).toEqual(['False', 'AddressNotUsable', `Failed to assign to any requested addresses: no ready instances found for hostname "${FQDN}" port 15008`]);
      expect(p.status?.addresses).toBeUndefined();
    }
  });

  it('a Service without a cluster IP is not usable', () => {
    const gw = waypointGateway();
    const o = deployed(gw);
    o.service = { ...o.service!, spec: { ...o.service!.spec, clusterIP: 'None', clusterIPs: ['None'] } };
    expect(cond(reconcile(planGateway(gw, o, RENDER, T0)).status, 'Programmed')?.message).toContain('has no cluster IP yet');
  });

  it('writes nothing once the status is current; keeps lastTransitionTime while a condition holds', () => {
    const gw = waypointGateway();
    const first = reconcile(planGateway(gw, deployed(gw, [false]), RENDER, T0)).status!;
    const settled = reconcile(planGateway({ ...gw, status: first }, deployed(gw, [false]), RENDER, T1));
    expect(settled.status).toBeUndefined();
    // The pod becomes ready: Programmed flips (new time), Accepted keeps its time.
    const ready = reconcile(planGateway({ ...gw, status: first }, deployed(gw, [true]), RENDER, T1)).status!;
    expect(cond(ready, 'Programmed')?.lastTransitionTime).toBe('2026-03-01T10:05:00Z');
    expect(cond(ready, 'Accepted')?.lastTransitionTime).toBe('2026-03-01T10:00:00Z');
    expect(ready.listeners?.[0]?.conditions[0]?.lastTransitionTime).toBe('2026-03-01T10:00:00Z');
  });

  it('keeps the addresses once reported while the waypoint is not ready (no binding flap)', () => {
    const gw = waypointGateway();
    const programmed = reconcile(planGateway(gw, deployed(gw, [true]), RENDER, T0)).status!;
    const restarting = reconcile(planGateway({ ...gw, status: programmed }, deployed(gw, [false]), RENDER, T1)).status!;
    expect(cond(restarting, 'Programmed')?.status).toBe('False');
    expect(restarting.addresses).toEqual(programmed.addresses);
  });

  it('a new generation updates observedGeneration (a status write)', () => {
    const gw = waypointGateway();
    const status = reconcile(planGateway(gw, deployed(gw), RENDER, T0)).status!;
    const p = reconcile(planGateway({ ...waypointGateway({ generation: 2 }), status }, deployed(gw), RENDER, T1));
    expect(p.status?.conditions?.every((c) => c.observedGeneration === 2)).toBe(true);
    expect(cond(p.status, 'Accepted')?.lastTransitionTime).toBe('2026-03-01T10:00:00Z');
  });

  it('an unsupported listener: Accepted=False, listener UnsupportedProtocol, nothing deployed, no addresses', () => {
    const gw = waypointGateway({ listeners: [{ name: 'mesh', port: 80, protocol: 'HTTP' }], status: { addresses: [{ type: 'IPAddress', value: '10.96.7.7' }] } });
    const p = reconcile(planGateway(gw, deployed(gw), RENDER, T0));
    expect(p.objects).toEqual([]);
    expect(brief(cond(p.status, 'Accepted'))).toEqual(['False', 'ListenersNotValid', LISTENER_MESSAGE]);
    expect(cond(p.status, 'Programmed')?.status).toBe('False');
    expect(p.status?.addresses).toBeUndefined();
    expect(brief(p.status?.listeners?.[0]?.conditions.find((c) => c.type === 'Accepted'))).toEqual(['False', 'UnsupportedProtocol', 'Expected a single listener on port 15008 with protocol "HBONE"']);
  });

  it('a waypoint named `none`: Accepted=False reason Invalid, nothing deployed', () => {
    const p = reconcile(planGateway(waypointGateway({ name: 'none' }), { endpointSlices: [] }, RENDER, T0));
    expect(p.objects).toEqual([]);
    expect(cond(p.status, 'Accepted')).toMatchObject({ status: 'False', reason: 'Invalid' });
    expect(cond(p.status?.listeners?.[0], 'Accepted')?.status).toBe('True');
  });

  it.each<[string, (o: GatewayObserved) => void]>([
    ['the Deployment was deleted', (o) => delete o.deployment],
    ['the Service was deleted', (o) => delete o.service],
    ['the ServiceAccount was deleted', (o) => delete o.serviceAccount],
    ['the image was changed', (o) => (o.deployment!.spec!.template.spec!.containers[0]!.image = 'other')],
    ['an env var was removed', (o) => o.deployment!.spec!.template.spec!.containers[0]!.env!.pop()],
    ['the owner reference was removed', (o) => (o.service!.metadata!.ownerReferences = [])],
    ['a Service port was changed', (o) => (o.service!.spec!.ports![1]!.port = 15009)],
  ])('re-applies when %s', (_n, mutate) => {
    const gw = waypointGateway();
    const o = structuredClone(deployed(gw)) as GatewayObserved;
    mutate(o);
    expect(reconcile(planGateway(gw, o, RENDER, T0)).objects.filter((x) => x.drifted)).toHaveLength(1);
  });

  it('fields the apiserver adds (defaults, status, extra labels) are not drift', () => {
    const gw = waypointGateway();
    const o = structuredClone(deployed(gw)) as GatewayObserved;
    const d = o.deployment as V1Deployment;
    d.metadata!.labels!.extra = 'x';
    d.metadata!.resourceVersion = '42';
    d.spec!.template.spec!.containers[0]!.imagePullPolicy = 'IfNotPresent';
    d.spec!.template.spec!.containers[0]!.readinessProbe!.httpGet!.scheme = 'HTTP';
    (o.serviceAccount as V1ServiceAccount).secrets = [];
    (o.service as V1Service).spec!.internalTrafficPolicy = 'Cluster';
    expect(reconcile(planGateway(gw, o, RENDER, T0)).objects.filter((x) => x.drifted)).toEqual([]);
  });

  it.each<[string, Gateway, GatewayObserved]>([
    ['another class', waypointGateway({ className: 'istio' }), { endpointSlices: [] }],
    ['a Gateway being deleted', { ...waypointGateway(), metadata: { ...waypointGateway().metadata, deletionTimestamp: new Date() } }, { endpointSlices: [] }],
    ['a class owned by another controller', waypointGateway(), { endpointSlices: [], gatewayClass: { metadata: { name: 'istio-waypoint' }, spec: { controllerName: 'example.com/other' } } }],
  ])('ignores %s', (_n, gw, observed) => {
    expect(planGateway(gw, observed, RENDER, T0).kind).toBe('ignore');
  });
});

describe('isSubset', () => {
  it.each<[unknown, unknown, boolean]>([
    [{ a: 1 }, { a: 1, b: 2 }, true],
    [{ a: 1 }, { a: 2 }, false],
    [{ a: [1, 2] }, { a: [1, 2, 3] }, true],
    [{ a: [1, 2] }, { a: [1] }, false],
    [{ a: [{ x: 1 }] }, { a: [{ x: 1, y: 2 }] }, true],
    [{ a: { b: 1 } }, undefined, false],
    [{ a: undefined }, {}, true],
  ])('%j ⊆ %j → %s', (want, have, expected) => {
    expect(isSubset(want, have)).toBe(expected);
  });
});

describe('GatewayClass', () => {
  it('is created with the mesh controller and Istio\'s description', () => {
    expect(waypointGatewayClass()).toEqual({
      apiVersion: 'gateway.networking.k8s.io/v1',
      kind: 'GatewayClass',
      metadata: { name: 'istio-waypoint' },
      spec: { controllerName: 'istio.io/mesh-controller', description: 'The default Istio waypoint GatewayClass' },
    });
  });

  it('gets Accepted=True with observedGeneration; another controller\'s class is left alone', () => {
    const gc = { ...waypointGatewayClass(), metadata: { name: 'istio-waypoint', generation: 3 } };
    expect(desiredGatewayClassStatus(gc, T0)).toEqual({
      conditions: [{ type: 'Accepted', status: 'True', reason: 'Accepted', message: 'Handled by Istio controller', observedGeneration: 3, lastTransitionTime: '2026-03-01T10:00:00Z' }],
    });
    expect(desiredGatewayClassStatus({ ...gc, spec: { controllerName: 'example.com/x' } }, T0)).toBeUndefined();
  });
});
