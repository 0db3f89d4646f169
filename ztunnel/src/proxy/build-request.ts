// Pure outbound decision (fact sheet §1.5): given the state, the source workload and the original
// destination, where does this connection go and how. The socket code only executes the plan.
import type { ProxyState } from '../state/proxy-state.ts';
import { serviceKey, workloadIdentity, type GatewayAddress, type Service, type Workload } from '../state/types.ts';
import { isZtunnelPort } from './ports.ts';

export const HBONE_PORT = 15008;

export type OutboundPlan =
  | {
      kind: 'hbone';
      /** Next hop: the destination pod's (or waypoint's) IP and its HBONE port. */
      connectAddress: { ip: string; port: number };
      /** CONNECT `:authority`: the final target `ip:port`. */
      authority: string;
      /** The server's certificate must carry one of these SPIFFE identities. */
      expectedIdentities: string[];
      destination: Workload;
      service?: Service;
      viaWaypoint: boolean;
    }
  | { kind: 'tcp'; connectAddress: { ip: string; port: number }; destination?: Workload; service?: Service; reason: 'passthrough' | 'no-tunnel' }
  | { kind: 'reject'; reason: string };

export interface Target {
  ip: string;
  port: number;
}

/** Picks among healthy endpoints; round robin per service by default (see RoundRobin). */
export type EndpointPicker = (serviceKey: string, candidates: Workload[]) => Workload | undefined;

export function formatAuthority(ip: string, port: number): string {
  return ip.includes(':') ? `[${ip}]:${port}` : `${ip}:${port}`;
}

function isLoopback(ip: string): boolean {
  return ip.startsWith('127.') || ip === '::1';
}

function resolveGateway(state: ProxyState, gw: GatewayAddress, network: string): Workload | undefined {
  if (gw.kind === 'address') return state.findWorkloadByAddress(gw.network, gw.address);
  // A hostname waypoint resolves through its Service's endpoints.
  const svc = state.findServiceByKey(`${gw.namespace}/${gw.hostname}`);
  if (!svc) return undefined;
  return state.serviceEndpoints(serviceKey(svc)).find((w) => w.status === 'HEALTHY' && w.network === network && w.addresses.length > 0);
}

function waypointPlan(state: ProxyState, gw: GatewayAddress, network: string, target: Target, service?: Service): OutboundPlan {
  const wp = resolveGateway(state, gw, network);
  const ip = wp?.addresses[0];
  if (!wp || !ip) return { kind: 'reject', reason: 'waypoint is not resolvable' };
  return {
    kind: 'hbone',
    connectAddress: { ip, port: gw.hboneMtlsPort || HBONE_PORT },
    authority: formatAuthority(target.ip, target.port),
    expectedIdentities: [workloadIdentity(wp)],
    destination: wp,
    ...(service ? { service } : {}),
    viaWaypoint: true,
  };
}

function targetPort(w: Workload, svc: Service, servicePort: number): number | undefined {
  const own = w.services[serviceKey(svc)]?.[servicePort];
  if (own) return own;
  const p = svc.ports.find((x) => x.servicePort === servicePort);
  return p && p.targetPort ? p.targetPort : undefined;
}

function toWorkload(dst: Workload, ip: string, port: number, service?: Service): OutboundPlan {
  if (dst.tunnelProtocol === 'HBONE') {
    const sans = [workloadIdentity(dst), ...(service?.subjectAltNames ?? []).filter((s) => s.startsWith('spiffe://'))];
    return {
      kind: 'hbone',
      connectAddress: { ip, port: HBONE_PORT },
      authority: formatAuthority(ip, port),
      expectedIdentities: [...new Set(sans)],
      destination: dst,
      ...(service ? { service } : {}),
      viaWaypoint: false,
    };
  }
  return { kind: 'tcp', connectAddress: { ip, port }, destination: dst, ...(service ? { service } : {}), reason: 'no-tunnel' };
}

export function buildRequest(state: ProxyState, source: Workload, target: Target, pick: EndpointPicker): OutboundPlan {
  if (isLoopback(target.ip) && isZtunnelPort(target.port)) return { kind: 'reject', reason: 'self-call to a ztunnel port' };
  const network = source.network;
  const service = state.findServiceByVip(network, target.ip);
  if (service) {
    if (service.waypoint) return waypointPlan(state, service.waypoint, network, target, service);
    if (service.loadBalancing?.mode === 'PASSTHROUGH') {
      return { kind: 'tcp', connectAddress: { ip: target.ip, port: target.port }, service, reason: 'passthrough' };
    }
    const allowAll = service.loadBalancing?.healthPolicy === 'ALLOW_ALL';
    const candidates = state.serviceEndpoints(serviceKey(service)).filter((w) =>
      (allowAll || w.status === 'HEALTHY') && w.network === network && w.addresses.length > 0 && targetPort(w, service, target.port) !== undefined);
    const chosen = pick(serviceKey(service), candidates);
    if (!chosen) return { kind: 'reject', reason: `no healthy upstream for ${service.hostname}:${target.port}` };
    return toWorkload(chosen, chosen.addresses[0]!, targetPort(chosen, service, target.port)!, service);
  }
  const dst = state.findWorkloadByAddress(network, target.ip);
  if (!dst) return { kind: 'tcp', connectAddress: { ip: target.ip, port: target.port }, reason: 'passthrough' };
  // A workload waypoint applies to pod-addressed traffic, unless we are that waypoint.
  if (dst.waypoint) {
    const wp = resolveGateway(state, dst.waypoint, network);
    if (!wp || wp.uid !== source.uid) return waypointPlan(state, dst.waypoint, network, target);
  }
  return toWorkload(dst, target.ip, target.port);
}

/** Round robin per service over the current candidates. */
export class RoundRobin {
  private readonly next = new Map<string, number>();

  readonly pick: EndpointPicker = (key, candidates) => {
    if (!candidates.length) return undefined;
    const sorted = [...candidates].sort((a, b) => (a.uid < b.uid ? -1 : a.uid > b.uid ? 1 : 0));
    const i = (this.next.get(key) ?? 0) % sorted.length;
    this.next.set(key, i + 1);
    return sorted[i];
  };
}
