// Tracks live proxied connections: counts them in istio_tcp_* metrics, writes one access-log line
// when each ends, and re-checks authorization when policies change (a connection that becomes denied
// is closed, as Istio's ztunnel does). Also the per-connection safety net: a failure no path
// foresaw (a dial that throws, an accept error) costs one connection, a log line and a count.
import type net from 'node:net';
import { logAccess, type AccessLogEntry } from '../../../lib/log/access-log.ts';
import type { Logger } from '../../../lib/log/logger.ts';
import { tcpLabelSet, type ConnectionMetricInput, type ResponseFlag, type TcpMetrics } from '../../../lib/metrics/istio-tcp.ts';
import type { Counter, LabelSet, Registry } from '../../../lib/metrics/registry.ts';

/** Where a proxy error happened: a pod listener or the path behind it. */
export type ProxyErrorScope = 'outbound' | 'inbound' | 'inbound_passthrough' | 'hbone';

/**
 * Why: `handler_threw` (the safety net caught an exception), `dial_failed` (creating the upstream
 * socket threw, e.g. EMFILE or setns), `accept_failed` (the listener could not accept, e.g. EMFILE),
 * `hbone_response_timeout` (the peer took the CONNECT and never answered), `drain_deadline` (an
 * inbound HBONE connection did not finish closing within the grace period and was torn down).
 */
export type ProxyErrorReason = 'handler_threw' | 'dial_failed' | 'accept_failed' | 'hbone_response_timeout' | 'drain_deadline';

/** `ztunnel_proxy_errors_total{scope, reason}`. */
export function registerProxyErrors(r: Registry): Counter {
  return r.counter('ztunnel_proxy_errors_total', 'Connections ztunnel reset or could not take because of a local failure or a peer that never answered, by scope and reason', ['scope', 'reason']);
}
import type { RbacConnection } from '../rbac/authorize.ts';

export interface TrackedConnection {
  id: number;
  direction: 'inbound' | 'outbound';
  metric: ConnectionMetricInput;
  access: Omit<AccessLogEntry, 'bytesSent' | 'bytesRecv' | 'durationMs' | 'error'>;
  /** Set for inbound connections subject to policy, so they can be re-checked. */
  rbac?: { conn: RbacConnection; destinationUid: string };
  startedAt: number;
  bytesSent: number;
  bytesRecv: number;
  close: (reason: string) => void;
  /** `metric` as istio_tcp_* labels, built once at open for every counter of this connection. */
  labels: LabelSet;
}

export class ConnectionManager {
  private nextId = 1;
  private readonly live = new Map<number, TrackedConnection>();
  private readonly metrics: TcpMetrics;
  private readonly log: Logger;

  private readonly errors: Counter | undefined;

  constructor(metrics: TcpMetrics, log: Logger, errors?: Counter) {
    this.metrics = metrics;
    this.log = log;
    this.errors = errors;
  }

  /** Counts and logs (warn) one per-connection failure. */
  error(scope: ProxyErrorScope, reason: ProxyErrorReason, err: unknown, fields: Record<string, unknown> = {}): void {
    this.errors?.inc({ scope, reason });
    const e = err as { message?: string; code?: string } | undefined;
    this.log.warn({ ...fields, scope, reason, err: e?.message ?? String(err), ...(e?.code ? { code: e.code } : {}) }, 'connection failed in ztunnel');
  }

  /**
   * Runs per-connection work. Whatever it throws resets `downstream` (that connection only), and is
   * logged and counted: an exception in a 'connection' listener or a promise callback must never
   * reach the process.
   */
  guard(scope: ProxyErrorScope, downstream: net.Socket | undefined, fn: () => void): void {
    try {
      fn();
    } catch (err) {
      this.error(scope, 'handler_threw', err, downstream ? { src: `${downstream.remoteAddress ?? ''}:${downstream.remotePort ?? 0}` } : {});
      if (downstream && !downstream.destroyed) {
        downstream.on('error', () => undefined);
        downstream.resetAndDestroy();
      }
    }
  }

  open(c: Omit<TrackedConnection, 'id' | 'startedAt' | 'bytesSent' | 'bytesRecv' | 'labels'>): TrackedConnection {
    const t: TrackedConnection = { ...c, id: this.nextId++, startedAt: Date.now(), bytesSent: 0, bytesRecv: 0, labels: tcpLabelSet(c.metric) };
    this.live.set(t.id, t);
    this.metrics.opened.inc(t.labels);
    return t;
  }

  /** Byte counts are added as they flow so /metrics is current for long connections. */
  addBytes(t: TrackedConnection, sent: number, recv: number): void {
    if (sent) this.metrics.sent.inc(t.labels, sent);
    if (recv) this.metrics.received.inc(t.labels, recv);
    t.bytesSent += sent;
    t.bytesRecv += recv;
  }

  finish(t: TrackedConnection, error?: string, flag?: ResponseFlag): void {
    if (!this.live.delete(t.id)) return;
    if (flag && flag !== t.metric.responseFlags) {
      t.metric = { ...t.metric, responseFlags: flag };
      t.labels = tcpLabelSet(t.metric);
    }
    this.metrics.closed.inc(t.labels);
    logAccess(this.log, { ...t.access, bytesSent: t.bytesSent, bytesRecv: t.bytesRecv, durationMs: Date.now() - t.startedAt, ...(error ? { error } : {}) });
  }

  /** For failures before a connection was counted as opened (denied, no upstream): one log line, one close. */
  reject(metric: ConnectionMetricInput, access: TrackedConnection['access'], error: string, flag: ResponseFlag): void {
    const labels = tcpLabelSet({ ...metric, responseFlags: flag });
    this.metrics.opened.inc(labels);
    this.metrics.closed.inc(labels);
    logAccess(this.log, { ...access, bytesSent: 0, bytesRecv: 0, durationMs: 0, error });
  }

  /**
   * A peer that never got a tunnel (garbage on 15008: not TLS, no client certificate, not HTTP/2,
   * not a CONNECT): counted in istio_tcp_connections_failed_total and logged once at warn.
   */
  failed(metric: ConnectionMetricInput, flag: ResponseFlag, fields: { src: string; dst: string; error: string }): void {
    this.metrics.failed.inc(tcpLabelSet({ ...metric, responseFlags: flag }));
    this.log.warn({ ...fields, response_flags: flag }, 'inbound HBONE connection refused');
  }

  /** Closes every live connection that `stillAllowed` now refuses (./policy-recheck.ts decides which need asking). */
  recheck(stillAllowed: (rbac: NonNullable<TrackedConnection['rbac']>) => boolean): number {
    let closed = 0;
    for (const t of [...this.live.values()]) {
      if (t.rbac && !stillAllowed(t.rbac)) {
        t.close('connection closed: no longer allowed by policy');
        closed++;
      }
    }
    return closed;
  }

  /** Connections accepted but still connecting upstream: a drain waits for them too. */
  private pendingCount = 0;

  whilePending<T>(p: Promise<T>): Promise<T> {
    this.pendingCount++;
    const done = () => {
      this.pendingCount--;
    };
    p.then(done, done);
    return p;
  }

  count(): number {
    return this.live.size + this.pendingCount;
  }

  /** Closes everything (drain deadline reached). */
  closeAll(reason: string): void {
    for (const t of [...this.live.values()]) t.close(reason);
  }
}
