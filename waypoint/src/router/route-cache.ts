// Envoy's route cache: the route of a stream is resolved once, before the HTTP filters run, from the
// newest config snapshot; filters that need the route (fault, cors) and the router read this one
// result instead of matching again. Selection itself stays the pure matchRoute.
import type { HttpFilterChain, WaypointConfig } from '../config/types.ts';
import { headerValue, type RequestHead } from '../http/headers.ts';
import { matchRoute, type RouteRequest, type RouteSelection } from './route-table.ts';

export interface RouteCache {
  /** The snapshot the route was resolved in; the router looks clusters up in the same one. */
  readonly config: WaypointConfig;
  /** Undefined: no route matched (404 NR), or the chain's RouteConfiguration is missing. */
  readonly selection: RouteSelection | undefined;
}

export function routeRequestOf(h: RequestHead): RouteRequest {
  return { authority: h.authority, path: h.path, method: h.method, scheme: h.scheme, header: (n) => headerValue(h.headers, n) };
}

/** Pure: the route `head` takes on `chain` under `config`. */
export function resolveRoute(config: WaypointConfig, chain: HttpFilterChain, head: RequestHead): RouteCache {
  const table = config.routes.get(chain.routeConfigName);
  return { config, selection: table ? matchRoute(table, routeRequestOf(head)) : undefined };
}
