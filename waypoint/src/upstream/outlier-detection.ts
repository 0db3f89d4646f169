// Outlier detection for one cluster (pure state machine; Envoy's consecutive-error detectors):
// `record` each upstream result per endpoint; `consecutive5xx` 5xx in a row (connect failures,
// timeouts and resets count as 5xx, and as gateway failures) or `consecutiveGatewayFailure`
// 502/503/504 in a row eject the endpoint when enforced and when fewer than maxEjectionPercent of
// the hosts are ejected; `tick` (every `intervalMs`) brings back endpoints whose ejection time,
// baseEjectionTime × times ejected (capped by maxEjectionTime), has passed, and lowers the multiplier
// of hosts that stayed in. Time is passed in, never read.
import type { OutlierDetection } from '../config/types.ts';
import type { Random } from '../router/weighted-pick.ts';

/** What an upstream attempt ended with. Local-origin failures count as 503-like errors (split_external_local_origin_errors off). */
export type UpstreamResult = number | 'connect-failure' | 'timeout' | 'reset';

export type EjectionReason = 'consecutive_5xx' | 'consecutive_gateway_failure';

export type OutlierEvent =
  | { kind: 'ejected'; endpoint: string; reason: EjectionReason; untilMs: number; ejections: number }
  /** The threshold was reached but the host stayed in (max ejection percent, or not enforced). */
  | { kind: 'ejection-skipped'; endpoint: string; reason: EjectionReason; why: 'max-ejection-percent' | 'not-enforced' }
  | { kind: 'unejected'; endpoint: string };

interface HostState {
  consecutive5xx: number;
  consecutiveGateway: number;
  /** Times ejected (Envoy's ejection multiplier). */
  ejections: number;
  ejectedUntilMs?: number;
}

/** A view for stats and /config_dump. */
export interface OutlierHostView {
  endpoint: string;
  ejected: boolean;
  ejections: number;
  consecutive5xx: number;
  consecutiveGatewayFailure: number;
  ejectedUntilMs?: number;
}

function is5xx(r: UpstreamResult): boolean {
  return typeof r !== 'number' || (r >= 500 && r <= 599);
}

function isGatewayFailure(r: UpstreamResult): boolean {
  return typeof r !== 'number' || r === 502 || r === 503 || r === 504;
}

export class OutlierDetector {
  readonly #config: OutlierDetection;
  readonly #random: Random;
  readonly #hosts = new Map<string, HostState>();
  #ejected = 0;

  constructor(config: OutlierDetection, random: Random = Math.random) {
    this.#config = config;
    this.#random = random;
  }

  get config(): OutlierDetection {
    return this.#config;
  }

  #host(key: string): HostState {
    let h = this.#hosts.get(key);
    if (!h) this.#hosts.set(key, (h = { consecutive5xx: 0, consecutiveGateway: 0, ejections: 0 }));
    return h;
  }

  isEjected(endpoint: string): boolean {
    return this.#hosts.get(endpoint)?.ejectedUntilMs !== undefined;
  }

  get ejectedCount(): number {
    return this.#ejected;
  }

  /** The endpoints of the cluster changed: forget hosts that left (their ejection goes with them). */
  setHosts(endpoints: readonly string[]): void {
    const keep = new Set(endpoints);
    for (const [k, h] of this.#hosts) {
      if (keep.has(k)) continue;
      if (h.ejectedUntilMs !== undefined) this.#ejected--;
      this.#hosts.delete(k);
    }
  }

  /** One result of `endpoint`, a host of a cluster of `totalHosts`; an ejection is returned as an event. */
  record(endpoint: string, result: UpstreamResult, totalHosts: number, nowMs: number): OutlierEvent | undefined {
    const h = this.#host(endpoint);
    // An ejected host gets no traffic; a late result of a request sent before does not count.
    if (h.ejectedUntilMs !== undefined) return undefined;
    const c = this.#config;
    h.consecutive5xx = is5xx(result) ? h.consecutive5xx + 1 : 0;
    h.consecutiveGateway = isGatewayFailure(result) ? h.consecutiveGateway + 1 : 0;
    // Gateway failures first: they are the more specific detector (Envoy checks it before 5xx).
    if (c.consecutiveGatewayFailure > 0 && h.consecutiveGateway >= c.consecutiveGatewayFailure) {
      const e = this.#tryEject(endpoint, h, 'consecutive_gateway_failure', c.enforcingConsecutiveGatewayFailurePercent, totalHosts, nowMs);
      if (e.kind === 'ejected' || c.consecutive5xx === 0 || h.consecutive5xx < c.consecutive5xx) return e;
    }
    if (c.consecutive5xx > 0 && h.consecutive5xx >= c.consecutive5xx) return this.#tryEject(endpoint, h, 'consecutive_5xx', c.enforcingConsecutive5xxPercent, totalHosts, nowMs);
    return undefined;
  }

  #tryEject(endpoint: string, h: HostState, reason: EjectionReason, enforcingPercent: number, totalHosts: number, nowMs: number): OutlierEvent {
    // The counter restarts whatever happens: the next threshold needs a fresh run of errors.
    if (reason === 'consecutive_5xx') h.consecutive5xx = 0;
    else h.consecutiveGateway = 0;
    if (enforcingPercent <= 0 || (enforcingPercent < 100 && this.#random() * 100 >= enforcingPercent)) return { kind: 'ejection-skipped', endpoint, reason, why: 'not-enforced' };
    // Below the cap the first ejection always happens ("at least one host regardless").
    const total = Math.max(1, totalHosts);
    if ((100 * this.#ejected) / total >= this.#config.maxEjectionPercent) return { kind: 'ejection-skipped', endpoint, reason, why: 'max-ejection-percent' };
    h.ejections++;
    const c = this.#config;
    const duration = Math.min(c.baseEjectionTimeMs * h.ejections, Math.max(c.maxEjectionTimeMs, c.baseEjectionTimeMs));
    h.ejectedUntilMs = nowMs + duration;
    h.consecutive5xx = 0;
    h.consecutiveGateway = 0;
    this.#ejected++;
    return { kind: 'ejected', endpoint, reason, untilMs: h.ejectedUntilMs, ejections: h.ejections };
  }

  /** The interval timer: un-eject hosts whose time has come; hosts that stayed in lower their multiplier. */
  tick(nowMs: number): OutlierEvent[] {
    const out: OutlierEvent[] = [];
    for (const [endpoint, h] of this.#hosts) {
      if (h.ejectedUntilMs !== undefined) {
        if (nowMs >= h.ejectedUntilMs) {
          delete h.ejectedUntilMs;
          this.#ejected--;
          out.push({ kind: 'unejected', endpoint });
        }
      } else if (h.ejections > 0) h.ejections--;
    }
    return out;
  }

  view(): OutlierHostView[] {
    return [...this.#hosts].map(([endpoint, h]) => ({
      endpoint,
      ejected: h.ejectedUntilMs !== undefined,
      ejections: h.ejections,
      consecutive5xx: h.consecutive5xx,
      consecutiveGatewayFailure: h.consecutiveGateway,
      ...(h.ejectedUntilMs !== undefined ? { ejectedUntilMs: h.ejectedUntilMs } : {}),
    }));
  }
}
