// The names istiod gives a waypoint's Envoy resources (fact sheet §2.2–2.3), in one place: the
// controller builds them and docs/waypoint-xds.md documents them for the waypoint.

/** The HBONE listener on 0.0.0.0:15008. */
export const CONNECT_TERMINATE = 'connect_terminate';
/** The internal listener a terminated CONNECT is handed to, and the cluster that reaches it. */
export const MAIN_INTERNAL = 'main_internal';
/** The internal listener / cluster that originates HBONE to an endpoint (`<podIP>:15008`). */
export const CONNECT_ORIGINATE = 'connect_originate';
/** The SDS secret names of the waypoint's own certificate and of the mesh roots, as Istio's agent serves them. */
export const SDS_DEFAULT = 'default';
export const SDS_ROOT_CA = 'ROOTCA';
/** The HBONE port on every waypoint and every pod. */
export const HBONE_PORT = 15008;

export type ChainProtocol = 'http' | 'tcp';

/** `inbound-vip|<port>|<http|tcp>|<host>`: a service port's filter chain, cluster, and (HTTP) route configuration. */
export function inboundVipName(port: number, protocol: ChainProtocol, host: string): string {
  return `inbound-vip|${port}|${protocol}|${host}`;
}

/** `inbound|http|<port>`: the one virtual host of a service port's route configuration. */
export function inboundVirtualHostName(port: number): string {
  return `inbound|http|${port}`;
}

/** `<name>;<namespace>;<canonical name>;<canonical revision>;<cluster>`: endpoint metadata `istio.workload`. */
export function workloadMetadata(w: { workloadName: string; namespace: string; canonicalName: string; canonicalRevision: string; clusterId: string }): string {
  return [w.workloadName, w.namespace, w.canonicalName, w.canonicalRevision, w.clusterId].join(';');
}

/** `spiffe://<trust domain>/ns/<namespace>/sa/<service account>`. */
export function spiffeIdentity(trustDomain: string, namespace: string, serviceAccount: string): string {
  return `spiffe://${trustDomain}/ns/${namespace}/sa/${serviceAccount}`;
}
