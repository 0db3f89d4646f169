// Offline checks of the CRDs in charts/base/crds: the set of kinds and versions, the rules a
// kube-apiserver applies to a CRD (structural schema, names, one storage version), and that
// resources written the way Istio and Gateway API users write them conform to the schemas.
import { readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parse, parseAllDocuments } from 'yaml';

interface Schema {
  type?: string;
  description?: string;
  properties?: Record<string, Schema>;
  additionalProperties?: Schema | boolean;
  items?: Schema | Schema[];
  required?: string[];
  enum?: unknown[];
  nullable?: boolean;
  default?: unknown;
  format?: string;
  minimum?: number;
  maximum?: number;
  minLength?: number;
  maxLength?: number;
  pattern?: string;
  minItems?: number;
  maxItems?: number;
  maxProperties?: number;
  'x-kubernetes-preserve-unknown-fields'?: boolean;
  'x-kubernetes-list-type'?: string;
  'x-kubernetes-list-map-keys'?: string[];
}

interface CrdVersion {
  name: string;
  served: boolean;
  storage: boolean;
  schema: { openAPIV3Schema: Schema };
  subresources?: { status?: object };
  additionalPrinterColumns?: { name: string; type: string; jsonPath: string }[];
}

interface Crd {
  apiVersion: string;
  kind: string;
  metadata: { name: string; annotations?: Record<string, string> };
  spec: {
    group: string;
    scope: string;
    names: { kind: string; listKind: string; plural: string; singular: string; shortNames?: string[]; categories?: string[] };
    versions: CrdVersion[];
  };
}

interface Resource {
  apiVersion: string;
  kind: string;
  metadata: { name: string };
}

const crdDir = new URL('./crds/', import.meta.url);
const samplesFile = new URL('./testdata/samples.yaml', import.meta.url);

function loadCrds(): Map<string, Crd> {
  const crds = new Map<string, Crd>();
  for (const file of readdirSync(crdDir).sort()) {
    const docs = parseAllDocuments(readFileSync(new URL(file, crdDir), 'utf8'));
    if (!Array.isArray(docs) || docs.length !== 1) throw new Error(`${file}: want exactly one YAML document`);
    const doc = docs[0]!;
    if (doc.errors.length > 0) throw new Error(`${file}: ${doc.errors[0]!.message}`);
    crds.set(file, doc.toJS() as Crd);
  }
  return crds;
}

const crds = loadCrds();
const byKind = new Map([...crds.values()].map((crd) => [crd.spec.names.kind, crd]));

const expected: Record<string, { group: string; plural: string; scope: string; versions: string[]; shortNames: string[]; categories: string[] }> = {
  VirtualService: { group: 'networking.istio.io', plural: 'virtualservices', scope: 'Namespaced', versions: ['v1', 'v1beta1', 'v1alpha3'], shortNames: ['vs'], categories: ['istio-io', 'networking-istio-io'] },
  DestinationRule: { group: 'networking.istio.io', plural: 'destinationrules', scope: 'Namespaced', versions: ['v1', 'v1beta1', 'v1alpha3'], shortNames: ['dr'], categories: ['istio-io', 'networking-istio-io'] },
  ServiceEntry: { group: 'networking.istio.io', plural: 'serviceentries', scope: 'Namespaced', versions: ['v1', 'v1beta1', 'v1alpha3'], shortNames: ['se'], categories: ['istio-io', 'networking-istio-io'] },
  AuthorizationPolicy: { group: 'security.istio.io', plural: 'authorizationpolicies', scope: 'Namespaced', versions: ['v1', 'v1beta1'], shortNames: ['ap'], categories: ['istio-io', 'security-istio-io'] },
  PeerAuthentication: { group: 'security.istio.io', plural: 'peerauthentications', scope: 'Namespaced', versions: ['v1', 'v1beta1'], shortNames: ['pa'], categories: ['istio-io', 'security-istio-io'] },
  GatewayClass: { group: 'gateway.networking.k8s.io', plural: 'gatewayclasses', scope: 'Cluster', versions: ['v1', 'v1beta1'], shortNames: ['gc'], categories: ['gateway-api'] },
  Gateway: { group: 'gateway.networking.k8s.io', plural: 'gateways', scope: 'Namespaced', versions: ['v1', 'v1beta1'], shortNames: ['gtw'], categories: ['gateway-api'] },
  HTTPRoute: { group: 'gateway.networking.k8s.io', plural: 'httproutes', scope: 'Namespaced', versions: ['v1', 'v1beta1'], shortNames: [], categories: ['gateway-api'] },
  GRPCRoute: { group: 'gateway.networking.k8s.io', plural: 'grpcroutes', scope: 'Namespaced', versions: ['v1'], shortNames: [], categories: ['gateway-api'] },
};

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function itemSchema(s: Schema): Schema | undefined {
  return s.items === undefined || Array.isArray(s.items) ? undefined : s.items;
}

// A small subset of the apiserver's validation: enough for the keywords these CRDs use. Unknown
// fields are errors here (the apiserver would silently prune them), so a sample that uses a
// field the schema forgot fails instead of losing the field.
function validate(value: unknown, s: Schema, path: string, errors: string[]): void {
  if (value === null) {
    if (!s.nullable) errors.push(`${path}: must not be null`);
    return;
  }
  const typeOk =
    s.type === 'object' ? isObject(value)
    : s.type === 'array' ? Array.isArray(value)
    : s.type === 'string' ? typeof value === 'string'
    : s.type === 'integer' ? Number.isInteger(value)
    : s.type === 'number' ? typeof value === 'number'
    : s.type === 'boolean' ? typeof value === 'boolean'
    : false;
  if (!typeOk) {
    errors.push(`${path}: want ${s.type}, got ${JSON.stringify(value)}`);
    return;
  }
  if (s.enum && !s.enum.includes(value)) errors.push(`${path}: ${JSON.stringify(value)} not in enum ${JSON.stringify(s.enum)}`);
  if (typeof value === 'string') {
    if (s.minLength !== undefined && value.length < s.minLength) errors.push(`${path}: shorter than ${s.minLength}`);
    if (s.maxLength !== undefined && value.length > s.maxLength) errors.push(`${path}: longer than ${s.maxLength}`);
    if (s.pattern !== undefined && !new RegExp(s.pattern).test(value)) errors.push(`${path}: ${JSON.stringify(value)} does not match ${s.pattern}`);
  }
  if (typeof value === 'number') {
    if (s.minimum !== undefined && value < s.minimum) errors.push(`${path}: below minimum ${s.minimum}`);
    if (s.maximum !== undefined && value > s.maximum) errors.push(`${path}: above maximum ${s.maximum}`);
  }
  if (Array.isArray(value)) {
    if (s.minItems !== undefined && value.length < s.minItems) errors.push(`${path}: fewer than ${s.minItems} items`);
    if (s.maxItems !== undefined && value.length > s.maxItems) errors.push(`${path}: more than ${s.maxItems} items`);
    const items = itemSchema(s);
    if (!items) throw new Error(`${path}: array schema without items`);
    value.forEach((item, i) => validate(item, items, `${path}[${i}]`, errors));
    const keys = s['x-kubernetes-list-map-keys'];
    if (s['x-kubernetes-list-type'] === 'map' && keys) {
      const seen = value.map((item) => JSON.stringify(keys.map((k) => (isObject(item) ? item[k] : undefined))));
      if (new Set(seen).size !== seen.length) errors.push(`${path}: duplicate map keys ${keys.join(',')}`);
    }
    if (s['x-kubernetes-list-type'] === 'set' && new Set(value.map((v) => JSON.stringify(v))).size !== value.length) {
      errors.push(`${path}: duplicate set entries`);
    }
  }
  if (isObject(value)) {
    for (const r of s.required ?? []) if (!(r in value)) errors.push(`${path}.${r}: required`);
    if (s.maxProperties !== undefined && Object.keys(value).length > s.maxProperties) errors.push(`${path}: more than ${s.maxProperties} properties`);
    for (const [k, v] of Object.entries(value)) {
      const sub = s.properties?.[k] ?? (isObject(s.additionalProperties) ? s.additionalProperties : undefined);
      if (sub) validate(v, sub, `${path}.${k}`, errors);
      else if (!s['x-kubernetes-preserve-unknown-fields']) errors.push(`${path}.${k}: unknown field`);
    }
  }
}

const allowedKeys = new Set([
  'type', 'description', 'properties', 'additionalProperties', 'items', 'required', 'enum', 'nullable', 'default',
  'format', 'minimum', 'maximum', 'minLength', 'maxLength', 'pattern', 'minItems', 'maxItems', 'maxProperties',
  'x-kubernetes-preserve-unknown-fields', 'x-kubernetes-list-type', 'x-kubernetes-list-map-keys',
]);
const scalarTypes = new Set(['string', 'integer', 'number', 'boolean']);

// The rules a kube-apiserver enforces on a structural schema (plus two of ours: only the keywords
// above, and `type` on every node), reported as path-prefixed problems.
function structuralProblems(s: Schema, path: string, inPreserved: boolean, out: string[]): void {
  for (const k of Object.keys(s)) if (!allowedKeys.has(k)) out.push(`${path}: keyword ${k} not allowed here`);
  if (s.type === undefined || !(s.type === 'object' || s.type === 'array' || scalarTypes.has(s.type))) out.push(`${path}: needs a type, has ${s.type}`);
  if (s.type !== 'object' && (s.properties || s.additionalProperties !== undefined || s.required)) out.push(`${path}: properties on a non-object`);
  if (s.properties && s.additionalProperties !== undefined) out.push(`${path}: both properties and additionalProperties`);
  if (s.additionalProperties !== undefined && !isObject(s.additionalProperties)) out.push(`${path}: additionalProperties must be a schema`);
  if (s.type === 'array' && !itemSchema(s)) out.push(`${path}: array needs one items schema`);
  if (s.type !== 'array' && s.items !== undefined) out.push(`${path}: items on a non-array`);
  for (const r of s.required ?? []) if (!s.properties?.[r]) out.push(`${path}: required ${r} is not a property`);
  const preserve = s['x-kubernetes-preserve-unknown-fields'];
  if (preserve !== undefined && (preserve !== true || s.type !== 'object')) out.push(`${path}: preserve-unknown-fields must be true, on an object`);
  if (s.default !== undefined) {
    if (inPreserved) out.push(`${path}: default inside a preserve-unknown-fields subtree`);
    const errors: string[] = [];
    validate(s.default, s, `${path}(default)`, errors);
    out.push(...errors);
  }
  const listType = s['x-kubernetes-list-type'];
  if (listType !== undefined) {
    const items = itemSchema(s);
    if (listType === 'set' && !(items?.type && scalarTypes.has(items.type))) out.push(`${path}: list-type set needs scalar items`);
    if (listType === 'map') {
      const keys = s['x-kubernetes-list-map-keys'] ?? [];
      if (items?.type !== 'object' || keys.length === 0) out.push(`${path}: list-type map needs object items and map keys`);
      for (const k of keys) {
        const key = items?.properties?.[k];
        if (!key || !(items?.required?.includes(k) || key.default !== undefined)) out.push(`${path}: map key ${k} must be a required or defaulted property`);
      }
    }
    if (!['atomic', 'set', 'map'].includes(listType)) out.push(`${path}: unknown list type ${listType}`);
  }
  const under = inPreserved || preserve === true;
  for (const [k, sub] of Object.entries(s.properties ?? {})) structuralProblems(sub, `${path}.${k}`, under, out);
  if (isObject(s.additionalProperties)) structuralProblems(s.additionalProperties, `${path}{}`, under, out);
  const items = itemSchema(s);
  if (items) structuralProblems(items, `${path}[]`, under, out);
}

function schemaFor(r: Resource): Schema {
  const [group, version] = r.apiVersion.split('/');
  const crd = byKind.get(r.kind);
  if (!crd || crd.spec.group !== group) throw new Error(`no CRD for ${r.apiVersion} ${r.kind}`);
  const v = crd.spec.versions.find((x) => x.name === version && x.served);
  if (!v) throw new Error(`${r.kind} does not serve ${version}`);
  return v.schema.openAPIV3Schema;
}

function errorsOf(r: Resource): string[] {
  const errors: string[] = [];
  // The apiserver owns apiVersion/kind/metadata; the schema covers spec and status.
  const { apiVersion: _a, kind: _k, metadata: _m, ...body } = r as unknown as Record<string, unknown>;
  validate(body, schemaFor(r), `${r.kind}/${r.metadata.name}`, errors);
  return errors;
}

describe('charts/base CRDs', () => {
  it('hold exactly the kinds the mesh watches, one file each', () => {
    expect([...byKind.keys()].sort()).toEqual(Object.keys(expected).sort());
    expect(byKind.size).toBe(crds.size);
    for (const [file, crd] of crds) expect(file).toBe(`${crd.spec.group}_${crd.spec.names.plural}.yaml`);
  });

  it('are apiextensions.k8s.io/v1 CRDs with consistent names, versions and categories', () => {
    for (const crd of crds.values()) {
      const want = expected[crd.spec.names.kind]!;
      const n = crd.spec.names;
      expect(crd.apiVersion).toBe('apiextensions.k8s.io/v1');
      expect(crd.kind).toBe('CustomResourceDefinition');
      expect(crd.spec.group).toBe(want.group);
      expect(crd.metadata.name).toBe(`${n.plural}.${crd.spec.group}`);
      expect(n.plural).toBe(want.plural);
      expect(n.singular).toBe(n.kind.toLowerCase());
      expect(n.listKind).toBe(`${n.kind}List`);
      expect(n.shortNames ?? []).toEqual(want.shortNames);
      expect(n.categories).toEqual(want.categories);
      expect(crd.spec.scope).toBe(want.scope);
      expect(crd.spec.versions.map((v) => v.name)).toEqual(want.versions);
      expect(crd.spec.versions.filter((v) => v.storage).map((v) => v.name)).toEqual(['v1']);
      expect(crd.spec.versions.every((v) => v.served)).toBe(true);
      // *.k8s.io groups are protected: the apiserver rejects a v1 CRD without this annotation.
      if (crd.spec.group.endsWith('.k8s.io')) expect(crd.metadata.annotations?.['api-approved.kubernetes.io']).toMatch(/^https:\/\//);
    }
  });

  it('serve every version with the same schema, status subresource and columns', () => {
    for (const crd of crds.values()) {
      const [first, ...rest] = crd.spec.versions;
      for (const v of [first!, ...rest]) {
        expect(v.subresources).toEqual({ status: {} });
        expect(v.schema).toEqual(first!.schema);
        expect(v.additionalPrinterColumns).toEqual(first!.additionalPrinterColumns);
        expect(v.additionalPrinterColumns?.at(-1)?.name === 'Age' || crd.spec.names.kind === 'GatewayClass').toBe(true);
      }
    }
  });

  it('have structural schemas the apiserver accepts', () => {
    for (const [file, crd] of crds) {
      const problems: string[] = [];
      const root = crd.spec.versions[0]!.schema.openAPIV3Schema;
      structuralProblems(root, file, false, problems);
      expect(problems).toEqual([]);
      expect(Object.keys(root.properties ?? {}).sort()).toEqual(['spec', 'status']);
      expect(root.properties?.['status']).toEqual({ type: 'object', 'x-kubernetes-preserve-unknown-fields': true });
    }
  });

  it('have printer columns that point at schema fields', () => {
    for (const crd of crds.values()) {
      for (const col of crd.spec.versions[0]!.additionalPrinterColumns ?? []) {
        if (!col.jsonPath.startsWith('.spec.')) continue;
        let node: Schema | undefined = crd.spec.versions[0]!.schema.openAPIV3Schema;
        for (const part of col.jsonPath.slice(1).split('.')) node = node?.properties?.[part];
        expect(node, `${crd.spec.names.kind} column ${col.name}`).toBeDefined();
      }
    }
  });

  it('stay small enough for client-side kubectl apply (last-applied annotation < 256 KiB)', () => {
    for (const crd of crds.values()) expect(JSON.stringify(crd).length).toBeLessThan(200_000);
  });
});

describe('sample resources', () => {
  const samples = parseAllDocuments(readFileSync(samplesFile, 'utf8')).map((d) => d.toJS() as Resource);

  it('cover every kind', () => {
    expect(new Set(samples.map((s) => s.kind))).toEqual(new Set(Object.keys(expected)));
  });

  it.each(samples.map((s) => [`${s.apiVersion} ${s.kind} ${s.metadata.name}`, s] as const))('accepts %s', (_name, sample) => {
    expect(errorsOf(sample)).toEqual([]);
  });

  const rejected: [string, string, string][] = [
    ['AuthorizationPolicy action outside the enum', `
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: x}
spec: {action: PERMIT}`, 'not in enum'],
    ['AuthorizationPolicy principals as a string', `
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: x}
spec:
  rules:
    - from:
        - source: {principals: cluster.local/ns/a/sa/b}`, 'want array'],
    ['AuthorizationPolicy condition without a key', `
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: x}
spec:
  rules:
    - when:
        - values: [a]`, 'key: required'],
    ['PeerAuthentication lowercase mode', `
apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: {name: x}
spec: {mtls: {mode: strict}}`, 'not in enum'],
    ['PeerAuthentication port-level mode outside the enum', `
apiVersion: security.istio.io/v1beta1
kind: PeerAuthentication
metadata: {name: x}
spec: {portLevelMtls: {"8080": {mode: OFF}}}`, 'not in enum'],
    ['VirtualService destination without host', `
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: x}
spec:
  http:
    - route:
        - destination: {subset: v1}`, 'host: required'],
    ['VirtualService port out of range', `
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: x}
spec:
  http:
    - route:
        - destination: {host: a, port: {number: 70000}}`, 'above maximum'],
    ['VirtualService string match with two kinds', `
apiVersion: networking.istio.io/v1alpha3
kind: VirtualService
metadata: {name: x}
spec:
  http:
    - match:
        - uri: {exact: /a, prefix: /b}`, 'more than 1 properties'],
    ['VirtualService misspelled field', `
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: x}
spec:
  http:
    - retry: {attempts: 3}`, 'unknown field'],
    ['DestinationRule without host', `
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: x}
spec: {subsets: [{name: v1}]}`, 'host: required'],
    ['DestinationRule subset TLS mode outside the enum', `
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: x}
spec:
  host: a
  subsets:
    - name: v1
      trafficPolicy: {tls: {mode: MTLS}}`, 'not in enum'],
    ['ServiceEntry without hosts', `
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: x}
spec: {location: MESH_EXTERNAL}`, 'hosts: required'],
    ['ServiceEntry resolution outside the enum', `
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: x}
spec: {hosts: [a.com], resolution: DNS_RR}`, 'not in enum'],
    ['ServiceEntry port without a name', `
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: x}
spec: {hosts: [a.com], ports: [{number: 80}]}`, 'name: required'],
    ['ServiceEntry port number as a string', `
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: x}
spec: {hosts: [a.com], ports: [{number: "80", name: http}]}`, 'want integer'],
    ['GatewayClass without controllerName', `
apiVersion: gateway.networking.k8s.io/v1
kind: GatewayClass
metadata: {name: x}
spec: {}`, 'controllerName: required'],
    ['Gateway without listeners', `
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: x}
spec: {gatewayClassName: istio-waypoint}`, 'listeners: required'],
    ['Gateway listener port 0', `
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: x}
spec:
  gatewayClassName: istio-waypoint
  listeners: [{name: mesh, port: 0, protocol: HBONE}]`, 'below minimum'],
    ['Gateway listeners with the same name', `
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: x}
spec:
  gatewayClassName: istio-waypoint
  listeners: [{name: mesh, port: 15008, protocol: HBONE}, {name: mesh, port: 80, protocol: HTTP}]`, 'duplicate map keys'],
    ['Gateway listener protocol with a space', `
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: x}
spec:
  gatewayClassName: istio-waypoint
  listeners: [{name: mesh, port: 15008, protocol: "HB ONE"}]`, 'does not match'],
    ['HTTPRoute parentRef without a name', `
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: x}
spec: {parentRefs: [{kind: Service}]}`, 'name: required'],
    ['HTTPRoute path match type outside the enum', `
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: x}
spec:
  rules:
    - matches: [{path: {type: Prefix, value: /}}]`, 'not in enum'],
    ['HTTPRoute filter without a type', `
apiVersion: gateway.networking.k8s.io/v1beta1
kind: HTTPRoute
metadata: {name: x}
spec:
  rules:
    - filters: [{urlRewrite: {hostname: a}}]`, 'type: required'],
    ['HTTPRoute backend weight below zero', `
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: x}
spec:
  rules:
    - backendRefs: [{name: a, port: 80, weight: -1}]`, 'below minimum'],
    ['HTTPRoute timeout that is not a Gateway API duration', `
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: x}
spec:
  rules:
    - timeouts: {request: 10 seconds}`, 'does not match'],
    ['HTTPRoute without spec', `
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: x}`, 'spec: required'],
  ];

  it.each(rejected)('rejects %s', (_name, text, message) => {
    const errors = errorsOf(parse(text) as Resource);
    expect(errors.join('\n')).toContain(message);
  });

  it('keeps unknown fields only under status and the subtrees left open', () => {
    const gw = parse(`
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: x}
spec:
  gatewayClassName: istio-waypoint
  listeners: [{name: mesh, port: 15008, protocol: HBONE}]
  tls: {frontend: {default: {validation: {caCertificateRefs: [{group: "", kind: ConfigMap, name: ca}]}}}}
status:
  conditions: [{type: Programmed, status: "True"}]
  addresses: [{type: IPAddress, value: 10.0.0.1}]`) as Resource;
    expect(errorsOf(gw)).toEqual([]);
  });
});
