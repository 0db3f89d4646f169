// Envoy ClusterLoadAssignment → the endpoints of one EDS cluster (config/types.ts). An endpoint is
// either an internal address of `connect_originate` (HBONE to the pod, endpoint id `<ip>:<port>`)
// or a plain socket address (a pod outside the mesh); `istio.workload` and `istio.identity`
// metadata name who answers, for telemetry and for the HBONE peer check.
import type { ClusterLoadAssignment, LbEndpoint } from '../../../lib/proto/index.ts';
import type { Endpoint, EndpointWorkload } from '../config/types.ts';
import { join, Problems, type CompileResult } from './problems.ts';

const CONNECT_ORIGINATE = 'connect_originate';

/** `<ip>:<port>` or `[<ipv6>]:<port>`. */
function parseHostPort(p: Problems, s: string, path: string): { address: string; port: number } {
  const m = /^\[([^\]]+)\]:(\d+)$/.exec(s) ?? /^([^:]+):(\d+)$/.exec(s);
  if (!m) {
    p.fail(path, `must be <ip>:<port>, got ${JSON.stringify(s)}`);
    return { address: '', port: 0 };
  }
  return { address: p.ip(m[1]!, path), port: p.port(Number(m[2]), path) };
}

function workloadOf(p: Problems, v: unknown, path: string): EndpointWorkload | undefined {
  if (v === undefined) return undefined;
  const parts = typeof v === 'string' ? v.split(';') : [];
  if (parts.length !== 5) {
    p.fail(path, 'must be "<name>;<namespace>;<canonical name>;<canonical revision>;<cluster>"');
    return undefined;
  }
  const [name, namespace, canonicalService, canonicalRevision, cluster] = parts as [string, string, string, string, string];
  return { name, namespace, canonicalService, canonicalRevision, cluster };
}

function compileLbEndpoint(p: Problems, e: LbEndpoint, path: string): Endpoint | undefined {
  const hi = e.hostIdentifier;
  if (hi?.$case !== 'endpoint') {
    p.fail(join(path, hi ? 'endpoint_name' : 'endpoint'), hi ? 'named endpoints are not supported' : 'required');
    return undefined;
  }
  const ap = join(path, 'endpoint.address');
  const a = hi.endpoint.address?.address;
  let target: { address: string; port: number };
  let tunnel: Endpoint['tunnel'];
  if (a?.$case === 'socketAddress') {
    const sa = a.socketAddress;
    if (sa.protocol !== 0) p.fail(join(ap, 'socket_address.protocol'), 'only TCP');
    if (sa.portSpecifier?.$case === 'namedPort') p.fail(join(ap, 'socket_address.named_port'), 'not supported');
    target = { address: p.ip(sa.address, join(ap, 'socket_address.address')), port: p.port(sa.portSpecifier?.$case === 'portValue' ? sa.portSpecifier.portValue : undefined, join(ap, 'socket_address.port_value')) };
    tunnel = 'plaintext';
  } else if (a?.$case === 'envoyInternalAddress') {
    const ia = a.envoyInternalAddress;
    const listener = ia.addressNameSpecifier?.$case === 'serverListenerName' ? ia.addressNameSpecifier.serverListenerName : '';
    if (listener !== CONNECT_ORIGINATE) p.fail(join(ap, 'envoy_internal_address.server_listener_name'), `only ${CONNECT_ORIGINATE} is supported, got ${JSON.stringify(listener)}`);
    target = parseHostPort(p, ia.endpointId, join(ap, 'envoy_internal_address.endpoint_id'));
    tunnel = 'hbone';
  } else {
    p.fail(ap, a ? `${a.$case}: not supported` : 'required');
    return undefined;
  }
  const istio = e.metadata?.filterMetadata['istio'];
  const mp = join(path, 'metadata.filter_metadata.istio');
  const identity: unknown = istio?.['identity'];
  if (identity !== undefined && (typeof identity !== 'string' || !identity.startsWith('spiffe://'))) p.fail(join(mp, 'identity'), 'must be a spiffe:// URI');
  const workload = workloadOf(p, istio?.['workload'], join(mp, 'workload'));
  const weight = e.loadBalancingWeight ?? 1;
  if (!Number.isInteger(weight) || weight < 1) p.fail(join(path, 'load_balancing_weight'), `must be at least 1, got ${weight}`);
  // UNKNOWN (no health checking) and DEGRADED still take traffic in Envoy; the rest do not.
  const hs = e.healthStatus;
  const healthy = hs === 0 || hs === 1 || hs === 5;
  return {
    ...target,
    tunnel,
    ...(typeof identity === 'string' ? { identity } : {}),
    healthy,
    weight,
    ...(workload ? { workload } : {}),
  };
}

/** One ClusterLoadAssignment resource; its name is the EDS service name of a cluster. */
export function compileLoadAssignment(name: string, cla: ClusterLoadAssignment): CompileResult<Endpoint[]> {
  const p = new Problems();
  if (cla.clusterName !== name) p.fail(join(name, 'cluster_name'), `must be the resource name, got ${JSON.stringify(cla.clusterName)}`);
  const out: Endpoint[] = [];
  cla.endpoints.forEach((l, i) => {
    const lp = join(name, `endpoints[${i}]`);
    // Priorities other than 0 are failover tiers Istio uses for locality failover; not implemented.
    if (l.priority !== 0) p.warn(join(lp, 'priority'), 'priorities are not supported; endpoints taken as priority 0');
    if (l.lbConfig) p.fail(join(lp, l.lbConfig.$case === 'ledsClusterLocalityConfig' ? 'leds_cluster_locality_config' : 'load_balancer_endpoints'), 'not supported; use lb_endpoints');
    l.lbEndpoints.forEach((e, j) => {
      const ep = compileLbEndpoint(p, e, join(lp, `lb_endpoints[${j}]`));
      if (ep) out.push(ep);
    });
  });
  if (cla.policy?.dropOverloads.length) p.warn(join(name, 'policy.drop_overloads'), 'not supported; ignored');
  return p.result(out);
}
