// The route status writer (istiod's status reporting for GAMMA routes): on the leader only, keeps
// the parents we own in every HTTPRoute's and GRPCRoute's status current. Any event of the routes,
// Services, namespaces or Gateways schedules one coalesced pass; a pass asks status.ts for each
// route's parents and patches only the routes whose status differs. A failed patch is retried by
// the next pass (at the latest the periodic resync).
import type { V1Namespace, V1Service } from '@kubernetes/client-node';
import type { InformerEvent } from '../../../lib/kube/informer.ts';
import type { Logger } from '../../../lib/log/logger.ts';
import type { Registry } from '../../../lib/metrics/registry.ts';
import type { WaypointLookup } from '../model/waypoints.ts';
import type { GRPCRoute, HTTPRoute } from '../waypoint-xds/traffic-types.ts';
import type { RouteStatusPatcher } from './kube.ts';
import { desiredRouteParents, mergeParents, sameParents, type RouteKind } from './status.ts';
import { canonical } from '../waypoint/status.ts';

export interface RouteSource<T> {
  list(): T[];
  on(event: InformerEvent, fn: (obj: T) => void): unknown;
}

export interface RouteStatusSources {
  httpRoutes: RouteSource<HTTPRoute>;
  grpcRoutes: RouteSource<GRPCRoute>;
  services: RouteSource<V1Service>;
  namespaces: RouteSource<V1Namespace>;
  /** Any source whose change can change a binding (Gateways). */
  others?: RouteSource<unknown>[];
  waypoints: () => WaypointLookup;
}

export interface RouteStatusWriterOptions {
  sources: RouteStatusSources;
  patcher: RouteStatusPatcher;
  log: Logger;
  registry: Registry;
  resyncMs?: number;
  debounceMs?: number;
  now?: () => Date;
}

export class RouteStatusWriter {
  readonly #o: RouteStatusWriterOptions;
  readonly #log: Logger;
  #active = false;
  #timer: NodeJS.Timeout | undefined;
  #resync: NodeJS.Timeout | undefined;
  #running: Promise<void> | undefined;
  #again = false;
  /** What we wrote and the informer has not shown yet, by `kind/ns/name`. */
  readonly #inFlight = new Map<string, string>();
  readonly #writes;

  constructor(o: RouteStatusWriterOptions) {
    this.#o = o;
    this.#log = o.log.child({ scope: 'route-status' });
    this.#writes = o.registry.counter('controller_route_status_writes_total', 'Route status patches by route kind and result', ['kind', 'result']);
    const s = o.sources;
    const all: InformerEvent[] = ['add', 'update', 'delete'];
    for (const e of all) {
      s.httpRoutes.on(e, (r) => {
        this.#inFlight.delete(`HTTPRoute/${r.metadata.namespace ?? ''}/${r.metadata.name ?? ''}`);
        this.schedule();
      });
      s.grpcRoutes.on(e, (r) => {
        this.#inFlight.delete(`GRPCRoute/${r.metadata.namespace ?? ''}/${r.metadata.name ?? ''}`);
        this.schedule();
      });
      s.services.on(e, () => this.schedule());
      s.namespaces.on(e, () => this.schedule());
      for (const x of s.others ?? []) x.on(e, () => this.schedule());
    }
  }

  start(): void {
    if (this.#active) return;
    this.#active = true;
    this.schedule();
    this.#resync = setInterval(() => this.schedule(), this.#o.resyncMs ?? 60_000);
    this.#resync.unref();
  }

  stop(): void {
    this.#active = false;
    if (this.#timer) clearTimeout(this.#timer);
    if (this.#resync) clearInterval(this.#resync);
    this.#timer = this.#resync = undefined;
    this.#inFlight.clear();
  }

  schedule(): void {
    if (!this.#active || this.#timer) return;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      void this.#pass();
    }, this.#o.debounceMs ?? 50);
    this.#timer.unref?.();
  }

  /** Resolves when no pass is running (tests). */
  async idle(): Promise<void> {
    while (this.#running || this.#timer) await (this.#running ?? new Promise((r) => setTimeout(r, 5)));
  }

  async #pass(): Promise<void> {
    if (this.#running) {
      this.#again = true;
      return;
    }
    this.#running = this.#run();
    try {
      await this.#running;
    } finally {
      this.#running = undefined;
    }
    if (this.#again) {
      this.#again = false;
      this.schedule();
    }
  }

  async #run(): Promise<void> {
    const s = this.#o.sources;
    const ctx = {
      services: new Map(s.services.list().map((v) => [`${v.metadata?.namespace ?? ''}/${v.metadata?.name ?? ''}`, v])),
      namespaces: new Map(s.namespaces.list().map((n) => [n.metadata?.name ?? '', n])),
      waypoints: s.waypoints(),
      now: this.#o.now?.() ?? new Date(),
    };
    const routes: { kind: RouteKind; route: HTTPRoute | GRPCRoute }[] = [
      ...s.httpRoutes.list().map((route) => ({ kind: 'HTTPRoute' as const, route })),
      ...s.grpcRoutes.list().map((route) => ({ kind: 'GRPCRoute' as const, route })),
    ];
    for (const { kind, route } of routes) {
      if (!this.#active) return;
      const ours = desiredRouteParents(kind, route, ctx);
      const current = route.status?.parents;
      const next = mergeParents(current, ours);
      if (sameParents(current, next)) continue;
      const ns = route.metadata.namespace ?? '';
      const name = route.metadata.name ?? '';
      const key = `${kind}/${ns}/${name}`;
      const hash = canonical(JSON.parse(JSON.stringify(next, (k, v: unknown) => (k === 'lastTransitionTime' ? undefined : v))));
      if (this.#inFlight.get(key) === hash) continue;
      try {
        await this.#o.patcher.patchParents(kind, ns, name, next);
        this.#inFlight.set(key, hash);
        this.#writes.inc({ kind, result: 'success' });
        const accepted = ours.map((p) => p.conditions.find((c) => c.type === 'Accepted')?.status).join(',');
        this.#log.info({ route: `${ns}/${name}`, kind, accepted }, 'wrote route status');
      } catch (err) {
        this.#writes.inc({ kind, result: 'error' });
        this.#log.warn({ route: `${ns}/${name}`, kind, err: (err as Error).message }, 'writing route status failed; retried on the next pass');
      }
    }
  }
}
