// Leader election on a coordination.k8s.io Lease, for the work only one replica may do (writes to
// the apiserver); every replica serves xDS and the CA regardless. The decision is pure (`decide`);
// the loop reads the Lease, asks, and writes with the read resourceVersion, so two replicas racing
// for an expired Lease cannot both win (the loser gets 409 Conflict).
import { CoordinationV1Api, type KubeConfig, type V1Lease } from '@kubernetes/client-node';
import type { Logger } from '../../../lib/log/logger.ts';

export interface LeaseView {
  holder?: string;
  renewTime?: Date;
  durationSeconds?: number;
}

export type LeaseAction = { kind: 'renew' } | { kind: 'acquire' } | { kind: 'wait'; holder: string };

/** Pure: what `me` does about the Lease at `now`. */
export function decide(lease: LeaseView | undefined, me: string, now: Date, defaultDurationSeconds: number): LeaseAction {
  if (!lease || !lease.holder) return { kind: 'acquire' };
  if (lease.holder === me) return { kind: 'renew' };
  const renewed = lease.renewTime?.getTime() ?? 0;
  const expired = renewed + (lease.durationSeconds ?? defaultDurationSeconds) * 1000 < now.getTime();
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
  };

export class LeaderElector {
  private readonly o: LeaderElectorOptions;
  private readonly api: CoordinationV1Api;
  private leading = false;
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;

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
      const action = decide(view(current), this.o.identity, new Date(), duration);
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
