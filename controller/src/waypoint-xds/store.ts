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
import type { TrafficDiagnostic } from './diagnostics.ts';

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
  /** What translating traffic objects reported, each distinct one once over all waypoints. */
  diagnostics: TrafficDiagnostic[];
}

interface Built {
  key: WaypointKey;
  resources: ResourceSet;
  diagnostics: TrafficDiagnostic[];
}

export class WaypointXdsStore implements ResourceStore {
  readonly typeUrls: ReadonlySet<string> = new Set(WAYPOINT_TYPE_URLS);
  readonly #input: () => WaypointClusterState;
  readonly #options: ModelOptions;
  readonly #built = new Map<string, Built>();
  readonly #listeners = new Set<(typeUrls: ReadonlySet<string>) => void>();
  readonly #metrics: { resources: Gauge; waypoints: Gauge; diagnostics: Gauge } | undefined;
  #diagnosticLabels = new Set<string>();

  constructor(input: () => WaypointClusterState, options: ModelOptions, registry?: Registry) {
    this.#input = input;
    this.#options = options;
    this.#metrics = registry && {
      resources: registry.gauge('controller_waypoint_xds_resources', 'Resources in the waypoints\' Envoy xDS sets by type, summed over waypoints', ['type_url']),
      waypoints: registry.gauge('controller_waypoint_xds_waypoints', 'Waypoints whose Envoy xDS set the controller keeps (some proxy of theirs connected)', []),
      diagnostics: registry.gauge('controller_traffic_config_problems', 'Problems found translating VirtualServices, DestinationRules and Gateway API routes for waypoints, by object kind, reason and severity', ['kind', 'reason', 'severity']),
    };
  }

  #build(key: WaypointKey, state: WaypointClusterState): Built {
    const r = buildWaypointResources({ ...state, waypoint: key }, this.#options);
    return { key, resources: encodeWaypointResources(r), diagnostics: r.trafficDiagnostics };
  }

  /** Rebuilds every waypoint known so far from the caches now; tells the server which types changed. */
  rebuild(): WaypointRebuildResult {
    const started = performance.now();
    const changed = new Set<string>();
    // No waypoint connected yet: nothing to rebuild, and no need to copy every cache into a snapshot.
    if (this.#built.size > 0) {
      const state = this.#input();
      for (const b of this.#built.values()) {
        const next = this.#build(b.key, state);
        for (const t of this.typeUrls) if (!changed.has(t) && !sameVersions(b.resources.get(t), next.resources.get(t))) changed.add(t);
        b.resources = next.resources;
        b.diagnostics = next.diagnostics;
      }
    }
    if (changed.size) for (const l of this.#listeners) l(changed);
    return { changed, waypoints: this.#built.size, durationMs: performance.now() - started, counts: this.#record(), diagnostics: this.diagnostics() };
  }

  /** The traffic diagnostics of every waypoint built so far, each distinct one once. */
  diagnostics(): TrafficDiagnostic[] {
    const seen = new Map<string, TrafficDiagnostic>();
    for (const b of this.#built.values()) for (const d of b.diagnostics) seen.set(`${d.kind}/${d.namespace}/${d.name}/${d.reason}/${d.message}`, d);
    return [...seen.values()];
  }

  #record(): Record<string, number> {
    const counts: Record<string, number> = {};
    for (const t of this.typeUrls) counts[t] = 0;
    for (const b of this.#built.values()) for (const t of this.typeUrls) counts[t]! += b.resources.get(t)?.size ?? 0;
    if (this.#metrics) {
      for (const [t, n] of Object.entries(counts)) this.#metrics.resources.set({ type_url: t }, n);
      this.#metrics.waypoints.set({}, this.#built.size);
      const byLabels = new Map<string, { kind: string; reason: string; severity: string; n: number }>();
      for (const d of this.diagnostics()) {
        const k = `${d.kind}|${d.reason}|${d.severity}`;
        const e = byLabels.get(k) ?? { kind: d.kind, reason: d.reason, severity: d.severity, n: 0 };
        e.n++;
        byLabels.set(k, e);
      }
      // Label sets that had problems and have none now go back to 0.
      for (const k of this.#diagnosticLabels) if (!byLabels.has(k)) {
        const [kind = '', reason = '', severity = ''] = k.split('|');
        this.#metrics.diagnostics.set({ kind, reason, severity }, 0);
      }
      for (const [k, e] of byLabels) {
        this.#metrics.diagnostics.set({ kind: e.kind, reason: e.reason, severity: e.severity }, e.n);
        this.#diagnosticLabels.add(k);
      }
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
      b = this.#build(key, this.#input());
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
