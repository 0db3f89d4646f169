// The istiod, cni and ztunnel charts: `helm lint`, `helm template` with the defaults, with
// profile=ambient and with an Istio user's values files (Istio's names plus unknown keys); what the
// manifests carry; that each component's own config parser accepts the environment the chart gives
// it; then, on a lab, the kube-apiserver's server-side dry-run with strict field validation (the
// Kubernetes schema of the lab's pinned version, CRDs from charts/base) and the RBAC put to work:
// the controller runs with nothing but istiod's service-account token.
import { spawnSync } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { agentConfigFromEnv } from '../../cni/agent/config.ts';
import { controllerConfigFromEnv } from '../../controller/src/config.ts';
import { configFromEnv as ztunnelConfigFromEnv } from '../../ztunnel/src/config.ts';
import { REPO_ROOT } from './config.ts';
import { isAlive, writeState, type LabState } from './state.ts';
import { startDaemon, tail } from './daemons.ts';
import { buildTools, down, kubectl, runningLab, up } from './lab.ts';
import { pollUntil } from './poll.ts';
import { envMap, find, helmLint, helmTemplate, parseManifests, render, resolvedEnv, testdata, type ChartName, type Container, type KubeObject, type RenderOptions, type Workload } from './charts/render.ts';

const CHARTS: ChartName[] = ['istiod', 'cni', 'ztunnel'];
const NS = 'istio-system';

/** The three value sets every chart is checked with. */
const VALUE_SETS: Record<string, (c: ChartName) => RenderOptions> = {
  defaults: () => ({}),
  'profile=ambient': () => ({ set: { profile: 'ambient' } }),
  'Istio values file': (c) => ({ valuesFiles: [testdata(`${c}-values.yaml`)] }),
};

let helm = '';
const container = (w: Workload, i = 0): Container => w.spec.template.spec.containers[i]!;

beforeAll(() => {
  helm = join(buildTools(), 'helm');
});

describe('charts: lint and render (helm from the tools cache)', () => {
  for (const chart of CHARTS) {
    for (const [name, opts] of Object.entries(VALUE_SETS)) {
      it(`${chart}: helm lint --strict and helm template with ${name}`, () => {
        const lint = helmLint(helm, chart, opts(chart));
        expect(lint.status, lint.stdout + lint.stderr).toBe(0);
        expect(lint.stdout).toMatch(/1 chart\(s\) linted, 0 chart\(s\) failed/);
        const objs = render(helm, chart, opts(chart));
        expect(objs.length).toBeGreaterThanOrEqual(2);
        for (const o of objs) if (!['ClusterRole', 'ClusterRoleBinding'].includes(o.kind)) expect(o.metadata.namespace, `${o.kind}/${o.metadata.name}`).toBe(NS);
      });
    }

    it(`${chart}: profile=ambient renders exactly the defaults; another profile fails with a reason`, () => {
      expect(helmTemplate(helm, chart, { set: { profile: 'ambient' } }).stdout).toBe(helmTemplate(helm, chart).stdout);
      const r = helmTemplate(helm, chart, { set: { profile: 'demo' } });
      expect(r.status).not.toBe(0);
      expect(r.stderr).toMatch(/profile "demo" is not supported: ambient-mesh runs in ambient mode only/);
    });
  }

  describe('istiod', () => {
    it('defaults: Deployment, Service, ServiceAccount, HPA, PDB; image and env the controller accepts', () => {
      const objs = render(helm, 'istiod');
      const d = find<Workload>(objs, 'Deployment', 'istiod');
      const c = container(d);
      expect(c.image).toBe('ghcr.io/ambient-mesh/controller:0.1.0');
      expect(d.spec.template.spec.serviceAccountName).toBe('istiod');
      expect(c.readinessProbe?.httpGet).toEqual({ path: '/ready', port: 15014 });
      expect(d.spec.replicas).toBeUndefined(); // the HPA owns the count
      const svc = find<{ spec: { ports: { name: string; port: number; targetPort: number }[]; selector: Record<string, string> } } & KubeObject>(objs, 'Service', 'istiod');
      expect(svc.spec.ports.map((p) => [p.name, p.port, p.targetPort])).toEqual([['grpc-xds', 15010, 15010], ['https-dns', 15012, 15012], ['http-monitoring', 15014, 15014]]);
      expect(d.spec.template.metadata.labels).toMatchObject(svc.spec.selector);
      find(objs, 'ServiceAccount', 'istiod');
      expect(find<{ spec: Record<string, unknown> } & KubeObject>(objs, 'HorizontalPodAutoscaler', 'istiod').spec).toMatchObject({ minReplicas: 1, maxReplicas: 5 });
      expect(find<{ spec: Record<string, unknown> } & KubeObject>(objs, 'PodDisruptionBudget', 'istiod').spec).toMatchObject({ minAvailable: 1 });

      expect(envMap(c)).toEqual({
        POD_NAME: 'fieldRef:metadata.name',
        POD_NAMESPACE: 'fieldRef:metadata.namespace',
        TRUST_DOMAIN: 'cluster.local',
        CLUSTER_ID: 'Kubernetes',
        DOMAIN_SUFFIX: 'cluster.local',
        ROOT_NAMESPACE: NS,
        CA_TRUSTED_NODE_ACCOUNTS: `${NS}/ztunnel`,
        GRPC_ADDR: '127.0.0.1:15010',
        GRPC_TLS_ADDR: '0.0.0.0:15012',
        MONITORING_ADDR: '0.0.0.0:15014',
        DISCOVERY_ADDRESS: `istiod.${NS}.svc:15012`,
        WAYPOINT_IMAGE: 'ghcr.io/ambient-mesh/waypoint:0.1.0',
        LOG_LEVEL: 'info',
      });
      const parsed = controllerConfigFromEnv(resolvedEnv(c, { 'metadata.name': 'istiod-abc', 'metadata.namespace': NS }));
      expect(parsed.ok, JSON.stringify(parsed)).toBe(true);
      if (!parsed.ok) return;
      expect(parsed.config).toMatchObject({ systemNamespace: NS, trustDomain: 'cluster.local', grpcTlsAddr: { host: '0.0.0.0', port: 15012 }, monitoringAddr: { port: 15014 }, waypointImage: 'ghcr.io/ambient-mesh/waypoint:0.1.0' });
      expect([...parsed.config.trustedNodeAccounts]).toEqual([`${NS}/ztunnel`]);
    });

    it("an Istio user's values land where Istio puts them; unknown keys are ignored", () => {
      const objs = render(helm, 'istiod', { valuesFiles: [testdata('istiod-values.yaml')] });
      const d = find<Workload>(objs, 'Deployment', 'istiod');
      const c = container(d);
      expect(c.image).toBe('registry.example.com/mesh/controller:1.2.3');
      const env = envMap(c);
      expect(env).toMatchObject({
        TRUST_DOMAIN: 'example.org', // meshConfig.trustDomain
        CLUSTER_ID: 'cluster-east', // global.multiCluster.clusterName
        LOG_LEVEL: 'debug', // global.logging.level default scope
        CA_TRUSTED_NODE_ACCOUNTS: 'kube-system/ztunnel', // pilot.trustedZtunnelNamespace
        WAYPOINT_IMAGE: 'registry.example.com/mesh/waypoint:1.2.3',
        PILOT_ENABLE_AMBIENT: 'true', // pilot.env, passed through
        PILOT_DEBOUNCE_AFTER: '200ms',
        EXTERNAL_ISTIOD: 'false',
      });
      expect(c.resources).toEqual({ requests: { cpu: '250m', memory: '512Mi' } });
      expect(d.spec.template.metadata.labels).toMatchObject({ team: 'mesh' });
      expect(d.spec.template.spec.priorityClassName).toBe('system-cluster-critical');
      expect(find<{ spec: Record<string, unknown> } & KubeObject>(objs, 'HorizontalPodAutoscaler', 'istiod').spec).toMatchObject({
        minReplicas: 2, maxReplicas: 7, metrics: [{ type: 'Resource', resource: { name: 'cpu', target: { type: 'Utilization', averageUtilization: 65 } } }],
      });
      expect(objs.some((o) => o.kind === 'PodDisruptionBudget')).toBe(false); // global.defaultPodDisruptionBudget.enabled: false
      expect(find<{ imagePullSecrets?: unknown } & KubeObject>(objs, 'ServiceAccount', 'istiod').imagePullSecrets).toEqual([{ name: 'regcred' }]);
      const parsed = controllerConfigFromEnv(resolvedEnv(c, { 'metadata.name': 'istiod-abc', 'metadata.namespace': NS }));
      expect(parsed.ok, JSON.stringify(parsed)).toBe(true);
      if (parsed.ok) expect(parsed.config).toMatchObject({ trustDomain: 'example.org', clusterId: 'cluster-east', debounceMs: 200 });
    });

    it("Istio's top-level shape overrides pilot.*; pilot.env replaces the chart's addresses; no autoscaling gives replicas", () => {
      const objs = render(helm, 'istiod', { set: { autoscaleEnabled: 'false', replicaCount: '3', 'pilot.env.GRPC_ADDR': '0.0.0.0:15010', 'env.MONITORING_ADDR': '127.0.0.1:0', 'pilot.image': 'pilot', 'waypoint.env.LOG_LEVEL': 'debug', 'meshConfig.defaultConfig.discoveryAddress': 'istiod.example:15012' } });
      const d = find<Workload>(objs, 'Deployment', 'istiod');
      expect(d.spec.replicas).toBe(3);
      expect(objs.some((o) => o.kind === 'HorizontalPodAutoscaler')).toBe(false);
      const c = container(d);
      expect(c.image).toBe('ghcr.io/ambient-mesh/controller:0.1.0'); // Istio's image name `pilot` means ours
      expect(envMap(c)).toMatchObject({ GRPC_ADDR: '0.0.0.0:15010', MONITORING_ADDR: '127.0.0.1:0', WAYPOINT_EXTRA_ENV: '{"LOG_LEVEL":"debug"}', DISCOVERY_ADDRESS: 'istiod.example:15012' });
      const parsed = controllerConfigFromEnv(resolvedEnv(c, { 'metadata.name': 'x', 'metadata.namespace': NS }));
      expect(parsed.ok && parsed.config.waypointExtraEnv).toEqual({ LOG_LEVEL: 'debug' });
    });

    it('RBAC: no delete anywhere, Secrets only by name in its own namespace, the writes it does', () => {
      const objs = render(helm, 'istiod');
      type Rule = { apiGroups: string[]; resources: string[]; verbs: string[]; resourceNames?: string[] };
      const cluster = find<{ rules: Rule[] } & KubeObject>(objs, 'ClusterRole', `istiod-${NS}`).rules;
      const role = find<{ rules: Rule[] } & KubeObject>(objs, 'Role', 'istiod').rules;
      for (const r of [...cluster, ...role]) {
        expect(r.verbs).not.toContain('delete');
        expect(r.verbs).not.toContain('*');
        expect(r.resources).not.toContain('*');
      }
      expect(cluster.some((r) => r.resources.includes('secrets'))).toBe(false);
      expect(role.filter((r) => r.resources.includes('secrets') && r.verbs.includes('get'))).toEqual([{ apiGroups: [''], resources: ['secrets'], resourceNames: ['cacerts', 'istio-ca-secret'], verbs: ['get'] }]);
      const binding = find<{ subjects: unknown[] } & KubeObject>(objs, 'ClusterRoleBinding', `istiod-${NS}`);
      expect(binding.subjects).toEqual([{ kind: 'ServiceAccount', name: 'istiod', namespace: NS }]);
    });
  });

  describe('ztunnel', () => {
    it('defaults: a DaemonSet, not host network, the istio-ca token, the root ConfigMap, the ZDS host path, Istio capabilities', () => {
      const objs = render(helm, 'ztunnel');
      const ds = find<Workload>(objs, 'DaemonSet', 'ztunnel');
      const pod = ds.spec.template.spec;
      const c = container(ds);
      expect(pod.hostNetwork).toBeFalsy();
      expect(pod.serviceAccountName).toBe('ztunnel');
      expect(pod.priorityClassName).toBe('system-node-critical');
      expect(ds.spec.updateStrategy).toEqual({ type: 'RollingUpdate', rollingUpdate: { maxSurge: 1, maxUnavailable: 0 } });
      expect(c.image).toBe('ghcr.io/ambient-mesh/ztunnel:0.1.0');
      expect(c.securityContext).toMatchObject({ privileged: false, runAsUser: 0, capabilities: { drop: ['ALL'], add: ['NET_ADMIN', 'SYS_ADMIN', 'NET_RAW'] } });
      expect(c.readinessProbe?.httpGet).toEqual({ path: '/healthz/ready', port: 15021 });

      const volume = (name: string) => pod.volumes?.find((v) => v.name === name);
      const mount = (name: string) => c.volumeMounts?.find((m) => m.name === name)?.mountPath;
      expect(volume('istio-token')).toEqual({ name: 'istio-token', projected: { sources: [{ serviceAccountToken: { path: 'istio-token', expirationSeconds: 43200, audience: 'istio-ca' } }] } });
      expect(mount('istio-token')).toBe('/var/run/secrets/tokens');
      expect(volume('istiod-ca-cert')).toEqual({ name: 'istiod-ca-cert', configMap: { name: 'istio-ca-root-cert' } });
      expect(mount('istiod-ca-cert')).toBe('/var/run/secrets/istio');
      expect(volume('cni-ztunnel-sock-dir')).toEqual({ name: 'cni-ztunnel-sock-dir', hostPath: { path: '/var/run/ztunnel', type: 'DirectoryOrCreate' } });
      expect(mount('cni-ztunnel-sock-dir')).toBe('/var/run/ztunnel');
      expect(volume('tmp')).toEqual({ name: 'tmp', emptyDir: {} });

      const env = envMap(c);
      expect(env).toMatchObject({
        CA_ADDRESS: `https://istiod.${NS}.svc:15012`,
        XDS_ADDRESS: `https://istiod.${NS}.svc:15012`,
        AUTH_TOKEN: '/var/run/secrets/tokens/istio-token',
        CA_ROOT_CA: '/var/run/secrets/istio/root-cert.pem',
        XDS_ROOT_CA: '/var/run/secrets/istio/root-cert.pem',
        INPOD_UDS: '/var/run/ztunnel/ztunnel.sock',
        CONNECTION_TERMINATION_DEADLINE: '29',
        NODE_NAME: 'fieldRef:spec.nodeName',
        POD_NAME: 'fieldRef:metadata.name',
        POD_NAMESPACE: 'fieldRef:metadata.namespace',
        INSTANCE_IP: 'fieldRef:status.podIP',
      });
      // Every path the process uses is under a mount of the pod.
      for (const k of ['AUTH_TOKEN', 'CA_ROOT_CA', 'XDS_ROOT_CA', 'INPOD_UDS']) expect(c.volumeMounts?.some((m) => env[k]!.startsWith(`${m.mountPath}/`)), k).toBe(true);
      const parsed = ztunnelConfigFromEnv(resolvedEnv(c, { 'metadata.name': 'ztunnel-x', 'metadata.namespace': NS, 'spec.nodeName': 'node1', 'status.podIP': '10.244.1.5', 'spec.serviceAccountName': 'ztunnel' }));
      expect(parsed.ok, JSON.stringify(parsed)).toBe(true);
      if (parsed.ok) expect(parsed.config).toMatchObject({ xdsAddress: `https://istiod.${NS}.svc:15012`, authTokenPath: '/var/run/secrets/tokens/istio-token', inpodUds: '/var/run/ztunnel/ztunnel.sock', terminationDeadlineMs: 29_000 });
    });

    it("an Istio user's values: top-level hub/tag win over global, bare xdsAddress gets https://, env and proxyMetadata land", () => {
      const objs = render(helm, 'ztunnel', { valuesFiles: [testdata('ztunnel-values.yaml')] });
      const ds = find<Workload>(objs, 'DaemonSet', 'ztunnel');
      const c = container(ds);
      expect(c.image).toBe('registry.example.com/ztunnel-builds/ztunnel:1.2.3-zt');
      expect(ds.spec.template.spec.terminationGracePeriodSeconds).toBe(12);
      expect(envMap(c)).toMatchObject({
        XDS_ADDRESS: 'https://istiod.mesh-system.svc:15012',
        CA_ADDRESS: `https://istiod.${NS}.svc:15012`,
        TRUST_DOMAIN: 'example.org',
        ISTIO_META_CLUSTER_ID: 'cluster-east',
        LOG_LEVEL: 'debug',
        CONNECTION_TERMINATION_DEADLINE: '11',
        SECRET_TTL: '12h',
        'XDS_HEADER_x-team': 'mesh',
      });
      const parsed = ztunnelConfigFromEnv(resolvedEnv(c, { 'metadata.name': 'ztunnel-x', 'metadata.namespace': NS, 'spec.nodeName': 'node1', 'status.podIP': '10.244.1.5', 'spec.serviceAccountName': 'ztunnel' }));
      expect(parsed.ok, JSON.stringify(parsed)).toBe(true);
      if (parsed.ok) expect(parsed.config).toMatchObject({ trustDomain: 'example.org', clusterId: 'cluster-east', secretTtlS: 43_200, xdsHeaders: { 'x-team': 'mesh' } });
      // global.hub/tag apply when the top level has none; env replaces the chart's own entries.
      const g = container(find<Workload>(render(helm, 'ztunnel', { set: { 'global.hub': 'r.example/m', 'global.tag': '9', 'env.INPOD_UDS': 'zds/ztunnel.sock' } }), 'DaemonSet', 'ztunnel'));
      expect(g.image).toBe('r.example/m/ztunnel:9');
      expect(envMap(g).INPOD_UDS).toBe('zds/ztunnel.sock');
      // A revision names no other istiod: the istiod chart's Service is `istiod` whatever the revision.
      const rev = container(find<Workload>(render(helm, 'ztunnel', { set: { revision: 'canary' } }), 'DaemonSet', 'ztunnel'));
      expect(envMap(rev).XDS_ADDRESS).toBe(`https://istiod.${NS}.svc:15012`);
      expect(find(render(helm, 'istiod', { set: { revision: 'canary' } }), 'Service', 'istiod').metadata.labels).toMatchObject({ 'istio.io/rev': 'canary' });
    });
  });

  describe('cni', () => {
    it('defaults: a host-network privileged DaemonSet with the CNI dirs, netns, ZDS and plugin-socket host paths; env the agent accepts', () => {
      const objs = render(helm, 'cni');
      const ds = find<Workload>(objs, 'DaemonSet', 'istio-cni-node');
      const pod = ds.spec.template.spec;
      const c = container(ds);
      expect(pod).toMatchObject({ hostNetwork: true, hostPID: true, priorityClassName: 'system-node-critical', serviceAccountName: 'istio-cni' });
      expect(c.image).toBe('ghcr.io/ambient-mesh/cni:0.1.0');
      expect(c.securityContext).toMatchObject({ privileged: true });
      const hostPath = (name: string) => (pod.volumes?.find((v) => v.name === name) as { hostPath?: { path: string } } | undefined)?.hostPath?.path;
      const mount = (name: string) => c.volumeMounts?.find((m) => m.name === name);
      expect(hostPath('cni-bin-dir')).toBe('/opt/cni/bin');
      expect(hostPath('cni-net-dir')).toBe('/etc/cni/net.d');
      expect(hostPath('cni-netns-dir')).toBe('/var/run/netns');
      expect(mount('cni-netns-dir')).toMatchObject({ mountPath: '/var/run/netns', mountPropagation: 'HostToContainer' });
      expect(hostPath('cni-ztunnel-sock-dir')).toBe('/var/run/ztunnel');
      expect(hostPath('cni-socket-dir')).toBe('/var/run/istio-cni');
      const env = envMap(c);
      expect(env).toMatchObject({ CNI_BIN_DIR: '/opt/cni/bin', CNI_NET_DIR: '/etc/cni/net.d', ZTUNNEL_UDS: '/var/run/ztunnel/ztunnel.sock', PLUGIN_EVENT_SOCKET: '/var/run/istio-cni/pluginevent.sock', AMBIENT_DNS_CAPTURE: 'true', NODE_NAME: 'fieldRef:spec.nodeName', KUBECONFIG: '/etc/istio-cni/kubeconfig' });
      for (const k of ['CNI_BIN_DIR', 'CNI_NET_DIR', 'ZTUNNEL_UDS', 'PLUGIN_EVENT_SOCKET', 'KUBECONFIG']) expect(c.volumeMounts?.some((m) => env[k] === m.mountPath || env[k]!.startsWith(`${m.mountPath}/`)), k).toBe(true);
      const kubeconfig = parse(find<{ data: { kubeconfig: string } } & KubeObject>(objs, 'ConfigMap', 'istio-cni-kubeconfig').data.kubeconfig) as { users: { user: Record<string, unknown> }[] };
      expect(kubeconfig.users[0]?.user).toEqual({ 'auth-provider': { name: 'tokenFile', config: { tokenFile: '/var/run/secrets/kubernetes.io/serviceaccount/token' } } });
      const parsed = agentConfigFromEnv(resolvedEnv(c, { 'spec.nodeName': 'node1', 'metadata.name': 'istio-cni-node-x', 'metadata.namespace': NS }));
      expect(parsed.ok, JSON.stringify(parsed)).toBe(true);
      if (parsed.ok) expect(parsed.config).toMatchObject({ nodeName: 'node1', cniBinDir: '/opt/cni/bin', cniNetDir: '/etc/cni/net.d', dnsCapture: true, flavour: 'iptables' });
      type Rule = { resources: string[]; verbs: string[] };
      expect(find<{ rules: Rule[] } & KubeObject>(objs, 'ClusterRole', 'istio-cni').rules.map((r) => [r.resources, r.verbs])).toEqual([[['pods'], ['get', 'list', 'watch', 'patch']], [['namespaces'], ['get', 'list', 'watch']], [['daemonsets'], ['get']]]);
    });

    it("an Istio user's values (cni: shape) and Istio's top-level shape both land", () => {
      const objs = render(helm, 'cni', { valuesFiles: [testdata('cni-values.yaml')] });
      const ds = find<Workload>(objs, 'DaemonSet', 'istio-cni-node');
      const c = container(ds);
      expect(c.image).toBe('registry.example.com/mesh/cni:1.2.3'); // Istio's `install-cni` means ours
      expect(c.resources).toEqual({ requests: { cpu: '50m', memory: '64Mi' } });
      const pod = ds.spec.template.spec;
      expect((pod.volumes?.find((v) => v.name === 'cni-bin-dir') as { hostPath?: { path: string } } | undefined)?.hostPath?.path).toBe('/home/kubernetes/bin');
      expect(c.volumeMounts?.find((m) => m.name === 'cni-bin-dir')?.mountPath).toBe('/home/kubernetes/bin');
      const env = envMap(c);
      expect(env).toMatchObject({ CNI_BIN_DIR: '/home/kubernetes/bin', AMBIENT_DNS_CAPTURE: 'false', NATIVE_NFTABLES: 'true', EXCLUDE_NAMESPACES: 'kube-system,istio-system', LOG_LEVEL: 'debug', ZTUNNEL_UID: '0' });
      const parsed = agentConfigFromEnv(resolvedEnv(c, { 'spec.nodeName': 'node1', 'metadata.name': 'x', 'metadata.namespace': NS }));
      expect(parsed.ok, JSON.stringify(parsed)).toBe(true);
      if (parsed.ok) expect(parsed.config).toMatchObject({ dnsCapture: false, flavour: 'nftables', ztunnelUid: 0, excludedNamespaces: new Set(['kube-system', 'istio-system']) });

      const top = container(find<Workload>(render(helm, 'cni', { set: { cniConfDir: '/etc/cni/multus.d', 'ambient.dnsCapture': 'false', 'env.HOST_NETNS': '/run/netns/n1' } }), 'DaemonSet', 'istio-cni-node'));
      expect(envMap(top)).toMatchObject({ CNI_NET_DIR: '/etc/cni/multus.d', AMBIENT_DNS_CAPTURE: 'false', HOST_NETNS: '/run/netns/n1' });
    });
  });
});

describe('charts on the lab apiserver (root)', () => {
  let lab: LabState;
  const dir = () => join(lab.dir, 'charts-test');

  beforeAll(async () => {
    if (runningLab()) throw new Error("a lab is already running: this suite brings up its own; run 'e2e/lab/lab down' first");
    lab = await up({ nodes: 1, log: (l) => console.log(l) });
    mkdirSync(dir(), { recursive: true });
    const ns = kubectl(['create', 'namespace', NS]);
    expect(ns.status, ns.stderr).toBe(0);
  });

  afterAll(async () => {
    if (runningLab()) await down();
  });

  it('the dry-run rejects what the schema rejects (the check has teeth)', () => {
    const bad = helmTemplate(helm, 'ztunnel').stdout.replace('terminationGracePeriodSeconds:', 'terminationGracePeriodSecondz:');
    const r = kubectl(['apply', '--dry-run=server', '--validate=strict', '-f', '-'], bad);
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(/unknown field "spec\.template\.spec\.terminationGracePeriodSecondz"/);
  });

  for (const chart of CHARTS) {
    for (const [name, opts] of Object.entries(VALUE_SETS)) {
      it(`${chart} with ${name}: every object passes the apiserver's server-side dry-run, strict fields`, () => {
        const manifest = helmTemplate(helm, chart, opts(chart));
        expect(manifest.status, manifest.stderr).toBe(0);
        const r = kubectl(['apply', '--dry-run=server', '--validate=strict', '-f', '-'], manifest.stdout);
        expect(r.status, r.stderr).toBe(0);
        expect(r.stderr).toBe('');
        const applied = r.stdout.trim().split('\n');
        expect(applied).toHaveLength(parseManifests(manifest.stdout).length);
        for (const line of applied) expect(line).toMatch(/ (created|configured|unchanged) \(server dry run\)$/);
      });
    }
  }

  it('cni RBAC: the agent may read and annotate pods and read namespaces, nothing more', () => {
    const objs = render(helm, 'cni').filter((o) => ['ServiceAccount', 'ClusterRole', 'ClusterRoleBinding'].includes(o.kind));
    const r = kubectl(['apply', '-f', '-'], objs.map((o) => stringify(o)).join('---\n'));
    expect(r.status, r.stderr).toBe(0);
    const can = (verb: string, resource: string, ns = 'default') => kubectl(['auth', 'can-i', verb, resource, '-n', ns, `--as=system:serviceaccount:${NS}:istio-cni`]).stdout.trim();
    expect([can('list', 'pods'), can('watch', 'pods'), can('get', 'pods'), can('patch', 'pods'), can('list', 'namespaces'), can('get', 'namespaces')]).toEqual(['yes', 'yes', 'yes', 'yes', 'yes', 'yes']);
    expect([can('delete', 'pods'), can('create', 'pods'), can('get', 'secrets', NS), can('list', 'configmaps')]).toEqual(['no', 'no', 'no', 'no']);
  });

  it("the cni agent runs on the chart's kubeconfig (service-account token file) and RBAC alone; uninstall takes the plugin out", async () => {
    const objs = render(helm, 'cni');
    const rbac = objs.filter((o) => ['ServiceAccount', 'ClusterRole', 'ClusterRoleBinding'].includes(o.kind));
    const applied = kubectl(['apply', '-f', '-'], rbac.map((o) => stringify(o)).join('---\n'));
    expect(applied.status, applied.stderr).toBe(0);
    // The chart's kubeconfig as written, pointed at a service-account dir as the kubelet would
    // project it (token + ca.crt) and at the lab's apiserver.
    const saDir = join(dir(), 'cni-serviceaccount');
    mkdirSync(saDir, { recursive: true });
    const token = kubectl(['create', 'token', 'istio-cni', '-n', NS, '--duration', '1h']);
    expect(token.status, token.stderr).toBe(0);
    writeFileSync(join(saDir, 'token'), token.stdout.trim(), { mode: 0o600 });
    const admin = parse(readFileSync(lab.kubeconfig, 'utf8')) as { clusters: { cluster: { 'certificate-authority': string } }[] };
    writeFileSync(join(saDir, 'ca.crt'), readFileSync(admin.clusters[0]!.cluster['certificate-authority']));
    const chartKubeconfig = find<{ data: { kubeconfig: string } } & KubeObject>(objs, 'ConfigMap', 'istio-cni-kubeconfig').data.kubeconfig;
    const kc = parse(chartKubeconfig.replaceAll('/var/run/secrets/kubernetes.io/serviceaccount', saDir)) as { clusters: { cluster: { server: string } }[] };
    kc.clusters[0]!.cluster.server = lab.apiserverUrl;
    const kubeconfig = join(dir(), 'istio-cni.kubeconfig');
    writeFileSync(kubeconfig, stringify(kc), { mode: 0o600 });

    // The chart's environment with node1's paths and loopback ephemeral ports (a host process).
    const node = lab.nodes[0]!;
    const run = join(dir(), 'cni-run');
    mkdirSync(run, { recursive: true });
    const c = container(find<Workload>(objs, 'DaemonSet', 'istio-cni-node'));
    const env = {
      ...resolvedEnv(c, { 'spec.nodeName': node.name, 'metadata.name': 'istio-cni-node-test', 'metadata.namespace': NS }),
      KUBECONFIG: kubeconfig, ZTUNNEL_UDS: join(run, 'ztunnel.sock'), PLUGIN_EVENT_SOCKET: join(run, 'pluginevent.sock'),
      CNI_NET_DIR: node.cniConfDir, CNI_BIN_DIR: node.cniBinDir, HOST_NETNS: `/run/netns/${node.netns}`,
      READINESS_ADDR: '127.0.0.1:0', METRICS_ADDR: '127.0.0.1:0', NODE_OPTIONS: '--disable-warning=ExperimentalWarning',
    };
    const agentMain = join(REPO_ROOT, 'cni/agent/main.ts');
    const log = join(dir(), 'cni-agent.log');
    const p = startDaemon('cni-agent-charts-test', [process.execPath, agentMain], log, lab.runId, env);
    lab.processes.push(p);
    writeState(lab);
    const conflist = () => readdirSync(node.cniConfDir).filter((f) => f.endsWith('.conflist')).map((f) => readFileSync(join(node.cniConfDir, f), 'utf8')).join('\n');
    try {
      await pollUntil('the node agent ready', () => {
        if (!isAlive(p.pid)) throw new Error(`agent exited:\n${tail(log)}`);
        return readFileSync(log, 'utf8').includes('"msg":"node agent ready"');
      }, { timeoutMs: 60_000 });
      expect(conflist()).toContain('"ambient-cni"');
      expect(readFileSync(log, 'utf8')).not.toMatch(/forbidden|Forbidden|"code":403/);
    } finally {
      try {
        process.kill(p.pid, 'SIGTERM');
      } catch {
        /* gone */
      }
      await pollUntil('the agent to exit', () => !isAlive(p.pid), { timeoutMs: 15_000 }).catch(() => process.kill(p.pid, 'SIGKILL'));
      // `main.ts uninstall` with the same environment (the chart's pre-delete step, when there is one).
      const un = spawnSync(process.execPath, [agentMain, 'uninstall'], { env: { ...process.env, ...env }, encoding: 'utf8', timeout: 30_000 });
      expect(un.status, un.stderr).toBe(0);
    }
    expect(conflist()).not.toContain('"ambient-cni"');
  });

  it("the controller runs on istiod's RBAC alone: CA Secret, root ConfigMaps, Lease, a waypoint and its Gateway status", async () => {
    const objs = render(helm, 'istiod');
    const rbac = objs.filter((o) => ['ServiceAccount', 'ClusterRole', 'ClusterRoleBinding', 'Role', 'RoleBinding'].includes(o.kind));
    const applied = kubectl(['apply', '-f', '-'], rbac.map((o) => stringify(o)).join('---\n'));
    expect(applied.status, applied.stderr).toBe(0);
    expect(kubectl(['auth', 'can-i', 'get', 'secrets', '-n', 'default', `--as=system:serviceaccount:${NS}:istiod`]).stdout.trim()).toBe('no');
    expect(kubectl(['auth', 'can-i', 'delete', 'deployments', '-n', 'default', `--as=system:serviceaccount:${NS}:istiod`]).stdout.trim()).toBe('no');

    // A kubeconfig with only the istiod service account's token (what in-cluster config would give).
    const token = kubectl(['create', 'token', 'istiod', '-n', NS, '--duration', '1h']);
    expect(token.status, token.stderr).toBe(0);
    const admin = parse(readFileSync(lab.kubeconfig, 'utf8')) as { clusters: { name: string; cluster: Record<string, unknown> }[] };
    const kubeconfig = join(dir(), 'istiod.kubeconfig');
    writeFileSync(kubeconfig, stringify({
      apiVersion: 'v1', kind: 'Config', clusters: admin.clusters,
      users: [{ name: 'istiod', user: { token: token.stdout.trim() } }],
      contexts: [{ name: 'istiod', context: { cluster: admin.clusters[0]!.name, user: 'istiod' } }],
      'current-context': 'istiod',
    }), { mode: 0o600 });

    // The chart's environment, with loopback ephemeral ports (a host process, not a pod).
    const c = container(find<Workload>(objs, 'Deployment', 'istiod'));
    const env = { ...resolvedEnv(c, { 'metadata.name': 'istiod-charts-test', 'metadata.namespace': NS }), KUBECONFIG: kubeconfig, GRPC_ADDR: '127.0.0.1:0', GRPC_TLS_ADDR: '127.0.0.1:0', MONITORING_ADDR: '127.0.0.1:0', NODE_OPTIONS: '--disable-warning=ExperimentalWarning' };
    const log = join(dir(), 'controller.log');
    const p = startDaemon('controller-charts-test', [process.execPath, join(REPO_ROOT, 'controller/src/main.ts')], log, lab.runId, env);
    lab.processes.push(p);
    writeState(lab);
    try {
      await pollUntil('the controller ready', () => {
        if (!isAlive(p.pid)) throw new Error(`controller exited:\n${tail(log)}`);
        return readFileSync(log, 'utf8').includes('"msg":"controller ready"');
      }, { timeoutMs: 60_000 });
      const get = (args: string[]) => kubectl(['get', ...args]).status === 0;
      await pollUntil('istio-ca-secret created in its namespace', () => get(['secret', 'istio-ca-secret', '-n', NS]), { timeoutMs: 30_000 });
      await pollUntil('the Lease held', () => kubectl(['get', 'lease', 'ambient-controller', '-n', NS, '-o', 'jsonpath={.spec.holderIdentity}']).stdout === 'istiod-charts-test', { timeoutMs: 30_000 });
      await pollUntil('the root published in default and kube-system', () => get(['configmap', 'istio-ca-root-cert', '-n', 'default']) && get(['configmap', 'istio-ca-root-cert', '-n', 'kube-system']), { timeoutMs: 30_000 });

      // A waypoint: the controller applies its ServiceAccount, Service and Deployment (our image
      // from the chart's WAYPOINT_IMAGE) and writes the Gateway's status.
      const wp = kubectl(['apply', '-f', '-'], stringify({
        apiVersion: 'gateway.networking.k8s.io/v1', kind: 'Gateway',
        metadata: { name: 'waypoint', namespace: 'default', labels: { 'istio.io/waypoint-for': 'service' } },
        spec: { gatewayClassName: 'istio-waypoint', listeners: [{ name: 'mesh', port: 15008, protocol: 'HBONE' }] },
      }));
      expect(wp.status, wp.stderr).toBe(0);
      const image = await pollUntil('the waypoint Deployment', () => kubectl(['get', 'deployment', 'waypoint', '-n', 'default', '-o', 'jsonpath={.spec.template.spec.containers[0].image}']).stdout || undefined, { timeoutMs: 30_000 });
      expect(image).toBe('ghcr.io/ambient-mesh/waypoint:0.1.0');
      expect(get(['service', 'waypoint', '-n', 'default']) && get(['serviceaccount', 'waypoint', '-n', 'default'])).toBe(true);
      await pollUntil('the Gateway status written', () => {
        const conds = JSON.parse(kubectl(['get', 'gateway', 'waypoint', '-n', 'default', '-o', 'jsonpath={.status.conditions}']).stdout || '[]') as { type: string; status: string }[];
        return conds.some((x) => x.type === 'Accepted' && x.status === 'True');
      }, { timeoutMs: 30_000 });
      expect(kubectl(['delete', 'gateway', 'waypoint', '-n', 'default', '--wait=true']).status).toBe(0);

      // Nothing it tried was refused.
      expect(readFileSync(log, 'utf8')).not.toMatch(/forbidden|Forbidden|"code":403/);
    } finally {
      try {
        process.kill(p.pid, 'SIGTERM');
      } catch {
        /* gone */
      }
      await pollUntil('the controller to exit', () => !isAlive(p.pid), { timeoutMs: 15_000 }).catch(() => process.kill(p.pid, 'SIGKILL'));
    }
  });
});
