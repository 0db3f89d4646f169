// The protocol Istio gives a Service port when it builds a waypoint's filter chains (istiod's
// protocol.Parse over appProtocol, else the port name's prefix): which of the HTTP and TCP chains
// the port gets, and whether its HTTP is HTTP/2 end to end. This differs from the workload API's
// AppProtocol (model/services.ts), which has no place for grpc-web, mongo, redis or mysql.
import type { V1ServicePort } from '@kubernetes/client-node';

/**
 * `http`: HTTP only (http, http2, grpc, grpc-web, http_proxy); `tcp`: TCP only (tcp, tls, https,
 * mongo, redis, mysql, well-known TCP ports); `unknown`: both chains, the HTTP one for sniffed
 * HTTP; `udp`: no chain at all (waypoints carry no UDP).
 */
export type PortProtocolKind = 'http' | 'tcp' | 'unknown' | 'udp';

export interface PortProtocol {
  kind: PortProtocolKind;
  /** HTTP/2 downstream and upstream (http2, grpc, grpc-web are carried as h2). */
  http2: boolean;
  /** gRPC (no retries on the default route, as istiod). */
  grpc: boolean;
}

/** Ports Istio never sniffs: SMTP, DNS, MySQL, MongoDB (server-first protocols). */
const WELL_KNOWN_TCP_PORTS = new Set([25, 53, 3306, 27017]);

const HTTP: Record<string, Omit<PortProtocol, 'kind'>> = {
  http: { http2: false, grpc: false },
  http_proxy: { http2: false, grpc: false },
  http2: { http2: true, grpc: false },
  grpc: { http2: true, grpc: true },
  'grpc-web': { http2: true, grpc: false },
};

const TCP = new Set(['tcp', 'tls', 'https', 'mongo', 'redis', 'mysql']);

function parse(name: string): PortProtocol | undefined {
  const n = name.toLowerCase();
  const h = HTTP[n];
  if (h) return { kind: 'http', ...h };
  if (TCP.has(n)) return { kind: 'tcp', http2: false, grpc: false };
  if (n === 'udp') return { kind: 'udp', http2: false, grpc: false };
  return undefined;
}

/** The protocol of one Service port: appProtocol first, then the name's prefix before `-`. */
export function portProtocol(port: V1ServicePort): PortProtocol {
  if (port.protocol === 'UDP' || port.protocol === 'SCTP') return { kind: 'udp', http2: false, grpc: false };
  const app = port.appProtocol;
  if (app !== undefined && app !== '') {
    if (app === 'kubernetes.io/h2c') return { kind: 'http', http2: true, grpc: false };
    if (app === 'kubernetes.io/ws') return { kind: 'http', http2: false, grpc: false };
    if (app === 'kubernetes.io/wss') return { kind: 'tcp', http2: false, grpc: false };
    const p = parse(app);
    if (p) return p;
  }
  const name = port.name ?? '';
  // grpc-web has a dash of its own.
  if (name.toLowerCase() === 'grpc-web' || name.toLowerCase().startsWith('grpc-web-')) return { kind: 'http', ...HTTP['grpc-web']! };
  const dash = name.indexOf('-');
  const p = parse(dash < 0 ? name : name.slice(0, dash));
  if (p) return p;
  return { kind: WELL_KNOWN_TCP_PORTS.has(port.port) ? 'tcp' : 'unknown', http2: false, grpc: false };
}
