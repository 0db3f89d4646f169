// Pure conversion of workload xDS resources (istio.workload.Address, istio.security.Authorization)
// into ztunnel's model (../state/types.ts). Untrusted input: every problem is reported with its
// field path and the resource is refused (NACKed) whole, as ztunnel does; the fields the model has
// no place for are ignored, as proto3 peers ignore unknown fields.
import { ipFromBytes } from '../../../lib/net/ip-bytes.ts';
import {
  AppProtocol,
  ApplicationTunnelProtocol,
  IPFamilies,
  LoadBalancingScope,
  NetworkMode,
  ServiceVisibility,
  type Address as ProtoAddress,
  type Authorization as ProtoAuthorization,
  type AuthorizationMatch as ProtoMatch,
  type GatewayAddress as ProtoGatewayAddress,
  type IpPrefix as ProtoIpPrefix,
  type NetworkAddress as ProtoNetworkAddress,
  type Service as ProtoService,
  type StringMatch as ProtoStringMatch,
  type Workload as ProtoWorkload,
} from '../../../lib/proto/index.ts';
import type { CidrMatch, GatewayAddress, NetworkAddress, Policy, PolicyMatch, Service, StringMatch, TunnelProtocol, Workload, WorkloadStatus } from '../state/types.ts';

/** `warnings`: input we accepted but could not represent fully (logged by the caller). */
export type ConvertResult<T> = { ok: true; value: T; warnings: string[] } | { ok: false; errors: string[] };

export type ConvertedAddress = { kind: 'workload'; workload: Workload } | { kind: 'service'; service: Service };

/** The HBONE port waypoints and gateways listen on; used when a GatewayAddress leaves it at 0. */
const DEFAULT_HBONE_PORT = 15008;

class Problems {
  readonly errors: string[] = [];
  readonly warnings: string[] = [];

  fail(path: string, msg: string): void {
    this.errors.push(`${path}: ${msg}`);
  }

  warn(path: string, msg: string): void {
    this.warnings.push(`${path}: ${msg}`);
  }

  result<T>(value: T): ConvertResult<T> {
    return this.errors.length ? { ok: false, errors: this.errors } : { ok: true, value, warnings: this.warnings };
  }

  required(v: string, path: string): string {
    if (v === '') this.fail(path, 'required');
    return v;
  }

  ip(bytes: Uint8Array, path: string): string {
    const ip = ipFromBytes(bytes);
    if (ip === undefined) this.fail(path, `an IP address must be 4 or 16 bytes, got ${bytes.length}`);
    return ip ?? '';
  }

  port(n: number, path: string, allowZero: boolean): number {
    if (!Number.isInteger(n) || n > 65535 || n < (allowZero ? 0 : 1)) this.fail(path, `not a port: ${n}`);
    return n;
  }

  /** An enum number the schema defines; `names` maps the ones the model stores to its names. */
  enumOf<N>(n: number, names: Readonly<Record<number, N>>, enumName: string, path: string): N | undefined {
    const v = names[n];
    if (v === undefined) this.fail(path, `unknown ${enumName} value ${n}`);
    return v;
  }

  /** Validates an enum the model does not store (ztunnel refuses unknown values of those too). */
  knownEnum(n: number, values: Readonly<Record<string, number>>, enumName: string, path: string): void {
    if (!Object.values(values).includes(n)) this.fail(path, `unknown ${enumName} value ${n}`);
  }
}

const TUNNEL_PROTOCOLS: Readonly<Record<number, TunnelProtocol>> = { 0: 'NONE', 1: 'HBONE' };
const WORKLOAD_STATUSES: Readonly<Record<number, WorkloadStatus>> = { 0: 'HEALTHY', 1: 'UNHEALTHY' };
const WORKLOAD_TYPES: Readonly<Record<number, string>> = { 0: 'deployment', 1: 'cronjob', 2: 'pod', 3: 'job' };
type LbMode = NonNullable<Service['loadBalancing']>['mode'];
type LbHealth = NonNullable<Service['loadBalancing']>['healthPolicy'];
const LB_MODES: Readonly<Record<number, LbMode>> = { 0: 'UNSPECIFIED_MODE', 1: 'STRICT', 2: 'FAILOVER', 3: 'PASSTHROUGH' };
const LB_HEALTH: Readonly<Record<number, LbHealth>> = { 0: 'ONLY_HEALTHY', 1: 'ALLOW_ALL' };
const POLICY_SCOPES: Readonly<Record<number, Policy['scope']>> = { 0: 'GLOBAL', 1: 'NAMESPACE', 2: 'WORKLOAD_SELECTOR' };
const POLICY_ACTIONS: Readonly<Record<number, Policy['action']>> = { 0: 'ALLOW', 1: 'DENY' };

function gateway(p: Problems, g: ProtoGatewayAddress, path: string): GatewayAddress | undefined {
  // A port of 0 can never be dialed; istiod always writes 15008.
  const hboneMtlsPort = g.hboneMtlsPort === 0 ? DEFAULT_HBONE_PORT : p.port(g.hboneMtlsPort, `${path}.hboneMtlsPort`, false);
  const d = g.destination;
  if (!d) {
    p.fail(`${path}.destination`, 'required (hostname or address)');
    return undefined;
  }
  if (d.$case === 'hostname') {
    return {
      kind: 'hostname',
      namespace: p.required(d.hostname.namespace, `${path}.hostname.namespace`),
      hostname: p.required(d.hostname.hostname, `${path}.hostname.hostname`),
      hboneMtlsPort,
    };
  }
  return { kind: 'address', network: d.address.network, address: p.ip(d.address.address, `${path}.address.address`), hboneMtlsPort };
}

function portMap(p: Problems, ports: ProtoWorkload['services'][string]['ports'], path: string): Record<number, number> {
  const out: Record<number, number> = {};
  ports.forEach((port, i) => {
    p.knownEnum(port.appProtocol, AppProtocol, 'AppProtocol', `${path}[${i}].appProtocol`);
    out[p.port(port.servicePort, `${path}[${i}].servicePort`, false)] = p.port(port.targetPort, `${path}[${i}].targetPort`, true);
  });
  return out;
}

/** `ns/hostname`, as Workload.services keys and Service resource names are written. */
function isNamespacedHostname(key: string): boolean {
  const i = key.indexOf('/');
  return i > 0 && i < key.length - 1;
}

export function convertWorkload(w: ProtoWorkload, path = 'workload'): ConvertResult<Workload> {
  const p = new Problems();
  const uid = p.required(w.uid, `${path}.uid`);
  const tunnelProtocol =
    w.tunnelProtocol === 2
      ? (p.fail(`${path}.tunnelProtocol`, 'LEGACY_ISTIO_MTLS is not supported'), undefined)
      : p.enumOf(w.tunnelProtocol, TUNNEL_PROTOCOLS, 'TunnelProtocol', `${path}.tunnelProtocol`);
  const status = p.enumOf(w.status, WORKLOAD_STATUSES, 'WorkloadStatus', `${path}.status`);
  const workloadType = p.enumOf(w.workloadType, WORKLOAD_TYPES, 'WorkloadType', `${path}.workloadType`);
  p.knownEnum(w.networkMode, NetworkMode, 'NetworkMode', `${path}.networkMode`);
  if (w.applicationTunnel) p.knownEnum(w.applicationTunnel.protocol, ApplicationTunnelProtocol, 'ApplicationTunnel.Protocol', `${path}.applicationTunnel.protocol`);
  const services: Record<string, Record<number, number>> = {};
  for (const [key, list] of Object.entries(w.services)) {
    const kp = `${path}.services[${JSON.stringify(key)}]`;
    if (!isNamespacedHostname(key)) p.fail(kp, 'key must be <namespace>/<hostname>');
    services[key] = portMap(p, list.ports, `${kp}.ports`);
  }
  const waypoint = w.waypoint ? gateway(p, w.waypoint, `${path}.waypoint`) : undefined;
  if (w.networkGateway) gateway(p, w.networkGateway, `${path}.networkGateway`);
  const value: Workload = {
    uid,
    name: w.name,
    namespace: w.namespace,
    addresses: w.addresses.map((a, i) => p.ip(a, `${path}.addresses[${i}]`)),
    network: w.network,
    node: w.node,
    tunnelProtocol: tunnelProtocol ?? 'NONE',
    trustDomain: w.trustDomain || 'cluster.local',
    serviceAccount: w.serviceAccount || 'default',
    canonicalName: w.canonicalName,
    canonicalRevision: w.canonicalRevision,
    workloadName: w.workloadName,
    workloadType: workloadType ?? 'pod',
    clusterId: w.clusterId,
    status: status ?? 'HEALTHY',
    services,
    authorizationPolicies: [...w.authorizationPolicies],
    capacity: w.capacity ?? 1,
    ...(waypoint ? { waypoint } : {}),
  };
  return p.result(value);
}

function vip(p: Problems, a: ProtoNetworkAddress, path: string): NetworkAddress | undefined {
  const address = p.ip(a.address, `${path}.address`);
  if (!address) return undefined;
  const full = a.address.length * 8;
  if (a.length !== undefined && a.length > full) {
    p.fail(`${path}.length`, `prefix length ${a.length} exceeds ${full}`);
    return undefined;
  }
  if (a.length !== undefined && a.length !== full) {
    // The model keys services by single VIPs; a CIDR VIP cannot be looked up that way.
    p.warn(path, `CIDR VIP ${address}/${a.length} is not supported; ignored`);
    return undefined;
  }
  return { network: a.network, address };
}

export function convertService(s: ProtoService, path = 'service'): ConvertResult<Service> {
  const p = new Problems();
  p.required(s.namespace, `${path}.namespace`);
  p.required(s.hostname, `${path}.hostname`);
  if (s.hostname.includes('/')) p.fail(`${path}.hostname`, "must not contain '/'");
  p.knownEnum(s.ipFamilies, IPFamilies, 'IPFamilies', `${path}.ipFamilies`);
  p.knownEnum(s.visibility, ServiceVisibility, 'Service.Visibility', `${path}.visibility`);
  const vips = s.addresses.map((a, i) => vip(p, a, `${path}.addresses[${i}]`)).filter((v): v is NetworkAddress => v !== undefined);
  const ports = s.ports.map((port, i) => {
    p.knownEnum(port.appProtocol, AppProtocol, 'AppProtocol', `${path}.ports[${i}].appProtocol`);
    return { servicePort: p.port(port.servicePort, `${path}.ports[${i}].servicePort`, false), targetPort: p.port(port.targetPort, `${path}.ports[${i}].targetPort`, true) };
  });
  const waypoint = s.waypoint ? gateway(p, s.waypoint, `${path}.waypoint`) : undefined;
  s.weightedWaypoints.forEach((ww, i) => ww.destination && gateway(p, ww.destination, `${path}.weightedWaypoints[${i}].destination`));
  let loadBalancing: Service['loadBalancing'];
  const lb = s.loadBalancing;
  if (lb) {
    lb.routingPreference.forEach((scope, i) => p.knownEnum(scope, LoadBalancingScope, 'LoadBalancing.Scope', `${path}.loadBalancing.routingPreference[${i}]`));
    const mode = p.enumOf(lb.mode, LB_MODES, 'LoadBalancing.Mode', `${path}.loadBalancing.mode`);
    const healthPolicy = p.enumOf(lb.healthPolicy, LB_HEALTH, 'LoadBalancing.HealthPolicy', `${path}.loadBalancing.healthPolicy`);
    if (mode && healthPolicy) loadBalancing = { mode, healthPolicy };
  }
  const value: Service = {
    name: s.name,
    namespace: s.namespace,
    hostname: s.hostname,
    vips,
    ports,
    subjectAltNames: [...s.subjectAltNames],
    ...(waypoint ? { waypoint } : {}),
    ...(loadBalancing ? { loadBalancing } : {}),
  };
  return p.result(value);
}

/** An Address resource: a workload or a service. */
export function convertAddress(a: ProtoAddress): ConvertResult<ConvertedAddress> {
  const t = a.type;
  if (!t) return { ok: false, errors: ['type: required (workload or service)'] };
  if (t.$case === 'workload') {
    const r = convertWorkload(t.workload);
    return r.ok ? { ok: true, value: { kind: 'workload', workload: r.value }, warnings: r.warnings } : r;
  }
  const r = convertService(t.service);
  return r.ok ? { ok: true, value: { kind: 'service', service: r.value }, warnings: r.warnings } : r;
}

function stringMatch(p: Problems, m: ProtoStringMatch, path: string): StringMatch {
  const t = m.matchType;
  if (!t) {
    p.fail(path, 'matchType: required (exact, prefix, suffix or presence)');
    return { kind: 'presence' };
  }
  switch (t.$case) {
    case 'exact':
      return { kind: 'exact', value: t.exact };
    case 'prefix':
      return { kind: 'prefix', value: t.prefix };
    case 'suffix':
      return { kind: 'suffix', value: t.suffix };
    case 'presence':
      return { kind: 'presence' };
  }
}

function cidr(p: Problems, a: ProtoIpPrefix, path: string): CidrMatch {
  const address = p.ip(a.address, `${path}.address`);
  const full = a.address.length * 8;
  if (address && a.length > full) p.fail(`${path}.length`, `prefix length ${a.length} exceeds ${full}`);
  return { address, prefixLength: a.length };
}

/**
 * A service-account match names `<ns>/<sa>` in any trust domain: exactly the principals ending in
 * `/ns/<ns>/sa/<sa>` (a trust domain has no '/'). Expressed as principal suffixes when the match has
 * no principals of its own; both at once would need an AND the model has no place for.
 */
function serviceAccountsAsPrincipals(p: Problems, sas: ProtoMatch['serviceAccounts'], principals: StringMatch[], path: string, principalsField: string): StringMatch[] {
  if (sas.length === 0) return principals;
  if (principals.length > 0) {
    p.fail(path, `cannot be combined with ${principalsField} in one match`);
    return principals;
  }
  return sas.map((sa, i) => {
    p.required(sa.namespace, `${path}[${i}].namespace`);
    p.required(sa.serviceAccount, `${path}[${i}].serviceAccount`);
    return { kind: 'suffix', value: `/ns/${sa.namespace}/sa/${sa.serviceAccount}` };
  });
}

function match(p: Problems, m: ProtoMatch, path: string): PolicyMatch {
  const strings = (ms: ProtoStringMatch[], f: string) => ms.map((s, i) => stringMatch(p, s, `${path}.${f}[${i}]`));
  const cidrs = (as: ProtoIpPrefix[], f: string) => as.map((a, i) => cidr(p, a, `${path}.${f}[${i}]`));
  const ports = (ns: number[], f: string) => ns.map((n, i) => p.port(n, `${path}.${f}[${i}]`, false));
  return {
    namespaces: strings(m.namespaces, 'namespaces'),
    notNamespaces: strings(m.notNamespaces, 'notNamespaces'),
    principals: serviceAccountsAsPrincipals(p, m.serviceAccounts, strings(m.principals, 'principals'), `${path}.serviceAccounts`, 'principals'),
    notPrincipals: serviceAccountsAsPrincipals(p, m.notServiceAccounts, strings(m.notPrincipals, 'notPrincipals'), `${path}.notServiceAccounts`, 'notPrincipals'),
    sourceIps: cidrs(m.sourceIps, 'sourceIps'),
    notSourceIps: cidrs(m.notSourceIps, 'notSourceIps'),
    destinationIps: cidrs(m.destinationIps, 'destinationIps'),
    notDestinationIps: cidrs(m.notDestinationIps, 'notDestinationIps'),
    destinationPorts: ports(m.destinationPorts, 'destinationPorts'),
    notDestinationPorts: ports(m.notDestinationPorts, 'notDestinationPorts'),
  };
}

export function convertAuthorization(a: ProtoAuthorization, path = 'authorization'): ConvertResult<Policy> {
  const p = new Problems();
  const scope = p.enumOf(a.scope, POLICY_SCOPES, 'Scope', `${path}.scope`);
  const action = p.enumOf(a.action, POLICY_ACTIONS, 'Action', `${path}.action`);
  const value: Policy = {
    name: p.required(a.name, `${path}.name`),
    namespace: a.namespace,
    scope: scope ?? 'NAMESPACE',
    action: action ?? 'DENY',
    rules: a.rules.map((rule, i) =>
      rule.clauses.map((clause, j) => clause.matches.map((m, k) => match(p, m, `${path}.rules[${i}].clauses[${j}].matches[${k}]`)))),
    dryRun: a.dryRun,
  };
  return p.result(value);
}
