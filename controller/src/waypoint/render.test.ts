// What the deployer renders for a waypoint Gateway, against istiod's `waypoint` template
// (reference istio-waypoint.md §1.3).
import { describe, expect, it } from 'vitest';
import { renderWaypoint, waypointEnv } from './render.ts';
import { RENDER, waypointGateway } from './test-fixtures.ts';

const gw = waypointGateway({ name: 'waypoint', namespace: 'app' });
const { serviceAccount, deployment, service } = renderWaypoint(gw, RENDER);
const LABELS = {
  'gateway.networking.k8s.io/gateway-name': 'waypoint',
  'gateway.networking.k8s.io/gateway-class-name': 'istio-waypoint',
  'gateway.istio.io/managed': 'istio.io-mesh-controller',
};
const OWNER = { apiVersion: 'gateway.networking.k8s.io/v1', kind: 'Gateway', name: 'waypoint', uid: 'uid-waypoint', controller: true, blockOwnerDeletion: true };

describe('renderWaypoint', () => {
  it.each([
    ['ServiceAccount', serviceAccount],
    ['Deployment', deployment],
    ['Service', service],
  ] as const)('%s is named like the Gateway, labelled managed, owned by the Gateway', (kind, obj) => {
    expect(obj.kind).toBe(kind);
    expect(obj.metadata).toMatchObject({ name: 'waypoint', namespace: 'app', labels: LABELS, ownerReferences: [OWNER] });
  });

  it('Deployment: one replica selected by gateway-name, pods never captured, canonical labels, Prometheus annotations', () => {
    expect(deployment.apiVersion).toBe('apps/v1');
    expect(deployment.spec?.replicas).toBe(1);
    expect(deployment.spec?.selector).toEqual({ matchLabels: { 'gateway.networking.k8s.io/gateway-name': 'waypoint' } });
    expect(deployment.spec?.template.metadata?.labels).toEqual({
      ...LABELS,
      'istio.io/dataplane-mode': 'none',
      'sidecar.istio.io/inject': 'false',
      'service.istio.io/canonical-name': 'waypoint',
      'service.istio.io/canonical-revision': 'latest',
    });
    expect(deployment.spec?.template.metadata?.annotations).toEqual({ 'prometheus.io/path': '/stats/prometheus', 'prometheus.io/port': '15020', 'prometheus.io/scrape': 'true' });
    const pod = deployment.spec!.template.spec!;
    expect(pod.serviceAccountName).toBe('waypoint');
    expect(pod.terminationGracePeriodSeconds).toBe(30);
    expect(pod.containers.map((c) => c.name)).toEqual(['istio-proxy']);
  });

  it('container: image, ports, readiness on 15021, runs as 1337, token and root-cert volumes', () => {
    const c = deployment.spec!.template.spec!.containers[0]!;
    expect(c.image).toBe('ambient-mesh/waypoint:0.1.0');
    expect(c.ports?.map((p) => [p.name, p.containerPort])).toEqual([['metrics', 15020], ['status-port', 15021], ['mesh', 15008]]);
    expect(c.readinessProbe?.httpGet).toEqual({ path: '/healthz/ready', port: 15021 });
    expect(c.startupProbe?.httpGet).toEqual({ path: '/healthz/ready', port: 15021 });
    expect(c.securityContext).toMatchObject({ runAsUser: 1337, runAsGroup: 1337, runAsNonRoot: true, allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'] } });
    expect(c.volumeMounts).toEqual([{ name: 'istio-token', mountPath: '/var/run/secrets/tokens' }, { name: 'istiod-ca-cert', mountPath: '/var/run/secrets/istio' }]);
    expect(deployment.spec!.template.spec!.volumes).toEqual([
      { name: 'istio-token', projected: { sources: [{ serviceAccountToken: { audience: 'istio-ca', expirationSeconds: 43200, path: 'istio-token' } }] } },
      { name: 'istiod-ca-cert', configMap: { name: 'istio-ca-root-cert' } },
    ]);
  });

  it('container env: downward API, identity, control plane addresses and credentials', () => {
    const env = Object.fromEntries(waypointEnv(gw, RENDER).map((e) => [e.name, e.value ?? `fieldRef:${e.valueFrom?.fieldRef?.fieldPath}`]));
    expect(env).toEqual({
      POD_NAME: 'fieldRef:metadata.name',
      POD_NAMESPACE: 'fieldRef:metadata.namespace',
      INSTANCE_IP: 'fieldRef:status.podIP',
      SERVICE_ACCOUNT: 'fieldRef:spec.serviceAccountName',
      NODE_NAME: 'fieldRef:spec.nodeName',
      GATEWAY_NAME: 'waypoint',
      WORKLOAD_NAME: 'waypoint',
      CLUSTER_ID: 'Kubernetes',
      TRUST_DOMAIN: 'cluster.local',
      DOMAIN_SUFFIX: 'cluster.local',
      XDS_ADDRESS: 'https://istiod.istio-system.svc:15012',
      CA_ADDRESS: 'https://istiod.istio-system.svc:15012',
      ALT_XDS_HOSTNAME: 'istiod.istio-system.svc',
      ALT_CA_HOSTNAME: 'istiod.istio-system.svc',
      XDS_ROOT_CA: './var/run/secrets/istio/root-cert.pem',
      CA_ROOT_CA: './var/run/secrets/istio/root-cert.pem',
      AUTH_TOKEN: './var/run/secrets/tokens/istio-token',
    });
  });

  it('WAYPOINT_EXTRA_ENV replaces a variable in place and appends new ones', () => {
    const env = waypointEnv(gw, { ...RENDER, extraEnv: { XDS_ADDRESS: 'https://10.0.0.1:15012', LOG_LEVEL: 'debug' } });
    const names = env.map((e) => e.name);
    expect(names.indexOf('XDS_ADDRESS')).toBe(10);
    expect(env[10]).toEqual({ name: 'XDS_ADDRESS', value: 'https://10.0.0.1:15012' });
    expect(env.at(-1)).toEqual({ name: 'LOG_LEVEL', value: 'debug' });
    expect(new Set(names).size).toBe(names.length);
  });

  it('Service: status-port first, then one port per listener, ClusterIP, PreferDualStack, PreferClose', () => {
    expect(service.metadata?.annotations).toEqual({ 'networking.istio.io/traffic-distribution': 'PreferClose' });
    expect(service.spec).toEqual({
      type: 'ClusterIP',
      ipFamilyPolicy: 'PreferDualStack',
      selector: { 'gateway.networking.k8s.io/gateway-name': 'waypoint' },
      ports: [
        { name: 'status-port', port: 15021, protocol: 'TCP', appProtocol: 'tcp' },
        { name: 'mesh', port: 15008, protocol: 'TCP', appProtocol: 'hbone' },
      ],
    });
  });

  it('spec.infrastructure labels and annotations reach every object; ours win on a clash', () => {
    const g = waypointGateway();
    g.spec!.infrastructure = { labels: { team: 'a', 'gateway.istio.io/managed': 'someone' }, annotations: { note: 'x' } };
    const r = renderWaypoint(g, RENDER);
    for (const o of [r.serviceAccount, r.deployment, r.service]) {
      expect(o.metadata?.labels).toMatchObject({ team: 'a', 'gateway.istio.io/managed': 'istio.io-mesh-controller' });
      expect(o.metadata?.annotations?.note).toBe('x');
    }
    expect(r.deployment.spec?.template.metadata?.labels?.team).toBe('a');
  });

  it('the discovery address and system namespace come from the options', () => {
    const env = waypointEnv(gw, { ...RENDER, systemNamespace: 'mesh', discoveryAddress: 'cp.mesh.svc:15012' });
    const get = (n: string) => env.find((e) => e.name === n)?.value;
    expect([get('XDS_ADDRESS'), get('CA_ADDRESS'), get('ALT_XDS_HOSTNAME')]).toEqual(['https://cp.mesh.svc:15012', 'https://cp.mesh.svc:15012', 'istiod.mesh.svc']);
  });
});
