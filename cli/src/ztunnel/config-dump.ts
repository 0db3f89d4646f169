// ztunnel's admin `/config_dump` → what `istioctl ztunnel-config` prints. Reads Istio's ztunnel shape
// (`workloadIps`, `protocol: HBONE|TCP`, "net/ip" VIPs, PascalCase enums, maps keyed by address or uid,
// decimal serials), which our ztunnel serves too (ztunnel/src/admin/config-dump.ts), and the older
// ambient-mesh dialect (`addresses`, `tunnelProtocol: HBONE|NONE`, VIPs as {network, address},
// UPPER_CASE enums, endpoint uid lists, hex serials). Shows Istio's vocabulary.
import { stringify } from 'yaml';
import { CliError } from '../args.ts';
import { table, WAYPOINT_TABLE, ZTUNNEL_TABLE } from '../table.ts';

type Json = Record<string, unknown>;

export interface WorkloadView {
  uid: string;
  name: string;
  namespace: string;
  addresses: string[];
  hostname: string;
  node: string;
  /** `HBONE` or `TCP`. */
  protocol: string;
  /** `Healthy` / `Unhealthy`. */
  status: string;
  /** `ns/hostname` or `network/ip`. */
  waypoint?: string;
  raw: Json;
}

export interface ServiceView {
  name: string;
  namespace: string;
  hostname: string;
  /** `network/ip`. */
  vips: string[];
  waypoint?: string;
  endpointUids: string[];
  raw: Json;
}

export interface PolicyView {
  name: string;
  namespace: string;
  action: string;
  scope: string;
  raw: Json;
}

export interface CertView {
  pem: string;
  serialNumber: string;
  validFrom: string;
  expirationTime: string;
}

export interface CertificateView {
  identity: string;
  state: string;
  chain: CertView[];
  /** undefined when the dump has no `rootCerts` (ours; Istio's legacy format). */
  roots?: CertView[];
  raw: Json;
}

export interface ConfigDumpView {
  dialect: 'ambient-mesh' | 'istio';
  workloads: WorkloadView[];
  services: ServiceView[];
  policies: PolicyView[];
  certificates: CertificateView[];
  raw: Json;
}

const str = (v: unknown): string => (typeof v === 'string' ? v : typeof v === 'number' ? String(v) : '');
const obj = (v: unknown): Json => (v && typeof v === 'object' && !Array.isArray(v) ? (v as Json) : {});
/** Istio's ztunnel dumps some collections as maps keyed by address; istioctl takes the values. */
const listOrMap = (v: unknown): Json[] => (Array.isArray(v) ? v : v && typeof v === 'object' ? Object.values(v) : []).map(obj);

/** `WORKLOAD_SELECTOR` → `WorkloadSelector`; PascalCase passes through. */
export function pascal(v: string): string {
  if (!/^[A-Z0-9_]+$/.test(v)) return v;
  return v.toLowerCase().split('_').map((w) => w.charAt(0).toUpperCase() + w.slice(1)).join('');
}

function gatewayDestination(v: unknown): string | undefined {
  if (!v || typeof v !== 'object') return undefined;
  const g = v as Json;
  if (typeof g.destination === 'string') return g.destination;
  if (g.kind === 'hostname' || typeof g.hostname === 'string') return `${str(g.namespace)}/${str(g.hostname)}`;
  if (g.kind === 'address' || typeof g.address === 'string') return `${str(g.network)}/${str(g.address)}`;
  return undefined;
}

function netAddr(v: unknown): string {
  if (typeof v === 'string') return v.includes('/') ? v : `/${v}`;
  const a = obj(v);
  return `${str(a.network)}/${str(a.address)}`;
}

function certs(v: unknown): CertView[] {
  return listOrMap(v).map((c) => ({ pem: str(c.pem), serialNumber: str(c.serialNumber), validFrom: str(c.validFrom), expirationTime: str(c.expirationTime) }));
}

/** Parses the dump text; malformed JSON is a user-facing error, as istioctl's Prime. */
export function parseConfigDump(text: string): ConfigDumpView {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw new CliError(`error unmarshalling config dump response from ztunnel: ${(err as Error).message}`);
  }
  return normalizeConfigDump(obj(raw));
}

export function normalizeConfigDump(raw: Json): ConfigDumpView {
  const wl = listOrMap(raw.workloads);
  const sv = listOrMap(raw.services);
  const ours = wl.some((w) => 'tunnelProtocol' in w || 'addresses' in w) || sv.some((s) => Array.isArray(s.vips) && s.vips.some((x) => typeof x === 'object'));
  const workloads = wl.map((w): WorkloadView => {
    const protocol = str(w.protocol) || str(w.tunnelProtocol);
    const waypoint = gatewayDestination(w.waypoint);
    return {
      uid: str(w.uid),
      name: str(w.name),
      namespace: str(w.namespace),
      addresses: (Array.isArray(w.workloadIps) ? w.workloadIps : Array.isArray(w.addresses) ? w.addresses : []).map(str),
      hostname: str(w.hostname),
      node: str(w.node),
      // Istio's ztunnel names the no-tunnel protocol TCP; the workload API calls it NONE.
      protocol: protocol === 'NONE' ? 'TCP' : protocol,
      status: pascal(str(w.status)),
      ...(waypoint ? { waypoint } : {}),
      raw: w,
    };
  });
  const services = sv.map((s): ServiceView => {
    const waypoint = gatewayDestination(s.waypoint);
    const eps = s.endpoints;
    const endpointUids = Array.isArray(eps)
      ? eps.map((e) => (typeof e === 'string' ? e : str(obj(e).workloadUid)))
      : Object.values(obj(eps)).map((e) => str(obj(e).workloadUid));
    return {
      name: str(s.name),
      namespace: str(s.namespace),
      hostname: str(s.hostname),
      vips: (Array.isArray(s.vips) ? s.vips : []).map(netAddr),
      ...(waypoint ? { waypoint } : {}),
      endpointUids,
      raw: s,
    };
  });
  const policies = listOrMap(raw.policies).map((p): PolicyView => ({
    name: str(p.name), namespace: str(p.namespace), action: pascal(str(p.action)), scope: pascal(str(p.scope)), raw: p,
  }));
  const certificates = listOrMap(raw.certificates).map((c): CertificateView => ({
    identity: str(c.identity),
    state: str(c.state),
    chain: certs(c.certChain),
    ...(c.rootCerts !== undefined ? { roots: certs(c.rootCerts) } : {}),
    raw: c,
  }));
  return { dialect: ours ? 'ambient-mesh' : 'istio', workloads, services, policies, certificates, raw };
}

const cmp = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);
const eqFold = (a: string, b: string): boolean => a.toLowerCase() === b.toLowerCase();

export interface WorkloadFilter {
  namespace?: string | undefined;
  address?: string | undefined;
  node?: string | undefined;
}

export function filterWorkloads(d: ConfigDumpView, f: WorkloadFilter): WorkloadView[] {
  return d.workloads.filter((w) =>
    (!f.namespace || eqFold(w.namespace, f.namespace))
    && (!f.address || w.addresses.some((a) => eqFold(a, f.address!)))
    && (!f.node || eqFold(w.node, f.node)));
}

/** The waypoint column: the Service the waypoint address names, `None` without one, `NA` if unknown. */
function waypointName(dest: string | undefined, services: readonly ServiceView[]): string {
  if (!dest) return 'None';
  for (const s of services) {
    if (`${s.namespace}/${s.hostname}` === dest || s.vips.includes(dest)) return s.name;
  }
  return 'NA';
}

export function workloadRows(d: ConfigDumpView, f: WorkloadFilter): string[][] {
  const ws = filterWorkloads(d, f).sort((a, b) => cmp(`${a.namespace}.${a.name}`, `${b.namespace}.${b.name}`) || cmp(a.node, b.node));
  return [
    ['NAMESPACE', 'POD NAME', 'ADDRESS', 'NODE', 'WAYPOINT', 'PROTOCOL'],
    ...ws.map((w) => [w.namespace, w.name, w.addresses.join(',') || w.hostname, w.node, waypointName(w.waypoint, d.services), w.protocol]),
  ];
}

export function filterServices(d: ConfigDumpView, namespace?: string): ServiceView[] {
  return d.services.filter((s) => !namespace || eqFold(s.namespace, namespace))
    .sort((a, b) => cmp(a.namespace, b.namespace) || cmp(a.name, b.name) || cmp(a.hostname, b.hostname));
}

export function serviceRows(d: ConfigDumpView, namespace?: string): string[][] {
  const byUid = new Map(d.workloads.map((w) => [w.uid, w]));
  return [
    ['NAMESPACE', 'SERVICE NAME', 'SERVICE VIP', 'WAYPOINT', 'ENDPOINTS'],
    ...filterServices(d, namespace).map((s) => {
      const healthy = s.endpointUids.filter((uid) => byUid.get(uid)?.status === 'Healthy').length;
      const vips = s.vips.map((v) => v.slice(v.indexOf('/') + 1));
      return [s.namespace, s.name, vips.join(','), waypointName(s.waypoint, d.services), `${healthy}/${s.endpointUids.length}`];
    }),
  ];
}

export function filterPolicies(d: ConfigDumpView, namespace?: string): PolicyView[] {
  return d.policies.filter((p) => !namespace || eqFold(p.namespace, namespace)).sort((a, b) => cmp(a.namespace, b.namespace) || cmp(a.name, b.name));
}

export function policyRows(d: ConfigDumpView, namespace?: string): string[][] {
  return [['NAMESPACE', 'POLICY NAME', 'ACTION', 'SCOPE'], ...filterPolicies(d, namespace).map((p) => [p.namespace, p.name, p.action, p.scope])];
}

/** istioctl prints serials as lowercase hex without leading zeros; Istio's dump has them in decimal. */
export function serialHex(serial: string, dialect: ConfigDumpView['dialect']): string {
  const s = serial.trim();
  try {
    if (/^[0-9]+$/.test(s) && dialect === 'istio') return BigInt(s).toString(16);
    if (/^(0x)?[0-9a-fA-F]+$/.test(s)) return BigInt(s.startsWith('0x') ? s : `0x${s}`).toString(16);
  } catch {
    // fall through
  }
  return s || 'NA';
}

function certValid(c: CertView, now: Date): boolean {
  if (!c.expirationTime && !c.validFrom) return false;
  const from = Date.parse(c.validFrom);
  const to = Date.parse(c.expirationTime);
  if (Number.isNaN(from) || Number.isNaN(to)) return false;
  return now.getTime() > from && now.getTime() < to;
}

export function certificateRows(d: ConfigDumpView, now: Date): string[][] {
  const na = (v: string) => v || 'NA';
  const rows: string[][] = [['CERTIFICATE NAME', 'TYPE', 'STATUS', 'VALID CERT', 'SERIAL NUMBER', 'NOT AFTER', 'NOT BEFORE']];
  for (const c of d.certificates) {
    const state = c.state.includes('Unavailable') ? 'Unavailable' : c.state;
    if (c.chain.length === 0) {
      rows.push([c.identity, 'NA', state, 'false', 'NA', 'NA', 'NA']);
      continue;
    }
    const row = (type: string, x: CertView) => [c.identity, type, state, String(certValid(x, now)), serialHex(x.serialNumber, d.dialect), na(x.expirationTime), na(x.validFrom)];
    // Istio's legacy format put the root last in the chain; ours never includes roots in the chain.
    const legacyRootLast = c.roots === undefined && d.dialect === 'istio';
    c.chain.forEach((x, i) => rows.push(row(i === 0 ? 'Leaf' : i === c.chain.length - 1 && legacyRootLast ? 'Root' : 'Intermediate', x)));
    for (const r of c.roots ?? []) rows.push(row('Root', r));
  }
  return rows;
}

export type ZtunnelKind = 'workloads' | 'services' | 'policies' | 'certificates' | 'all';
export type OutputFormat = 'short' | 'json' | 'yaml';

export interface RenderOptions {
  kind: ZtunnelKind;
  output: OutputFormat;
  workloads?: WorkloadFilter;
  serviceNamespace?: string | undefined;
  policyNamespace?: string | undefined;
  now: Date;
  /** The dump as received, for `all -o json|yaml`. */
  rawText?: string;
}

/** istioctl's json.MarshalIndent(…, "", "    "), or the same as YAML. */
function dumpOut(value: unknown, output: 'json' | 'yaml'): string {
  if (output === 'yaml') return stringify(value, { sortMapEntries: true, indentSeq: false, lineWidth: 0 }) + '\n';
  return JSON.stringify(value, null, 4) + '\n';
}

export function renderConfigDump(d: ConfigDumpView, o: RenderOptions): string {
  if (o.output !== 'short' && o.output !== 'json' && o.output !== 'yaml') throw new CliError(`output format "${o.output as string}" not supported`);
  if (o.output !== 'short') {
    switch (o.kind) {
      case 'workloads': return dumpOut(filterWorkloads(d, o.workloads ?? {}).map((w) => w.raw), o.output);
      case 'services': return dumpOut(filterServices(d, o.serviceNamespace).map((s) => s.raw), o.output);
      case 'policies': return dumpOut(filterPolicies(d, o.policyNamespace).map((p) => p.raw), o.output);
      case 'certificates': return dumpOut(d.certificates.map((c) => c.raw), o.output);
      case 'all': return o.output === 'json' && o.rawText !== undefined ? `${o.rawText.replace(/\n$/, '')}\n` : dumpOut(d.raw, o.output);
    }
  }
  switch (o.kind) {
    case 'workloads': return table(workloadRows(d, o.workloads ?? {}), ZTUNNEL_TABLE);
    case 'services': return table(serviceRows(d, o.serviceNamespace), ZTUNNEL_TABLE);
    case 'policies': return table(policyRows(d, o.policyNamespace), ZTUNNEL_TABLE);
    case 'certificates': return table(certificateRows(d, o.now), WAYPOINT_TABLE);
    case 'all':
      // istioctl's full summary: each table after a blank line (no connections table: our dump has no workload state).
      return ['', table(workloadRows(d, {}), ZTUNNEL_TABLE), table(serviceRows(d), ZTUNNEL_TABLE), table(policyRows(d), ZTUNNEL_TABLE), table(certificateRows(d, o.now), WAYPOINT_TABLE)].join('\n');
  }
}
