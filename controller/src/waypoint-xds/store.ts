// The controller's store of waypoint Envoy xDS: per waypoint (identified from the stream's node),
// the resources buildWaypointResources makes from the informer caches. A waypoint's set is built
// the first time one of its proxies asks and rebuilt (coalesced by the caller) on every cluster
// change; only types whose versions changed for some waypoint are announced to the delta server.
// Sets are kept for every waypoint that ever connected (a handful per namespace), never evicted.
import type { Gauge, Registry } from '../../../lib/metrics/registry.ts';
import type { ResourceStore, XdsProxy, XdsSnapshot } from '../../../lib/xds/index.ts';
import type { ModelOptions } from '../model/options.ts';
import type { ResourceSet } from '../model/resources.ts';
import { waypointKeyString, waypointOfProxy, type WaypointKey } from './bindings.ts';
import { buildWaypointResources, encodeWaypointResources, WAYPOINT_TYPE_URLS, type WaypointClusterState } from './build.ts';

const EMPTY: XdsSnapshot = new Map();

function sameVersions(a: ReadonlyMap<string, { version: string }> | undefined, b: ReadonlyMap<string, { version: string }> | undefined): boolean {
  if ((a?.size ?? 0) !== (b?.size ?? 0)) return false;
  for (const [name, e] of a ?? []) if (b?.get(name)?.version !== e.version) return false;
  return true;
}

export interface WaypointRebuildResult {
  changed: Set<string>;
  waypoints: number;
  durationMs: number;
  /** type URL → resources summed over the waypoints. */
  counts: Record<string, number>;
}

interface Built {
  key: WaypointKey;
  resources: ResourceSet;
}

export class WaypointXdsStore implements ResourceStore {
  readonly typeUrls: ReadonlySet<string> = new Set(WAYPOINT_TYPE_URLS);
  readonly #input: () => WaypointClusterState;
  readonly #options: ModelOptions;
  readonly #built = new Map<string, Built>();
  readonly #listeners = new Set<(typeUrls: ReadonlySet<string>) => void>();
  readonly #metrics: { resources: Gauge; waypoints: Gauge } | undefined;

  constructor(input: () => WaypointClusterState, options: ModelOptions, registry?: Registry) {
    this.#input = input;
    this.#options = options;
    this.#metrics = registry && {
      resources: registry.gauge('controller_waypoint_xds_resources', 'Resources in the waypoints\' Envoy xDS sets by type, summed over waypoints', ['type_url']),
      waypoints: registry.gauge('controller_waypoint_xds_waypoints', 'Waypoints whose Envoy xDS set the controller keeps (some proxy of theirs connected)', []),
    };
  }

  #build(key: WaypointKey, state: WaypointClusterState): ResourceSet {
    return encodeWaypointResources(buildWaypointResources({ ...state, waypoint: key }, this.#options));
  }

  /** Rebuilds every waypoint known so far from the caches now; tells the server which types changed. */
  rebuild(): WaypointRebuildResult {
    const started = performance.now();
    const state = this.#input();
    const changed = new Set<string>();
    for (const b of this.#built.values()) {
      const next = this.#build(b.key, state);
      for (const t of this.typeUrls) if (!changed.has(t) && !sameVersions(b.resources.get(t), next.get(t))) changed.add(t);
      b.resources = next;
    }
    if (changed.size) for (const l of this.#listeners) l(changed);
    return { changed, waypoints: this.#built.size, durationMs: performance.now() - started, counts: this.#record() };
  }

  #record(): Record<string, number> {
    const counts: Record<string, number> = {};
    for (const t of this.typeUrls) counts[t] = 0;
    for (const b of this.#built.values()) for (const t of this.typeUrls) counts[t]! += b.resources.get(t)?.size ?? 0;
    if (this.#metrics) {
      for (const [t, n] of Object.entries(counts)) this.#metrics.resources.set({ type_url: t }, n);
      this.#metrics.waypoints.set({}, this.#built.size);
    }
    return counts;
  }

  /** The resources of the waypoint `proxy` is; nothing for a proxy that is not a waypoint. */
  snapshot(typeUrl: string, proxy: XdsProxy): XdsSnapshot {
    const key = waypointOfProxy({ id: proxy.node.id, metadata: proxy.metadata });
    if (!key) return EMPTY;
    return this.resourcesOf(key).get(typeUrl) ?? EMPTY;
  }

  /** A waypoint's resources, built now if no proxy of it asked before. */
  resourcesOf(key: WaypointKey): ResourceSet {
    const id = waypointKeyString(key);
    let b = this.#built.get(id);
    if (!b) {
      b = { key, resources: this.#build(key, this.#input()) };
      this.#built.set(id, b);
      this.#record();
    }
    return b.resources;
  }

  onChange(listener: (typeUrls: ReadonlySet<string>) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }
}
