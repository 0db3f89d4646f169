// The waypoint deployer (istiod's gateway deployment controller for class istio-waypoint): on the
// leader only, keeps the GatewayClass present and accepted and, for every waypoint Gateway, its
// ServiceAccount/Deployment/Service applied and its status current. Informer events queue the
// affected Gateway; each key is reconciled one at a time, failures retried with backoff per key,
// and a periodic resync catches anything an event missed.
import type { V1Deployment, V1EndpointSlice, V1Service, V1ServiceAccount } from '@kubernetes/client-node';
import type { InformerEvent } from '../../../lib/kube/informer.ts';
import type { Logger } from '../../../lib/log/logger.ts';
import type { Registry } from '../../../lib/metrics/registry.ts';
import { Backoff } from '../../../lib/retry/backoff.ts';
import { WAYPOINT_GATEWAY_CLASS, type Gateway, type GatewayClass } from '../model/index.ts';
import { GATEWAY_MANAGED_LABEL, GATEWAY_MANAGED_MESH, GATEWAY_NAME_LABEL, SERVICE_NAME_LABEL } from '../model/labels.ts';
import type { WaypointWriter } from './kube.ts';
import { planGateway } from './plan.ts';
import type { WaypointRenderOptions } from './render.ts';
import { canonical, desiredGatewayClassStatus, sameConditions, waypointGatewayClass } from './status.ts';

/** The part of an Informer the deployer uses (lib/kube/informer.ts fits). */
export interface Source<T> {
  get(key: string): T | undefined;
  list(): T[];
  on(event: InformerEvent, fn: (obj: T, old?: T) => void): unknown;
}

export interface WaypointSources {
  gateways: Source<Gateway>;
  gatewayClasses: Source<GatewayClass>;
  deployments: Source<V1Deployment>;
  services: Source<V1Service>;
  serviceAccounts: Source<V1ServiceAccount>;
  endpointSlices: Source<V1EndpointSlice>;
}

export interface WaypointDeployerOptions {
  sources: WaypointSources;
  writer: WaypointWriter;
  render: WaypointRenderOptions;
  log: Logger;
  registry: Registry;
  backoff?: { initialMs?: number; maxMs?: number };
  /** Every Gateway is reconciled again this often (writes only happen on a difference). */
  resyncMs?: number;
  now?: () => Date;
}

const CLASS_KEY = 'GatewayClass';

/** A status without its transition times: equal hashes, the same statement. */
function statusHash(status: object): string {
  return canonical(JSON.parse(JSON.stringify(status, (k, v: unknown) => (k === 'lastTransitionTime' ? undefined : v))));
}
const gatewayKey = (namespace: string, name: string) => `Gateway/${namespace}/${name}`;

export class WaypointDeployer {
  private readonly o: WaypointDeployerOptions;
  private readonly log: Logger;
  private active = false;
  private running = false;
  private readonly pending = new Set<string>();
  private readonly retries = new Map<string, { backoff: Backoff; timer?: NodeJS.Timeout }>();
  /** What this leader term last applied, by `kind/ns/name`: a changed render is re-applied even where the cluster looks like a superset. */
  private readonly applied = new Map<string, string>();
  /**
   * Writes the caches have not reported back yet (`kind/ns/name` or `status/…` → what we wrote): the
   * informers lag our writes, and without this every event in between would repeat them. Cleared
   * by the next event for that object.
   */
  private readonly inFlight = new Map<string, string>();
  private resync: NodeJS.Timeout | undefined;
  private readonly reconciles;
  private readonly writes;

  constructor(o: WaypointDeployerOptions) {
    this.o = o;
    this.log = o.log.child({ scope: 'waypoint-deployer' });
    this.reconciles = o.registry.counter('controller_waypoint_reconciles_total', 'Waypoint reconciliations by object kind and result', ['kind', 'result']);
    this.writes = o.registry.counter('controller_waypoint_writes_total', 'Writes of the waypoint deployer to the apiserver by object kind and operation', ['kind', 'op']);
    const s = o.sources;
    const all: InformerEvent[] = ['add', 'update', 'delete'];
    for (const e of all) {
      s.gateways.on(e, (gw) => {
        this.inFlight.delete(`status/Gateway/${gw.metadata.namespace ?? ''}/${gw.metadata.name ?? ''}`);
        if (e === 'delete') this.forget(gw.metadata.namespace ?? '', gw.metadata.name ?? '');
        else this.enqueue(gatewayKey(gw.metadata.namespace ?? '', gw.metadata.name ?? ''));
      });
      s.gatewayClasses.on(e, (gc) => {
        if (gc.metadata.name !== WAYPOINT_GATEWAY_CLASS) return;
        this.inFlight.delete('status/GatewayClass');
        this.enqueue(CLASS_KEY);
        // The class decides whether its Gateways are ours.
        this.enqueueAllGateways();
      });
      const owned = (kind: string) => (obj: { metadata?: { name?: string; namespace?: string; labels?: Record<string, string> } }) => {
        const labels = obj.metadata?.labels;
        const gw = labels?.[GATEWAY_NAME_LABEL];
        if (!gw || labels?.[GATEWAY_MANAGED_LABEL] !== GATEWAY_MANAGED_MESH) return;
        this.inFlight.delete(`${kind}/${obj.metadata?.namespace ?? ''}/${obj.metadata?.name ?? ''}`);
        this.enqueue(gatewayKey(obj.metadata?.namespace ?? '', gw));
      };
      s.deployments.on(e, owned('Deployment'));
      s.services.on(e, owned('Service'));
      s.serviceAccounts.on(e, owned('ServiceAccount'));
      // Readiness of the waypoint's endpoints decides Programmed.
      s.endpointSlices.on(e, (slice) => {
        const ns = slice.metadata?.namespace ?? '';
        const svc = slice.metadata?.labels?.[SERVICE_NAME_LABEL];
        if (svc && s.gateways.get(`${ns}/${svc}`)?.spec?.gatewayClassName === WAYPOINT_GATEWAY_CLASS) this.enqueue(gatewayKey(ns, svc));
      });
    }
  }

  get isActive(): boolean {
    return this.active;
  }

  /** Became the leader: reconcile everything, then follow events. */
  start(): void {
    if (this.active) return;
    this.active = true;
    this.log.info('waypoint deployer started (leader)');
    this.enqueue(CLASS_KEY);
    this.enqueueAllGateways();
    const every = this.o.resyncMs ?? 60_000;
    this.resync = setInterval(() => {
      this.enqueue(CLASS_KEY);
      this.enqueueAllGateways();
    }, every);
    this.resync.unref();
  }

  /** Lost leadership (or shutting down): no more writes; the work in flight finishes. */
  stop(): void {
    if (!this.active) return;
    this.active = false;
    this.pending.clear();
    for (const r of this.retries.values()) if (r.timer) clearTimeout(r.timer);
    this.retries.clear();
    this.applied.clear();
    this.inFlight.clear();
    if (this.resync) clearInterval(this.resync);
    this.resync = undefined;
    this.log.info('waypoint deployer stopped');
  }

  private enqueueAllGateways(): void {
    for (const gw of this.o.sources.gateways.list()) {
      if (gw.spec?.gatewayClassName === WAYPOINT_GATEWAY_CLASS) this.enqueue(gatewayKey(gw.metadata.namespace ?? '', gw.metadata.name ?? ''));
    }
  }

  private forget(namespace: string, name: string): void {
    for (const kind of ['ServiceAccount', 'Deployment', 'Service']) {
      this.applied.delete(`${kind}/${namespace}/${name}`);
      this.inFlight.delete(`${kind}/${namespace}/${name}`);
    }
    const key = gatewayKey(namespace, name);
    const r = this.retries.get(key);
    if (r?.timer) clearTimeout(r.timer);
    this.retries.delete(key);
    this.pending.delete(key);
  }

  private enqueue(key: string): void {
    if (!this.active) return;
    // A key waiting for its retry keeps waiting: events do not defeat the backoff.
    if (this.retries.get(key)?.timer) return;
    this.pending.add(key);
    if (!this.running) void this.drain();
  }

  private async drain(): Promise<void> {
    this.running = true;
    try {
      while (this.active && this.pending.size > 0) {
        const key = this.pending.values().next().value as string;
        this.pending.delete(key);
        await this.runOne(key);
      }
    } finally {
      this.running = false;
    }
  }

  private async runOne(key: string): Promise<void> {
    const kind = key === CLASS_KEY ? 'GatewayClass' : 'Gateway';
    try {
      const result = key === CLASS_KEY ? await this.reconcileClass() : await this.reconcileGateway(key);
      this.reconciles.inc({ kind, result });
      this.retries.delete(key);
    } catch (err) {
      this.reconciles.inc({ kind, result: 'error' });
      if (!this.active) return;
      let r = this.retries.get(key);
      if (!r) this.retries.set(key, (r = { backoff: new Backoff(this.o.backoff ?? {}, { initialMs: 500, maxMs: 60_000 }) }));
      const delay = r.backoff.next();
      this.log.warn({ key, err: (err as Error).message ?? String(err), retryMs: delay }, 'waypoint reconcile failed; retrying');
      const entry = r;
      entry.timer = setTimeout(() => {
        entry.timer = undefined;
        this.enqueue(key);
      }, delay);
      entry.timer.unref();
    }
  }

  private async reconcileClass(): Promise<'success'> {
    const now = this.o.now?.() ?? new Date();
    const gc = this.o.sources.gatewayClasses.get(WAYPOINT_GATEWAY_CLASS);
    if (!gc) {
      // Created only when absent; its status follows once the informer sees it.
      const created = await this.o.writer.createGatewayClass(waypointGatewayClass());
      if (created) {
        this.writes.inc({ kind: 'GatewayClass', op: 'create' });
        this.log.info({ gatewayClass: WAYPOINT_GATEWAY_CLASS }, 'created the waypoint GatewayClass');
      }
      return 'success';
    }
    const status = desiredGatewayClassStatus(gc, now);
    if (status && !sameConditions(gc.status?.conditions, status.conditions) && this.inFlight.get('status/GatewayClass') !== statusHash(status)) {
      await this.o.writer.patchGatewayClassStatus(WAYPOINT_GATEWAY_CLASS, status);
      this.inFlight.set('status/GatewayClass', statusHash(status));
      this.writes.inc({ kind: 'GatewayClass', op: 'status' });
      this.log.info({ gatewayClass: WAYPOINT_GATEWAY_CLASS }, 'wrote the GatewayClass status');
    }
    return 'success';
  }

  private async reconcileGateway(key: string): Promise<'success' | 'ignored'> {
    const [, namespace = '', name = ''] = key.split('/');
    const s = this.o.sources;
    const gw = s.gateways.get(`${namespace}/${name}`);
    if (!gw) return 'ignored';
    const objKey = `${namespace}/${name}`;
    const plan = planGateway(
      gw,
      {
        gatewayClass: s.gatewayClasses.get(WAYPOINT_GATEWAY_CLASS),
        serviceAccount: s.serviceAccounts.get(objKey),
        deployment: s.deployments.get(objKey),
        service: s.services.get(objKey),
        endpointSlices: s.endpointSlices.list().filter((e) => e.metadata?.namespace === namespace && e.metadata.labels?.[SERVICE_NAME_LABEL] === name),
      },
      this.o.render,
      this.o.now?.() ?? new Date(),
    );
    if (plan.kind === 'ignore') return 'ignored';
    const gateway = `${namespace}/${name}`;
    if (plan.validation.kind === 'invalid') this.log.debug({ gateway, reason: plan.validation.reason }, 'waypoint Gateway refused; nothing deployed');
    for (const { object, drifted } of plan.objects) {
      const k = `${object.kind}/${namespace}/${name}`;
      const hash = canonical(object);
      if (this.inFlight.get(k) === hash || (!drifted && this.applied.get(k) === hash)) continue;
      await this.o.writer.apply(object);
      this.applied.set(k, hash);
      this.inFlight.set(k, hash);
      this.writes.inc({ kind: object.kind ?? '', op: 'apply' });
      this.log.info({ gateway, kind: object.kind, why: drifted ? 'missing or drifted' : 'rendered anew' }, 'applied waypoint object');
    }
    const statusKey = `status/Gateway/${namespace}/${name}`;
    if (plan.status && this.inFlight.get(statusKey) !== statusHash(plan.status)) {
      await this.o.writer.patchGatewayStatus(namespace, name, plan.status);
      this.inFlight.set(statusKey, statusHash(plan.status));
      this.writes.inc({ kind: 'Gateway', op: 'status' });
      const c = (t: string) => plan.status?.conditions?.find((x) => x.type === t);
      this.log.info({ gateway, accepted: c('Accepted')?.status, programmed: c('Programmed')?.status, reason: c('Programmed')?.reason }, 'wrote waypoint Gateway status');
    }
    return 'success';
  }
}
