// Test helpers: small builders for the Kubernetes and Istio objects the model reads, and wire
// round trips through lib/proto's codecs.
import type { V1Container, V1EndpointSlice, V1Namespace, V1Node, V1Pod, V1Service, V1ServicePort } from '@kubernetes/client-node';
import { addressCodec, authorizationCodec, type Authorization, type Service, type Workload } from '../../../lib/proto/index.ts';
import type { AuthorizationPolicy, AuthorizationPolicySpec, PeerAuthentication, PeerAuthenticationSpec } from './istio-types.ts';

export interface PodFixture {
  name?: string;
  namespace?: string;
  uid?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  generateName?: string;
  owner?: { kind: string; name: string; controller?: boolean };
  ips?: string[];
  /** Only status.podIP (no podIPs), as older clusters report. */
  podIP?: string;
  node?: string;
  serviceAccount?: string;
  ready?: boolean;
  phase?: string;
  terminating?: boolean;
  hostNetwork?: boolean;
  containers?: V1Container[];
  initContainers?: V1Container[];
}

export function pod(f: PodFixture = {}): V1Pod {
  const ips = f.ips ?? (f.podIP === undefined ? ['10.244.1.5'] : []);
  return {
    metadata: {
      name: f.name ?? 'echo-1',
      namespace: f.namespace ?? 'default',
      uid: f.uid ?? `uid-${f.name ?? 'echo-1'}`,
      labels: f.labels ?? {},
      ...(f.annotations ? { annotations: f.annotations } : {}),
      ...(f.generateName ? { generateName: f.generateName } : {}),
      ...(f.owner ? { ownerReferences: [{ apiVersion: 'apps/v1', kind: f.owner.kind, name: f.owner.name, uid: 'owner-uid', controller: f.owner.controller ?? true }] } : {}),
      ...(f.terminating ? { deletionTimestamp: new Date('2026-01-01T00:00:00Z') } : {}),
    },
    spec: {
      nodeName: f.node ?? 'node1',
      ...(f.serviceAccount === undefined ? {} : { serviceAccountName: f.serviceAccount }),
      ...(f.hostNetwork ? { hostNetwork: true } : {}),
      containers: f.containers ?? [{ name: 'app', ports: [{ name: 'http', containerPort: 8080, protocol: 'TCP' }] }],
      ...(f.initContainers ? { initContainers: f.initContainers } : {}),
    },
    status: {
      phase: f.phase ?? 'Running',
      ...(f.podIP === undefined ? {} : { podIP: f.podIP }),
      ...(ips.length ? { podIP: ips[0], podIPs: ips.map((ip) => ({ ip })) } : {}),
      conditions: [{ type: 'Ready', status: f.ready === false ? 'False' : 'True' }],
    },
  };
}

export interface ServiceFixture {
  name?: string;
  namespace?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  selector?: Record<string, string> | null;
  clusterIP?: string;
  clusterIPs?: string[];
  ipFamilies?: string[];
  ports?: V1ServicePort[];
  type?: string;
  internalTrafficPolicy?: string;
  trafficDistribution?: string;
  publishNotReadyAddresses?: boolean;
}

export function service(f: ServiceFixture = {}): V1Service {
  const clusterIP = f.clusterIP ?? '10.96.0.10';
  return {
    metadata: {
      name: f.name ?? 'echo',
      namespace: f.namespace ?? 'default',
      labels: f.labels ?? {},
      ...(f.annotations ? { annotations: f.annotations } : {}),
    },
    spec: {
      ...(f.selector === null ? {} : { selector: f.selector ?? { app: 'echo' } }),
      clusterIP,
      clusterIPs: f.clusterIPs ?? [clusterIP],
      ...(f.ipFamilies ? { ipFamilies: f.ipFamilies } : {}),
      ports: f.ports ?? [{ name: 'http', port: 80, targetPort: 8080, protocol: 'TCP' }],
      ...(f.type ? { type: f.type } : {}),
      ...(f.internalTrafficPolicy ? { internalTrafficPolicy: f.internalTrafficPolicy } : {}),
      ...(f.trafficDistribution ? { trafficDistribution: f.trafficDistribution } : {}),
      ...(f.publishNotReadyAddresses ? { publishNotReadyAddresses: true } : {}),
    },
  };
}

export function namespace(name: string, labels: Record<string, string> = {}, annotations?: Record<string, string>): V1Namespace {
  return { metadata: { name, labels, ...(annotations ? { annotations } : {}) } };
}

export function node(name: string, labels: Record<string, string> = {}): V1Node {
  return { metadata: { name, labels } };
}

export function endpointSlice(ns: string, serviceName: string, podRefs: { name: string; uid: string }[]): V1EndpointSlice {
  return {
    addressType: 'IPv4',
    metadata: { name: `${serviceName}-abcde`, namespace: ns, labels: { 'kubernetes.io/service-name': serviceName } },
    endpoints: podRefs.map((p) => ({ addresses: ['10.244.9.9'], targetRef: { kind: 'Pod', namespace: ns, name: p.name, uid: p.uid } })),
  };
}

export function authzPolicy(ns: string, name: string, spec: AuthorizationPolicySpec, annotations?: Record<string, string>): AuthorizationPolicy {
  return { apiVersion: 'security.istio.io/v1', kind: 'AuthorizationPolicy', metadata: { name, namespace: ns, ...(annotations ? { annotations } : {}) }, spec };
}

export function peerAuth(ns: string, name: string, spec: PeerAuthenticationSpec, created = '2026-01-01T00:00:00Z'): PeerAuthentication {
  return { apiVersion: 'security.istio.io/v1', kind: 'PeerAuthentication', metadata: { name, namespace: ns, creationTimestamp: new Date(created) }, spec };
}

/** Workload → Address bytes → decoded Workload: what a ztunnel would read. */
export function wireWorkload(w: Workload): Workload {
  const r = addressCodec.decode(addressCodec.encode({ type: { $case: 'workload', workload: w } }));
  if (!r.ok) throw r.error;
  if (r.value.type?.$case !== 'workload') throw new Error('not a workload');
  return r.value.type.workload;
}

export function wireService(s: Service): Service {
  const r = addressCodec.decode(addressCodec.encode({ type: { $case: 'service', service: s } }));
  if (!r.ok) throw r.error;
  if (r.value.type?.$case !== 'service') throw new Error('not a service');
  return r.value.type.service;
}

export function wireAuthorization(a: Authorization): Authorization {
  const r = authorizationCodec.decode(authorizationCodec.encode(a));
  if (!r.ok) throw r.error;
  return r.value;
}

export const ip4 = (...b: number[]): Buffer => Buffer.from(b);
