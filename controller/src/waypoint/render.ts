// Pure: the ServiceAccount, Deployment and Service of one waypoint Gateway, shaped as istiod's
// `waypoint` template renders them (reference istio-waypoint.md §1.3): named exactly like the
// Gateway, owned by it (garbage-collected with it), labelled as managed by the mesh controller.
import type { V1Deployment, V1EnvVar, V1ObjectMeta, V1OwnerReference, V1Service, V1ServiceAccount } from '@kubernetes/client-node';
import { GATEWAY_API_VERSION, WAYPOINT_GATEWAY_CLASS, WAYPOINT_HBONE_PORT, type Gateway } from '../model/index.ts';
import { GATEWAY_CLASS_NAME_LABEL, GATEWAY_MANAGED_LABEL, GATEWAY_MANAGED_MESH, GATEWAY_NAME_LABEL, TRAFFIC_DISTRIBUTION_ANNOTATION } from '../model/labels.ts';

export const WAYPOINT_STATUS_PORT = 15021;
export const WAYPOINT_METRICS_PORT = 15020;
/** The uid (and gid) Istio's proxies run as. */
export const PROXY_UID = 1337;

export interface WaypointRenderOptions {
  image: string;
  /** Where istiod (our controller) runs: ALT_*_HOSTNAME = `istiod.<ns>.svc`. */
  systemNamespace: string;
  /** meshConfig.discoveryAddress, `host:port`; XDS_ADDRESS and CA_ADDRESS are `https://` + this. */
  discoveryAddress: string;
  clusterId: string;
  trustDomain: string;
  domainSuffix: string;
  /** Added to the container env last; a name that is already there is replaced in place. */
  extraEnv: Readonly<Record<string, string>>;
}

export interface RenderedWaypoint {
  serviceAccount: V1ServiceAccount;
  deployment: V1Deployment;
  service: V1Service;
}

export function ownerReference(gw: Gateway): V1OwnerReference {
  return { apiVersion: GATEWAY_API_VERSION, kind: 'Gateway', name: gw.metadata.name ?? '', uid: gw.metadata.uid ?? '', controller: true, blockOwnerDeletion: true };
}

/** The labels every object of the waypoint carries (and its pods); `spec.infrastructure.labels` first. */
export function waypointLabels(gw: Gateway): Record<string, string> {
  return {
    ...(gw.spec?.infrastructure?.labels ?? {}),
    [GATEWAY_NAME_LABEL]: gw.metadata.name ?? '',
    [GATEWAY_CLASS_NAME_LABEL]: WAYPOINT_GATEWAY_CLASS,
    [GATEWAY_MANAGED_LABEL]: GATEWAY_MANAGED_MESH,
  };
}

function objectMeta(gw: Gateway, annotations: Record<string, string> = {}): V1ObjectMeta {
  const all = { ...(gw.spec?.infrastructure?.annotations ?? {}), ...annotations };
  return {
    name: gw.metadata.name ?? '',
    namespace: gw.metadata.namespace ?? '',
    labels: waypointLabels(gw),
    ...(Object.keys(all).length ? { annotations: all } : {}),
    ownerReferences: [ownerReference(gw)],
  };
}

function fieldEnv(name: string, fieldPath: string): V1EnvVar {
  return { name, valueFrom: { fieldRef: { apiVersion: 'v1', fieldPath } } };
}

export function waypointEnv(gw: Gateway, o: WaypointRenderOptions): V1EnvVar[] {
  const name = gw.metadata.name ?? '';
  const discovery = `https://${o.discoveryAddress}`;
  // The name the control plane's serving certificate carries, checked when the discovery address
  // is another name for it (pilot-agent's ALT_ hostnames).
  const istiod = `istiod.${o.systemNamespace}.svc`;
  const env: V1EnvVar[] = [
    fieldEnv('POD_NAME', 'metadata.name'),
    fieldEnv('POD_NAMESPACE', 'metadata.namespace'),
    fieldEnv('INSTANCE_IP', 'status.podIP'),
    fieldEnv('SERVICE_ACCOUNT', 'spec.serviceAccountName'),
    fieldEnv('NODE_NAME', 'spec.nodeName'),
    { name: 'GATEWAY_NAME', value: name },
    { name: 'WORKLOAD_NAME', value: name },
    { name: 'CLUSTER_ID', value: o.clusterId },
    { name: 'TRUST_DOMAIN', value: o.trustDomain },
    { name: 'DOMAIN_SUFFIX', value: o.domainSuffix },
    { name: 'XDS_ADDRESS', value: discovery },
    { name: 'CA_ADDRESS', value: discovery },
    { name: 'ALT_XDS_HOSTNAME', value: istiod },
    { name: 'ALT_CA_HOSTNAME', value: istiod },
    { name: 'XDS_ROOT_CA', value: './var/run/secrets/istio/root-cert.pem' },
    { name: 'CA_ROOT_CA', value: './var/run/secrets/istio/root-cert.pem' },
    { name: 'AUTH_TOKEN', value: './var/run/secrets/tokens/istio-token' },
  ];
  for (const [k, v] of Object.entries(o.extraEnv)) {
    const i = env.findIndex((e) => e.name === k);
    if (i >= 0) env[i] = { name: k, value: v };
    else env.push({ name: k, value: v });
  }
  return env;
}

export function renderWaypoint(gw: Gateway, o: WaypointRenderOptions): RenderedWaypoint {
  const name = gw.metadata.name ?? '';
  const labels = waypointLabels(gw);
  const serviceAccount: V1ServiceAccount = { apiVersion: 'v1', kind: 'ServiceAccount', metadata: objectMeta(gw) };
  const readiness = { httpGet: { path: '/healthz/ready', port: WAYPOINT_STATUS_PORT }, timeoutSeconds: 1 };
  const deployment: V1Deployment = {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: objectMeta(gw),
    spec: {
      replicas: 1,
      selector: { matchLabels: { [GATEWAY_NAME_LABEL]: name } },
      template: {
        metadata: {
          labels: {
            ...labels,
            // The waypoint itself is never captured, and never gets a sidecar.
            'istio.io/dataplane-mode': 'none',
            'sidecar.istio.io/inject': 'false',
            'service.istio.io/canonical-name': name,
            'service.istio.io/canonical-revision': 'latest',
          },
          annotations: {
            'prometheus.io/path': '/stats/prometheus',
            'prometheus.io/port': String(WAYPOINT_METRICS_PORT),
            'prometheus.io/scrape': 'true',
          },
        },
        spec: {
          serviceAccountName: name,
          terminationGracePeriodSeconds: 30,
          containers: [
            {
              name: 'istio-proxy',
              image: o.image,
              ports: [
                { name: 'metrics', containerPort: WAYPOINT_METRICS_PORT, protocol: 'TCP' },
                { name: 'status-port', containerPort: WAYPOINT_STATUS_PORT, protocol: 'TCP' },
                { name: 'mesh', containerPort: WAYPOINT_HBONE_PORT, protocol: 'TCP' },
              ],
              env: waypointEnv(gw, o),
              // Istio's numbers: a fast startup probe, then a slow readiness probe.
              startupProbe: { ...readiness, periodSeconds: 1, failureThreshold: 30 },
              readinessProbe: { ...readiness, periodSeconds: 15, failureThreshold: 4 },
              resources: { requests: { cpu: '100m', memory: '128Mi' } },
              securityContext: {
                allowPrivilegeEscalation: false,
                capabilities: { drop: ['ALL'] },
                privileged: false,
                readOnlyRootFilesystem: true,
                runAsGroup: PROXY_UID,
                runAsNonRoot: true,
                runAsUser: PROXY_UID,
              },
              volumeMounts: [
                { name: 'istio-token', mountPath: '/var/run/secrets/tokens' },
                { name: 'istiod-ca-cert', mountPath: '/var/run/secrets/istio' },
              ],
            },
          ],
          volumes: [
            { name: 'istio-token', projected: { sources: [{ serviceAccountToken: { audience: 'istio-ca', expirationSeconds: 43200, path: 'istio-token' } }] } },
            { name: 'istiod-ca-cert', configMap: { name: 'istio-ca-root-cert' } },
          ],
        },
      },
    },
  };
  const service: V1Service = {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: objectMeta(gw, { [TRAFFIC_DISTRIBUTION_ANNOTATION]: 'PreferClose' }),
    spec: {
      type: 'ClusterIP',
      ipFamilyPolicy: 'PreferDualStack',
      selector: { [GATEWAY_NAME_LABEL]: name },
      ports: [
        { name: 'status-port', port: WAYPOINT_STATUS_PORT, protocol: 'TCP', appProtocol: 'tcp' },
        // One per listener; a valid waypoint has exactly `mesh` (appProtocol: the listener protocol, lower-cased).
        ...(gw.spec?.listeners ?? []).map((l) => ({ name: l.name, port: l.port, protocol: 'TCP', appProtocol: l.protocol.toLowerCase() })),
      ],
    },
  };
  return { serviceAccount, deployment, service };
}
