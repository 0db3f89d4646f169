// Tracks live proxied connections: counts them in istio_tcp_* metrics, writes one access-log line
// when each ends, and re-checks authorization when policies change (a connection that becomes denied
// is closed, as Istio's ztunnel does).
import { logAccess, type AccessLogEntry } from '../../../lib/log/access-log.ts';
import type { Logger } from '../../../lib/log/logger.ts';
import { tcpLabels, type ConnectionMetricInput, type ResponseFlag, type TcpMetrics } from '../../../lib/metrics/istio-tcp.ts';
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
}

export class ConnectionManager {
  private nextId = 1;
  private readonly live = new Map<number, TrackedConnection>();
  private readonly metrics: TcpMetrics;
  private readonly log: Logger;

  constructor(metrics: TcpMetrics, log: Logger) {
    this.metrics = metrics;
    this.log = log;
  }

  open(c: Omit<TrackedConnection, 'id' | 'startedAt' | 'bytesSent' | 'bytesRecv'>): TrackedConnection {
    const t: TrackedConnection = { ...c, id: this.nextId++, startedAt: Date.now(), bytesSent: 0, bytesRecv: 0 };
    this.live.set(t.id, t);
    this.metrics.opened.inc(tcpLabels(t.metric));
    return t;
  }

  /** Byte counts are added as they flow so /metrics is current for long connections. */
  addBytes(t: TrackedConnection, sent: number, recv: number): void {
    const labels = tcpLabels(t.metric);
    if (sent) this.metrics.sent.inc(labels, sent);
    if (recv) this.metrics.received.inc(labels, recv);
    t.bytesSent += sent;
    t.bytesRecv += recv;
  }

  finish(t: TrackedConnection, error?: string, flag?: ResponseFlag): void {
    if (!this.live.delete(t.id)) return;
    if (flag) t.metric = { ...t.metric, responseFlags: flag };
    this.metrics.closed.inc(tcpLabels(t.metric));
    logAccess(this.log, { ...t.access, bytesSent: t.bytesSent, bytesRecv: t.bytesRecv, durationMs: Date.now() - t.startedAt, ...(error ? { error } : {}) });
  }

  /** For failures before a connection was counted as opened (denied, no upstream): one log line, one close. */
  reject(metric: ConnectionMetricInput, access: TrackedConnection['access'], error: string, flag: ResponseFlag): void {
    const m = { ...metric, responseFlags: flag };
    this.metrics.opened.inc(tcpLabels(m));
    this.metrics.closed.inc(tcpLabels(m));
    logAccess(this.log, { ...access, bytesSent: 0, bytesRecv: 0, durationMs: 0, error });
  }

  /**
   * A peer that never got a tunnel (garbage on 15008: not TLS, no client certificate, not HTTP/2,
   * not a CONNECT): counted in istio_tcp_connections_failed_total and logged once at warn.
   */
  failed(metric: ConnectionMetricInput, flag: ResponseFlag, fields: { src: string; dst: string; error: string }): void {
    this.metrics.failed.inc(tcpLabels({ ...metric, responseFlags: flag }));
    this.log.warn({ ...fields, response_flags: flag }, 'inbound HBONE connection refused');
  }

  /** Closes every live connection that `stillAllowed` now refuses. */
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
