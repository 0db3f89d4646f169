// Leader election on a coordination.k8s.io Lease, for the work only one replica may do (writes to
// the apiserver); every replica serves xDS and the CA regardless. The decision is pure (`decide`);
// the loop reads the Lease, asks, and writes with the read resourceVersion, so two replicas racing
// for an expired Lease cannot both win (the loser gets 409 Conflict). Another replica's lease
// expires by our own monotonic clock, counted from when we last saw its record change, never by
// comparing its renewTime (written with its clock) with ours: clock skew cannot make two leaders.
import { performance } from 'node:perf_hooks';
import { CoordinationV1Api, type KubeConfig, type V1Lease } from '@kubernetes/client-node';
import type { Logger } from '../../../lib/log/logger.ts';

export interface LeaseView {
  holder?: string;
  /** As written by the holder, with its clock: only compared for change, never with our clock. */
  renewTime?: Date;
  durationSeconds?: number;
  /** Changes at each takeover. */
  transitions?: number;
}

export type LeaseAction = { kind: 'renew' } | { kind: 'acquire' } | { kind: 'wait'; holder: string };

/** When we last saw the Lease record change, on our monotonic clock (ms). */
export interface LeaseObservation {
  record: string;
  atMs: number;
}

const recordOf = (l: LeaseView | undefined): string => JSON.stringify([l?.holder ?? '', l?.renewTime?.getTime() ?? '', l?.durationSeconds ?? 0, l?.transitions ?? 0]);

/** Pure: the observation after reading `lease` at monotonic `nowMs` (a changed record restarts the clock). */
export function observe(prev: LeaseObservation | undefined, lease: LeaseView | undefined, nowMs: number): LeaseObservation {
  const record = recordOf(lease);
  return prev && prev.record === record ? prev : { record, atMs: nowMs };
}

/** Pure: what `me` does about the Lease, `observedAtMs` and `nowMs` both on our monotonic clock. */
export function decide(lease: LeaseView | undefined, me: string, observedAtMs: number, nowMs: number, defaultDurationSeconds: number): LeaseAction {
  if (!lease || !lease.holder) return { kind: 'acquire' };
  if (lease.holder === me) return { kind: 'renew' };
  const expired = observedAtMs + (lease.durationSeconds ?? defaultDurationSeconds) * 1000 < nowMs;
  return expired ? { kind: 'acquire' } : { kind: 'wait', holder: lease.holder };
}

export interface LeaderElectorOptions {
  kubeconfig: KubeConfig;
  namespace: string;
  name: string;
  identity: string;
  log: Logger;
  leaseDurationSeconds?: number;
  retryPeriodMs?: number;
  onStartedLeading(): void;
  onStoppedLeading(): void;
}

/**
 * Lease times are MicroTime: the apiserver wants exactly six fractional digits, and the client's
 * serializer passes strings through untouched (a Date would go out with three and be refused).
 */
function microTime(d = new Date()): Date {
  return d.toISOString().replace(/\.(\d{3})Z$/, '.$1000Z') as unknown as Date;
}

const view = (l: V1Lease | undefined): LeaseView | undefined =>
  l && {
    ...(l.spec?.holderIdentity ? { holder: l.spec.holderIdentity } : {}),
    ...(l.spec?.renewTime ? { renewTime: new Date(l.spec.renewTime) } : {}),
    ...(l.spec?.leaseDurationSeconds ? { durationSeconds: l.spec.leaseDurationSeconds } : {}),
    ...(l.spec?.leaseTransitions !== undefined ? { transitions: l.spec.leaseTransitions } : {}),
  };

export class LeaderElector {
  private readonly o: LeaderElectorOptions;
  private readonly api: CoordinationV1Api;
  private leading = false;
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  private observed: LeaseObservation | undefined;

  constructor(o: LeaderElectorOptions) {
    this.o = o;
    this.api = o.kubeconfig.makeApiClient(CoordinationV1Api);
  }

  get isLeader(): boolean {
    return this.leading;
  }

  start(): void {
    this.stopped = false;
    void this.tick();
  }

  private schedule(): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => void this.tick(), this.o.retryPeriodMs ?? 2000);
  }

  private setLeading(v: boolean): void {
    if (v === this.leading) return;
    this.leading = v;
    this.o.log.info({ lease: `${this.o.namespace}/${this.o.name}`, identity: this.o.identity }, v ? 'became the leader' : 'stopped leading');
    if (v) this.o.onStartedLeading();
    else this.o.onStoppedLeading();
  }

  private async tick(): Promise<void> {
    const duration = this.o.leaseDurationSeconds ?? 15;
    try {
      let current: V1Lease | undefined;
      try {
        current = await this.api.readNamespacedLease({ namespace: this.o.namespace, name: this.o.name });
      } catch (err) {
        if ((err as { code?: number }).code !== 404) throw err;
      }
      const seen = view(current);
      const now = performance.now();
      this.observed = observe(this.observed, seen, now);
      const action = decide(seen, this.o.identity, this.observed.atMs, now, duration);
      const spec = { holderIdentity: this.o.identity, leaseDurationSeconds: duration, renewTime: microTime() };
      if (action.kind === 'wait') {
        this.setLeading(false);
      } else if (!current) {
        await this.api.createNamespacedLease({ namespace: this.o.namespace, body: { metadata: { name: this.o.name, namespace: this.o.namespace }, spec: { ...spec, acquireTime: microTime() } } });
        this.setLeading(true);
      } else {
        const body: V1Lease = { ...current, spec: { ...current.spec, ...spec, ...(action.kind === 'acquire' ? { acquireTime: microTime(), leaseTransitions: (current.spec?.leaseTransitions ?? 0) + 1 } : {}) } };
        await this.api.replaceNamespacedLease({ namespace: this.o.namespace, name: this.o.name, body });
        this.setLeading(true);
      }
    } catch (err) {
      // A conflict means another replica wrote first; anything else: we cannot prove leadership.
      const code = (err as { code?: number }).code;
      if (code !== 409) this.o.log.warn({ err: (err as Error).message }, 'lease update failed');
      this.setLeading(false);
    }
    this.schedule();
  }

  /** Stops renewing; the Lease expires and another replica takes over. */
  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.setLeading(false);
  }
}
