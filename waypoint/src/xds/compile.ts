// Envoy v3 resources → WaypointConfig, pure. Each resource is decoded and compiled on its own
// (compile-listener/-cluster/-endpoints/-route.ts), so a bad one is refused alone, with
// path-prefixed reasons, while the last good version of it stays in the accepted set; the accepted
// set is then assembled into one immutable WaypointConfig for the data path.
import {
  CLUSTER_TYPE_URL,
  clusterCodec,
  clusterLoadAssignmentCodec,
  ENDPOINT_TYPE_URL,
  LISTENER_TYPE_URL,
  listenerCodec,
  ROUTE_TYPE_URL,
  routeConfigurationCodec,
  unpackAny,
  type Any,
  type MessageCodec,
} from '../../../lib/proto/index.ts';
import type { Cluster, Endpoint, FilterChain, RouteTable, ServiceRef, WaypointConfig } from '../config/types.ts';
import { compileCluster, type CompiledCluster } from './compile-cluster.ts';
import { compileLoadAssignment } from './compile-endpoints.ts';
import { compileListener, type CompiledListener } from './compile-listener.ts';
import { compileRouteConfiguration } from './compile-route.ts';
import type { CompileResult } from './problems.ts';

export { compileCluster, compileListener, compileLoadAssignment, compileRouteConfiguration };
export type { CompiledCluster, CompiledListener, CompileResult };

/** The four Envoy resource kinds, in the order they are applied (clusters before their endpoints, listeners before their routes). */
export const ENVOY_KINDS = ['cluster', 'endpoint', 'listener', 'route'] as const;
export type EnvoyKind = (typeof ENVOY_KINDS)[number];

export const TYPE_URL_OF: Readonly<Record<EnvoyKind, string>> = {
  cluster: CLUSTER_TYPE_URL,
  endpoint: ENDPOINT_TYPE_URL,
  listener: LISTENER_TYPE_URL,
  route: ROUTE_TYPE_URL,
};

/** What each kind compiles to. */
export interface CompiledByKind {
  listener: CompiledListener;
  cluster: CompiledCluster;
  endpoint: Endpoint[];
  route: RouteTable;
}

/** A decoded resource and what it compiled to; `message` is kept for /config_dump. */
export type ResourceCompile<K extends EnvoyKind> =
  | { ok: true; message: unknown; compiled: CompiledByKind[K]; warnings: string[] }
  | { ok: false; errors: string[]; message?: unknown };

function run<M, C>(codec: MessageCodec<M>, any: Any, compile: (m: M) => CompileResult<C>): { ok: true; message: M; compiled: C; warnings: string[] } | { ok: false; errors: string[]; message?: M } {
  const d = unpackAny(codec, any);
  if (!d.ok) return { ok: false, errors: [...d.error.issues] };
  const c = compile(d.value);
  return c.ok ? { ok: true, message: d.value, compiled: c.value, warnings: c.warnings } : { ok: false, errors: c.errors, message: d.value };
}

/** Decodes `any` as the message of `kind` and compiles it; `name` is the xDS resource name. */
export function compileResource<K extends EnvoyKind>(kind: K, name: string, any: Any): ResourceCompile<K> {
  switch (kind) {
    case 'listener':
      return run(listenerCodec, any, (m) => compileListener(name, m)) as ResourceCompile<K>;
    case 'cluster':
      return run(clusterCodec, any, (m) => compileCluster(name, m)) as ResourceCompile<K>;
    case 'endpoint':
      return run(clusterLoadAssignmentCodec, any, (m) => compileLoadAssignment(name, m)) as ResourceCompile<K>;
    case 'route':
      return run(routeConfigurationCodec, any, (m) => compileRouteConfiguration(name, m)) as ResourceCompile<K>;
    default:
      throw new TypeError(`not an Envoy resource kind: ${String(kind)}`);
  }
}

/** The compiled resources in force, by name, per type. */
export interface AcceptedSet {
  listeners: ReadonlyMap<string, CompiledListener>;
  clusters: ReadonlyMap<string, CompiledCluster>;
  loadAssignments: ReadonlyMap<string, readonly Endpoint[]>;
  routes: ReadonlyMap<string, RouteTable>;
}

/**
 * The data path's view of an accepted set. References may dangle while updates of different types
 * arrive (a chain's route configuration, a route's cluster, a cluster's endpoints): the data path
 * answers those as Envoy does before the resource arrives (404 no route, 503 no cluster/healthy
 * upstream).
 */
export function assembleConfig(version: string, set: AcceptedSet): WaypointConfig {
  const clusters = new Map<string, Cluster>();
  for (const c of set.clusters.values()) {
    if (c.kind !== 'eds') continue;
    clusters.set(c.cluster.name, { ...c.cluster, endpoints: [...(set.loadAssignments.get(c.edsServiceName) ?? [])] });
  }
  const main = set.listeners.get('main_internal');
  const chains: FilterChain[] = (main?.kind === 'main_internal' ? main.chains : []).map((ch) => {
    // The chain's service is its cluster's (Istio names them alike); a TCP chain's first target otherwise.
    const cluster = clusters.get(ch.name) ?? (ch.kind === 'tcp' && ch.clusters[0] ? clusters.get(ch.clusters[0].name) : undefined);
    const service: ServiceRef | undefined = cluster?.services[0];
    return service ? { ...ch, service } : ch;
  });
  return { version, chains, routes: new Map(set.routes), clusters };
}
