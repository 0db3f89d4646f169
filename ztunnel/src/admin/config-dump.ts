// `/config_dump` of ztunnel's admin port in the JSON shape Istio's ztunnel serves, so that the real
// `istioctl ztunnel-config workloads|services|policies|certificates` (and `ambientctl`) read it:
// workloads, services and policies (the flattened proxy state, each list sorted by its key), the
// certificates, and the static config and version.
//
// Istio's vocabulary, not our model's: `workloadIps`, `protocol: HBONE|TCP`, `status: Healthy`,
// waypoints as `{destination: "<network>/<ip>" | "<ns>/<hostname>", hboneMtlsPort}`, VIPs as
// "<network>/<ip>", service ports as a map servicePort → targetPort, endpoints as a map keyed by
// workload uid, policy enums in PascalCase, string matches as `{"Exact": v}`, CIDRs as "ip/len".
// istioctl decodes these with Go's encoding/json: a field of another JSON type fails the whole dump.
import type { CertificateDumpCert, CertificateDumpEntry } from '../../../lib/identity/secret-manager.ts';
import type { ProxyState } from '../state/proxy-state.ts';
import { serviceKey, type CidrMatch, type GatewayAddress, type Policy, type PolicyMatch, type Service, type StringMatch, type Workload } from '../state/types.ts';

export interface ConfigDumpInputs {
  state: ProxyState;
  certificates: () => CertificateDumpEntry[];
  staticConfig: Record<string, unknown>;
  version: string;
}

type Json = Record<string, unknown>;

/** `WORKLOAD_SELECTOR` → `WorkloadSelector`, as the Rust enums serialize. */
function pascal(v: string): string {
  return v.toLowerCase().split('_').map((w) => w.charAt(0).toUpperCase() + w.slice(1)).join('');
}

const byKey = <T>(key: (t: T) => string) => (a: T, b: T): number => {
  const x = key(a);
  const y = key(b);
  return x < y ? -1 : x > y ? 1 : 0;
};

export function gatewayAddressJson(g: GatewayAddress): Json {
  const destination = g.kind === 'address' ? `${g.network}/${g.address}` : `${g.namespace}/${g.hostname}`;
  return { destination, hboneMtlsPort: g.hboneMtlsPort };
}

export function workloadJson(w: Workload): Json {
  return {
    workloadIps: w.addresses,
    ...(w.waypoint ? { waypoint: gatewayAddressJson(w.waypoint) } : {}),
    // The workload API's tunnel protocol NONE is Istio ztunnel's inbound protocol TCP.
    protocol: w.tunnelProtocol === 'HBONE' ? 'HBONE' : 'TCP',
    uid: w.uid,
    name: w.name,
    namespace: w.namespace,
    ...(w.trustDomain ? { trustDomain: w.trustDomain } : {}),
    ...(w.serviceAccount ? { serviceAccount: w.serviceAccount } : {}),
    ...(w.network ? { network: w.network } : {}),
    ...(w.workloadName ? { workloadName: w.workloadName } : {}),
    ...(w.workloadType ? { workloadType: w.workloadType } : {}),
    ...(w.canonicalName ? { canonicalName: w.canonicalName } : {}),
    ...(w.canonicalRevision ? { canonicalRevision: w.canonicalRevision } : {}),
    ...(w.node ? { node: w.node } : {}),
    ...(w.authorizationPolicies.length ? { authorizationPolicies: w.authorizationPolicies } : {}),
    status: pascal(w.status),
    clusterId: w.clusterId,
    // The services it is an endpoint of, by `ns/hostname`; the port mappings are on the endpoints.
    ...(Object.keys(w.services).length ? { services: Object.keys(w.services).sort() } : {}),
    capacity: w.capacity,
  };
}

const LB_MODE: Record<NonNullable<Service['loadBalancing']>['mode'], string> = {
  UNSPECIFIED_MODE: 'Standard', STRICT: 'Strict', FAILOVER: 'Failover', PASSTHROUGH: 'Passthrough',
};

/** Service port → target port for one endpoint: the workload's own mapping (workload xDS `services`). */
function endpointPorts(s: Service, w: Workload): Record<string, number> {
  return { ...w.services[serviceKey(s)] };
}

export function serviceJson(s: Service, endpoints: readonly Workload[]): Json {
  const eps = [...endpoints].sort(byKey((w) => w.uid));
  return {
    name: s.name,
    namespace: s.namespace,
    hostname: s.hostname,
    vips: s.vips.map((v) => `${v.network}/${v.address}`),
    ports: Object.fromEntries(s.ports.map((p) => [String(p.servicePort), p.targetPort])),
    endpoints: Object.fromEntries(eps.map((w) => [w.uid, { workloadUid: w.uid, port: endpointPorts(s, w), status: pascal(w.status) }])),
    subjectAltNames: s.subjectAltNames,
    ...(s.waypoint ? { waypoint: gatewayAddressJson(s.waypoint) } : {}),
    ...(s.loadBalancing ? { loadBalancer: { routingPreferences: [], mode: LB_MODE[s.loadBalancing.mode], healthPolicy: pascal(s.loadBalancing.healthPolicy) } } : {}),
  };
}

function stringMatchJson(m: StringMatch): Json {
  switch (m.kind) {
    case 'exact': return { Exact: m.value };
    case 'prefix': return { Prefix: m.value };
    case 'suffix': return { Suffix: m.value };
    case 'presence': return { Presence: [] };
  }
}

const cidr = (c: CidrMatch): string => `${c.address}/${c.prefixLength}`;

/** One match with only its non-empty conditions, as Istio's ztunnel prints it. */
function matchJson(m: PolicyMatch): Json {
  const out: Json = {};
  const strings = ['namespaces', 'notNamespaces', 'principals', 'notPrincipals'] as const;
  const cidrs = ['sourceIps', 'notSourceIps', 'destinationIps', 'notDestinationIps'] as const;
  const ports = ['destinationPorts', 'notDestinationPorts'] as const;
  for (const k of strings) if (m[k].length) out[k] = m[k].map(stringMatchJson);
  for (const k of cidrs) if (m[k].length) out[k] = m[k].map(cidr);
  for (const k of ports) if (m[k].length) out[k] = m[k];
  return out;
}

export function policyJson(p: Policy): Json {
  return {
    name: p.name,
    namespace: p.namespace,
    scope: pascal(p.scope),
    action: pascal(p.action),
    rules: p.rules.map((rule) => rule.map((clause) => clause.map(matchJson))),
    dryRun: p.dryRun,
  };
}

/** RFC 3339 to the second (`2026-01-10T11:59:00Z`), as Istio's ztunnel prints certificate times. */
const rfc3339 = (iso: string): string => {
  const t = Date.parse(iso);
  return Number.isNaN(t) ? iso : new Date(t).toISOString().replace(/\.\d{3}Z$/, 'Z');
};

/** Serials in decimal: istioctl parses them base 10 and prints them in hex. */
function decimalSerial(hex: string): string {
  try {
    return BigInt(`0x${hex.replace(/^0x/i, '').replace(/:/g, '')}`).toString(10);
  } catch {
    return hex;
  }
}

const certJson = (c: CertificateDumpCert): Json => ({ pem: c.pem, serialNumber: decimalSerial(c.serialNumber), validFrom: rfc3339(c.validFrom), expirationTime: rfc3339(c.expirationTime) });

export function certificatesJson(entries: readonly CertificateDumpEntry[]): Json[] {
  return [...entries].sort(byKey((c) => c.identity)).map((c) => ({
    identity: c.identity,
    state: c.state,
    certChain: c.certChain.map(certJson),
    rootCerts: c.rootCerts.map(certJson),
  }));
}

export function configDump(i: ConfigDumpInputs): Json {
  const { state } = i;
  return {
    workloads: state.workloads().sort(byKey((w) => w.uid)).map(workloadJson),
    services: state.services().sort(byKey((s) => `${s.hostname}\0${s.namespace}`)).map((s) => serviceJson(s, state.serviceEndpoints(serviceKey(s)))),
    policies: state.policies().sort(byKey((p) => `${p.namespace}/${p.name}`)).map(policyJson),
    certificates: certificatesJson(i.certificates()),
    staticConfig: i.staticConfig,
    version: i.version,
  };
}
