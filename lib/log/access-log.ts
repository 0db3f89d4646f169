// The per-connection access log line ("connection complete") with Istio ztunnel's field names, so
// log pipelines written for Istio parse ours.
import type { Logger } from './logger.ts';

export interface AccessLogEntry {
  direction: 'inbound' | 'outbound';
  src: { addr: string; workload?: string; namespace?: string; identity?: string };
  dst: { addr: string; hboneAddr?: string; service?: string; workload?: string; namespace?: string; identity?: string };
  bytesSent: number;
  bytesRecv: number;
  durationMs: number;
  error?: string;
}

/** Pure: the log fields for one connection, with Istio's dotted names and units. */
export function accessLogFields(e: AccessLogEntry): Record<string, string | number> {
  const f: Record<string, string | number> = { 'src.addr': e.src.addr };
  const put = (k: string, v: string | undefined) => {
    if (v !== undefined && v !== '') f[k] = v;
  };
  put('src.workload', e.src.workload);
  put('src.namespace', e.src.namespace);
  put('src.identity', e.src.identity);
  f['dst.addr'] = e.dst.addr;
  put('dst.hbone_addr', e.dst.hboneAddr);
  put('dst.service', e.dst.service);
  put('dst.workload', e.dst.workload);
  put('dst.namespace', e.dst.namespace);
  put('dst.identity', e.dst.identity);
  f.direction = e.direction;
  f.bytes_sent = e.bytesSent;
  f.bytes_recv = e.bytesRecv;
  f.duration = `${Math.round(e.durationMs)}ms`;
  put('error', e.error);
  return f;
}

export function logAccess(log: Logger, e: AccessLogEntry): void {
  const fields = { scope: 'access', ...accessLogFields(e) };
  if (e.error) log.warn(fields, 'connection complete');
  else log.info(fields, 'connection complete');
}
