// Standalone mode (like Istio's LOCAL_XDS_PATH): workloads, services and policies from a YAML file,
// validated with path-prefixed errors. A bad file is rejected whole; the last good state stays.
import { isIP } from 'node:net';
import { parse as parseYaml } from 'yaml';
import type { CidrMatch, GatewayAddress, Policy, PolicyMatch, Service, StringMatch, Workload } from '../state/types.ts';

export interface LocalConfig {
  workloads: Workload[];
  services: Service[];
  policies: Policy[];
}

export type ParseResult<T> = { ok: true; value: T } | { ok: false, errors: string[] };

type Obj = Record<string, unknown>;

class Checker {
  readonly errors: string[] = [];

  fail(path: string, msg: string): undefined {
    this.errors.push(`${path}: ${msg}`);
    return undefined;
  }

  obj(v: unknown, path: string): Obj | undefined {
    if (v && typeof v === 'object' && !Array.isArray(v)) return v as Obj;
    return this.fail(path, 'must be a mapping');
  }

  str(o: Obj, k: string, path: string, def?: string): string {
    const v = o[k];
    if (v === undefined && def !== undefined) return def;
    if (typeof v === 'string' && (v !== '' || def !== undefined)) return v;
    this.fail(`${path}.${k}`, 'must be a non-empty string');
    return '';
  }

  list(o: Obj, k: string, path: string): unknown[] {
    const v = o[k];
    if (v === undefined) return [];
    if (Array.isArray(v)) return v;
    this.fail(`${path}.${k}`, 'must be a list');
    return [];
  }

  ip(v: unknown, path: string): string {
    if (typeof v === 'string' && isIP(v)) return v;
    this.fail(path, `not an IP address: ${JSON.stringify(v)}`);
    return '';
  }

  port(v: unknown, path: string): number {
    const n = typeof v === 'string' ? Number(v) : v;
    if (typeof n === 'number' && Number.isInteger(n) && n >= 0 && n <= 65535) return n;
    this.fail(path, `not a port: ${JSON.stringify(v)}`);
    return 0;
  }

  oneOf<T extends string>(v: unknown, allowed: readonly T[], def: T, path: string): T {
    if (v === undefined) return def;
    if (typeof v === 'string' && (allowed as readonly string[]).includes(v)) return v as T;
    this.fail(path, `must be one of ${allowed.join(', ')}`);
    return def;
  }
}

function portMap(c: Checker, v: unknown, path: string): Record<number, number> {
  const o = c.obj(v ?? {}, path) ?? {};
  const out: Record<number, number> = {};
  for (const [k, t] of Object.entries(o)) out[c.port(k, `${path}.${k}`)] = c.port(t, `${path}.${k}`);
  return out;
}

function gateway(c: Checker, v: unknown, path: string): GatewayAddress | undefined {
  if (v === undefined) return undefined;
  const o = c.obj(v, path);
  if (!o) return undefined;
  const port = o.hboneMtlsPort === undefined ? 15008 : c.port(o.hboneMtlsPort, `${path}.hboneMtlsPort`);
  if (typeof o.address === 'string') return { kind: 'address', network: typeof o.network === 'string' ? o.network : '', address: c.ip(o.address, `${path}.address`), hboneMtlsPort: port };
  if (typeof o.hostname === 'string') return { kind: 'hostname', namespace: c.str(o, 'namespace', path), hostname: o.hostname, hboneMtlsPort: port };
  return c.fail(path, 'needs address or hostname');
}

function workload(c: Checker, v: unknown, path: string): Workload | undefined {
  const o = c.obj(v, path);
  if (!o) return undefined;
  const name = c.str(o, 'name', path);
  const namespace = c.str(o, 'namespace', path, 'default');
  const services: Record<string, Record<number, number>> = {};
  const svcObj = c.obj(o.services ?? {}, `${path}.services`) ?? {};
  for (const [k, pm] of Object.entries(svcObj)) services[k] = portMap(c, pm, `${path}.services.${k}`);
  const wp = gateway(c, o.waypoint, `${path}.waypoint`);
  return {
    uid: c.str(o, 'uid', path, `Kubernetes//Pod/${namespace}/${name}`),
    name,
    namespace,
    addresses: c.list(o, 'addresses', path).map((a, i) => c.ip(a, `${path}.addresses[${i}]`)),
    network: c.str(o, 'network', path, ''),
    node: c.str(o, 'node', path, ''),
    tunnelProtocol: c.oneOf(o.tunnelProtocol, ['NONE', 'HBONE'] as const, 'HBONE', `${path}.tunnelProtocol`),
    trustDomain: c.str(o, 'trustDomain', path, 'cluster.local'),
    serviceAccount: c.str(o, 'serviceAccount', path, 'default'),
    canonicalName: c.str(o, 'canonicalName', path, name),
    canonicalRevision: c.str(o, 'canonicalRevision', path, 'latest'),
    workloadName: c.str(o, 'workloadName', path, name),
    workloadType: c.str(o, 'workloadType', path, 'pod'),
    clusterId: c.str(o, 'clusterId', path, 'Kubernetes'),
    status: c.oneOf(o.status, ['HEALTHY', 'UNHEALTHY'] as const, 'HEALTHY', `${path}.status`),
    services,
    authorizationPolicies: c.list(o, 'authorizationPolicies', path).map(String),
    capacity: typeof o.capacity === 'number' ? o.capacity : 1,
    ...(wp ? { waypoint: wp } : {}),
  };
}

function service(c: Checker, v: unknown, path: string): Service | undefined {
  const o = c.obj(v, path);
  if (!o) return undefined;
  const name = c.str(o, 'name', path);
  const namespace = c.str(o, 'namespace', path, 'default');
  const wp = gateway(c, o.waypoint, `${path}.waypoint`);
  return {
    name,
    namespace,
    hostname: c.str(o, 'hostname', path, `${name}.${namespace}.svc.cluster.local`),
    vips: c.list(o, 'vips', path).map((a, i) => ({ network: '', address: c.ip(a, `${path}.vips[${i}]`) })),
    ports: Object.entries(portMap(c, o.ports, `${path}.ports`)).map(([s, t]) => ({ servicePort: Number(s), targetPort: t })),
    subjectAltNames: c.list(o, 'subjectAltNames', path).map(String),
    ...(wp ? { waypoint: wp } : {}),
  };
}

function stringMatches(c: Checker, v: unknown, path: string): StringMatch[] {
  if (v === undefined) return [];
  if (!Array.isArray(v)) return (c.fail(path, 'must be a list'), []);
  return v.map((s, i) => {
    if (typeof s !== 'string') return (c.fail(`${path}[${i}]`, 'must be a string'), { kind: 'exact', value: '' });
    // Istio's AuthorizationPolicy convention: "*" is presence, "x*" a prefix, "*x" a suffix.
    if (s === '*') return { kind: 'presence' };
    if (s.endsWith('*')) return { kind: 'prefix', value: s.slice(0, -1) };
    if (s.startsWith('*')) return { kind: 'suffix', value: s.slice(1) };
    return { kind: 'exact', value: s };
  });
}

function cidrs(c: Checker, v: unknown, path: string): CidrMatch[] {
  if (v === undefined) return [];
  if (!Array.isArray(v)) return (c.fail(path, 'must be a list'), []);
  return v.map((s, i) => {
    const [addr, len] = String(s).split('/');
    const address = c.ip(addr, `${path}[${i}]`);
    const prefixLength = len === undefined ? (address.includes(':') ? 128 : 32) : Number(len);
    return { address, prefixLength };
  });
}

function match(c: Checker, v: unknown, path: string): PolicyMatch {
  const o = c.obj(v, path) ?? {};
  const ports = (k: string) => c.list(o, k, path).map((p, i) => c.port(p, `${path}.${k}[${i}]`));
  return {
    namespaces: stringMatches(c, o.namespaces, `${path}.namespaces`),
    notNamespaces: stringMatches(c, o.notNamespaces, `${path}.notNamespaces`),
    principals: stringMatches(c, o.principals, `${path}.principals`),
    notPrincipals: stringMatches(c, o.notPrincipals, `${path}.notPrincipals`),
    sourceIps: cidrs(c, o.sourceIps, `${path}.sourceIps`),
    notSourceIps: cidrs(c, o.notSourceIps, `${path}.notSourceIps`),
    destinationIps: cidrs(c, o.destinationIps, `${path}.destinationIps`),
    notDestinationIps: cidrs(c, o.notDestinationIps, `${path}.notDestinationIps`),
    destinationPorts: ports('destinationPorts'),
    notDestinationPorts: ports('notDestinationPorts'),
  };
}

function policy(c: Checker, v: unknown, path: string): Policy | undefined {
  const o = c.obj(v, path);
  if (!o) return undefined;
  // rules: list (OR) of rules; a rule is a list (AND) of clauses; a clause is a list (OR) of matches.
  const rules = c.list(o, 'rules', path).map((rule, i) =>
    (Array.isArray(rule) ? rule : (c.fail(`${path}.rules[${i}]`, 'must be a list of clauses'), [])).map((clause, j) =>
      (Array.isArray(clause) ? clause : [clause]).map((m, k) => match(c, m, `${path}.rules[${i}][${j}][${k}]`))));
  return {
    name: c.str(o, 'name', path),
    namespace: c.str(o, 'namespace', path, 'default'),
    scope: c.oneOf(o.scope, ['GLOBAL', 'NAMESPACE', 'WORKLOAD_SELECTOR'] as const, 'NAMESPACE', `${path}.scope`),
    action: c.oneOf(o.action, ['ALLOW', 'DENY'] as const, 'ALLOW', `${path}.action`),
    rules,
    dryRun: o.dryRun === true,
  };
}

export function parseLocalConfig(text: string): ParseResult<LocalConfig> {
  let doc: unknown;
  try {
    doc = parseYaml(text);
  } catch (err) {
    return { ok: false, errors: [`yaml: ${(err as Error).message}`] };
  }
  const c = new Checker();
  const root = c.obj(doc ?? {}, '$') ?? {};
  const defined = <T>(x: T | undefined): x is T => x !== undefined;
  const value = {
    workloads: c.list(root, 'workloads', '$').map((w, i) => workload(c, w, `workloads[${i}]`)).filter(defined),
    services: c.list(root, 'services', '$').map((s, i) => service(c, s, `services[${i}]`)).filter(defined),
    policies: c.list(root, 'policies', '$').map((p, i) => policy(c, p, `policies[${i}]`)).filter(defined),
  };
  return c.errors.length ? { ok: false, errors: c.errors } : { ok: true, value };
}
