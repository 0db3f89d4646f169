// Route status: the parents we own on HTTPRoute/GRPCRoute (conditions, reasons, messages as istiod
// writes them), other controllers' entries kept, and the writer patching only what differs.
import { describe, expect, it } from 'vitest';
import { createLogger } from '../../../lib/log/logger.ts';
import { Registry } from '../../../lib/metrics/registry.ts';
import { namespace, service } from '../model/test-fixtures.ts';
import type { HTTPRoute, RouteParentStatus } from '../waypoint-xds/traffic-types.ts';
import type { RouteStatusPatcher } from './kube.ts';
import { desiredRouteParents, invalidRegexes, mergeParents, MISSING_WAYPOINT_MESSAGE, ROUTE_CONTROLLER_NAME, sameParents } from './status.ts';
import { RouteStatusWriter } from './writer.ts';

const NOW = new Date('2026-03-01T10:00:00Z');
const parent = { group: '', kind: 'Service', name: 'reviews' };
const route = (spec: HTTPRoute['spec'], status?: HTTPRoute['status']): HTTPRoute => ({ metadata: { name: 'r', namespace: 'bookinfo', generation: 3 }, spec, ...(status ? { status } : {}) });
const reviews = service({ name: 'reviews', namespace: 'bookinfo', ports: [{ name: 'http', port: 9080, targetPort: 9080 }] });
const ctx = (labels: Record<string, string> = { 'istio.io/use-waypoint': 'waypoint' }) => ({
  services: new Map([['bookinfo/reviews', reviews]]),
  namespaces: new Map([['bookinfo', namespace('bookinfo', labels)]]),
  waypoints: (ns: string, name: string) => (ns === 'bookinfo' && name === 'waypoint' ? {} : undefined),
  now: NOW,
});
const conds = (p: RouteParentStatus) => p.conditions.map((c) => [c.type, c.status, c.reason, c.message]);

describe('desiredRouteParents', () => {
  it('a valid route to a Service with a waypoint: Accepted, ResolvedRefs, ResolvedWaypoints', () => {
    const [p] = desiredRouteParents('HTTPRoute', route({ parentRefs: [parent, { name: 'gw' }], rules: [{ backendRefs: [{ name: 'reviews', port: 9080 }] }] }), ctx());
    expect(p!.controllerName).toBe(ROUTE_CONTROLLER_NAME);
    expect(p!.parentRef).toEqual(parent);
    expect(conds(p!)).toEqual([
      ['Accepted', 'True', 'Accepted', 'Route was valid'],
      ['ResolvedRefs', 'True', 'ResolvedRefs', 'All references resolved'],
      ['ResolvedWaypoints', 'True', 'ResolvedWaypoints', 'All waypoints resolved'],
    ]);
    expect(p!.conditions[0]).toMatchObject({ observedGeneration: 3, lastTransitionTime: '2026-03-01T10:00:00Z' });
  });

  it.each<[string, HTTPRoute['spec'], Record<string, string>, string[][]]>([
    ['a missing backend', { parentRefs: [parent], rules: [{ backendRefs: [{ name: 'gone', port: 80 }] }] }, { 'istio.io/use-waypoint': 'waypoint' }, [['ResolvedRefs', 'False', 'BackendNotFound', 'backend(s) not found: Service bookinfo/gone']]],
    ['a backend that is not a Service', { parentRefs: [parent], rules: [{ backendRefs: [{ group: 'x.io', kind: 'Bucket', name: 'b' }] }] }, { 'istio.io/use-waypoint': 'waypoint' }, [['ResolvedRefs', 'False', 'BackendNotFound', 'backend(s) not found: Bucket bookinfo/b']]],
    ['no waypoint for the parent', { parentRefs: [parent], rules: [{ backendRefs: [{ name: 'reviews', port: 9080 }] }] }, {}, [['ResolvedWaypoints', 'False', 'MissingUseWaypointLabel', MISSING_WAYPOINT_MESSAGE]]],
    ['a parent that does not exist', { parentRefs: [{ ...parent, name: 'nope' }], rules: [] }, {}, [['Accepted', 'False', 'NoMatchingParent', 'parent service "bookinfo/nope" not found']]],
    ['a parent port the Service lacks', { parentRefs: [{ ...parent, port: 1 }], rules: [] }, {}, [['Accepted', 'False', 'NoMatchingParent', 'parent service "bookinfo/reviews" has no port 1']]],
    ['an invalid regex', { parentRefs: [parent], rules: [{ matches: [{ path: { type: 'RegularExpression', value: '(?=x)' } }], backendRefs: [{ name: 'reviews' }] }] }, { 'istio.io/use-waypoint': 'waypoint' }, [['Accepted', 'False', 'UnsupportedValue']]],
  ])('%s', (_n, spec, labels, want) => {
    const [p] = desiredRouteParents('HTTPRoute', route(spec), ctx(labels));
    for (const w of want) expect(conds(p!)).toContainEqual(w.length === 4 ? w : expect.arrayContaining(w));
  });

  it('keeps lastTransitionTime while a condition holds; other controllers’ parents are kept', () => {
    const other: RouteParentStatus = { parentRef: { name: 'gw' }, controllerName: 'example.com/gw', conditions: [] };
    const first = desiredRouteParents('HTTPRoute', route({ parentRefs: [parent], rules: [] }), ctx());
    const written = mergeParents([other], first);
    expect(written.map((p) => p.controllerName)).toEqual(['example.com/gw', ROUTE_CONTROLLER_NAME]);
    const later = desiredRouteParents('HTTPRoute', route({ parentRefs: [parent], rules: [] }, { parents: written }), { ...ctx(), now: new Date('2026-03-02T00:00:00Z') });
    expect(later[0]!.conditions[0]!.lastTransitionTime).toBe('2026-03-01T10:00:00Z');
    expect(sameParents(written, mergeParents(written, later))).toBe(true);
  });

  it('GRPCRoute method regexes are checked', () => {
    expect(invalidRegexes('GRPCRoute', { metadata: {}, spec: { rules: [{ matches: [{ method: { type: 'RegularExpression', service: '(?<=a)', method: 'M' } }] }] } })).toHaveLength(1);
  });
});

describe('RouteStatusWriter', () => {
  it('patches routes whose status differs, once, and not when not leading', async () => {
    const routes: HTTPRoute[] = [route({ parentRefs: [parent], rules: [{ backendRefs: [{ name: 'reviews', port: 9080 }] }] })];
    const patches: { name: string; parents: RouteParentStatus[] }[] = [];
    const patcher: RouteStatusPatcher = { patchParents: async (_k, _ns, name, parents) => void patches.push({ name, parents }) };
    const src = <T>(items: T[]) => ({ list: () => items, on: () => undefined });
    const w = new RouteStatusWriter({
      sources: { httpRoutes: src(routes), grpcRoutes: src([]), services: src([reviews]), namespaces: src([namespace('bookinfo', { 'istio.io/use-waypoint': 'waypoint' })]), waypoints: () => ctx().waypoints },
      patcher,
      log: createLogger({ component: 'test', level: 'error' }),
      registry: new Registry(),
      debounceMs: 1,
      now: () => NOW,
    });
    w.schedule();
    await w.idle();
    expect(patches).toEqual([]);
    w.start();
    await w.idle();
    expect(patches.map((p) => p.name)).toEqual(['r']);
    // The informer has not shown our write yet: no second patch.
    w.schedule();
    await w.idle();
    expect(patches).toHaveLength(1);
    w.stop();
  });
});
