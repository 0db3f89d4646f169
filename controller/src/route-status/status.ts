// Pure: the `status.parents[]` entries the mesh controller owns on an HTTPRoute or GRPCRoute (GAMMA,
// fact sheet §1.4): one per parentRef to a Service, with controllerName istio.io/gateway-controller
// and the conditions Accepted ("Route was valid"), ResolvedRefs ("All references resolved" or
// BackendNotFound) and ResolvedWaypoints (the parent Service uses a waypoint, or
// MissingUseWaypointLabel). Entries of other controllers are kept as they are.
import type { V1Namespace, V1Service } from '@kubernetes/client-node';
import { canonical, conditionTime } from '../waypoint/status.ts';
import { waypointForService, type WaypointLookup } from '../model/waypoints.ts';
import { missingBackends, serviceParents } from '../waypoint-xds/gateway-api.ts';
import { re2Error } from '../waypoint-xds/http-routes.ts';
import type { GRPCRoute, GRPCRouteRule, HTTPRoute, HTTPRouteRule, ParentReference, RouteParentStatus } from '../waypoint-xds/traffic-types.ts';

/** The controllerName istiod writes on route parents (not the GatewayClass's mesh-controller). */
export const ROUTE_CONTROLLER_NAME = 'istio.io/gateway-controller';
export const MISSING_WAYPOINT_MESSAGE = 'istio.io/use-waypoint label missing from parent and parent namespace; in ambient mode, route will not be respected';

export type RouteKind = 'HTTPRoute' | 'GRPCRoute';
type Condition = RouteParentStatus['conditions'][number];

export interface RouteStatusContext {
  /** `namespace/name` → Service. */
  services: ReadonlyMap<string, V1Service>;
  namespaces: ReadonlyMap<string, V1Namespace>;
  waypoints: WaypointLookup;
  now: Date;
}

/** Regexes RE2 (Envoy's engine) refuses, with where they are: the route is not valid as written. */
export function invalidRegexes(kind: RouteKind, route: HTTPRoute | GRPCRoute): string[] {
  const out: string[] = [];
  const check = (pattern: string | undefined, field: string) => {
    if (pattern === undefined) return;
    const err = re2Error(pattern);
    if (err !== undefined) out.push(`${field}: invalid RE2 regex ${JSON.stringify(pattern)}: ${err}`);
  };
  (route.spec?.rules ?? []).forEach((rule, i) => {
    const r = rule as HTTPRouteRule & GRPCRouteRule;
    (r.matches ?? []).forEach((m, j) => {
      const f = `spec.rules[${i}].matches[${j}]`;
      if (kind === 'HTTPRoute') {
        const hm = m as NonNullable<HTTPRouteRule['matches']>[number];
        if (hm.path?.type === 'RegularExpression') check(hm.path.value, `${f}.path.value`);
        for (const q of hm.queryParams ?? []) if (q.type === 'RegularExpression') check(q.value, `${f}.queryParams[${q.name}]`);
      } else {
        const gm = m as NonNullable<GRPCRouteRule['matches']>[number];
        if (gm.method?.type === 'RegularExpression') {
          check(gm.method.service, `${f}.method.service`);
          check(gm.method.method, `${f}.method.method`);
        }
      }
      for (const h of m.headers ?? []) if (h.type === 'RegularExpression') check(h.value, `${f}.headers[${h.name}]`);
    });
  });
  return out;
}

function sameRef(a: ParentReference, b: ParentReference, ns: string): boolean {
  return (a.group ?? 'gateway.networking.k8s.io') === (b.group ?? 'gateway.networking.k8s.io') && (a.kind ?? 'Gateway') === (b.kind ?? 'Gateway') && a.name === b.name && (a.namespace ?? ns) === (b.namespace ?? ns) && a.port === b.port && a.sectionName === b.sectionName;
}

/** The parent entries we own, lastTransitionTime kept from `route.status` while a condition's status holds. */
export function desiredRouteParents(kind: RouteKind, route: HTTPRoute | GRPCRoute, ctx: RouteStatusContext): RouteParentStatus[] {
  const ns = route.metadata.namespace ?? '';
  const generation = route.metadata.generation;
  const missing = missingBackends(route, ctx.services);
  const invalid = invalidRegexes(kind, route);
  return serviceParents(route).map((ref) => {
    const pns = ref.namespace ?? ns;
    const svc = ctx.services.get(`${pns}/${ref.name}`);
    const specs: Omit<Condition, 'lastTransitionTime' | 'observedGeneration'>[] = [];
    if (!svc) specs.push({ type: 'Accepted', status: 'False', reason: 'NoMatchingParent', message: `parent service "${pns}/${ref.name}" not found` });
    else if (ref.port !== undefined && !(svc.spec?.ports ?? []).some((p) => p.port === ref.port)) specs.push({ type: 'Accepted', status: 'False', reason: 'NoMatchingParent', message: `parent service "${pns}/${ref.name}" has no port ${ref.port}` });
    else if (invalid.length) specs.push({ type: 'Accepted', status: 'False', reason: 'UnsupportedValue', message: invalid.join('; ') });
    else specs.push({ type: 'Accepted', status: 'True', reason: 'Accepted', message: 'Route was valid' });
    specs.push(
      missing.length
        ? { type: 'ResolvedRefs', status: 'False', reason: 'BackendNotFound', message: `backend(s) not found: ${missing.join(', ')}` }
        : { type: 'ResolvedRefs', status: 'True', reason: 'ResolvedRefs', message: 'All references resolved' },
    );
    const bound = svc ? waypointForService(svc.metadata ?? {}, ctx.namespaces.get(pns), ctx.waypoints) : undefined;
    specs.push(bound ? { type: 'ResolvedWaypoints', status: 'True', reason: 'ResolvedWaypoints', message: 'All waypoints resolved' } : { type: 'ResolvedWaypoints', status: 'False', reason: 'MissingUseWaypointLabel', message: MISSING_WAYPOINT_MESSAGE });
    const previous = route.status?.parents?.find((p) => p.controllerName === ROUTE_CONTROLLER_NAME && sameRef(p.parentRef, ref, ns))?.conditions;
    const conditions: Condition[] = specs.map((c) => {
      const old = previous?.find((p) => p.type === c.type);
      return { ...c, ...(generation === undefined ? {} : { observedGeneration: generation }), lastTransitionTime: old && old.status === c.status && old.lastTransitionTime ? old.lastTransitionTime : conditionTime(ctx.now) };
    });
    return { parentRef: ref, controllerName: ROUTE_CONTROLLER_NAME, conditions };
  });
}

/** The whole `status.parents` to write: other controllers' entries, then ours. */
export function mergeParents(existing: readonly RouteParentStatus[] | undefined, ours: readonly RouteParentStatus[]): RouteParentStatus[] {
  return [...(existing ?? []).filter((p) => p.controllerName !== ROUTE_CONTROLLER_NAME), ...ours];
}

/** Equal but for transition times: nothing to write. */
export function sameParents(a: readonly RouteParentStatus[] | undefined, b: readonly RouteParentStatus[] | undefined): boolean {
  const strip = (l: readonly RouteParentStatus[] | undefined) => canonical(JSON.parse(JSON.stringify(l ?? [], (k, v: unknown) => (k === 'lastTransitionTime' ? undefined : v))));
  return strip(a) === strip(b);
}
