// `ambientctl` against the lab's real apiserver, run as a user runs it (cli/bin/ambientctl with
// KUBECONFIG): waypoint generate/apply/list/delete with istioctl's output, namespace enrolment, and
// ztunnel-config reading the lab ztunnels' admin ports through AMBIENTCTL_ZTUNNEL_ADMIN.
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { down, kubectlSync, up } from '../lab/lab.ts';
import { pollUntil } from '../lab/poll.ts';
import { isReady, type PodJson } from '../lab/sample-apps.ts';
import type { LabState } from '../lab/state.ts';
import { requireRoot } from '../ztunnel/netns-harness.ts';
import { HelmMesh } from '../lab/mesh-helm.ts';

const BIN = fileURLToPath(new URL('../../cli/bin/ambientctl', import.meta.url));
const NS = 'wp-cli';

const MANIFESTS = `
apiVersion: v1
kind: Namespace
metadata: { name: ${NS} }
---
apiVersion: v1
kind: Pod
metadata: { name: sleep, namespace: ${NS}, labels: { app: sleep } }
spec: { nodeName: node1, containers: [{ name: main, image: lab/sleep }] }
`;

describe('ambientctl on the lab (root)', () => {
  let lab: LabState;
  let mesh: HelmMesh;
  const ctl = (args: string[], env: NodeJS.ProcessEnv = {}) => {
    const r = spawnSync(BIN, args, { encoding: 'utf8', env: { ...process.env, KUBECONFIG: lab.kubeconfig, ...env }, timeout: 60_000 });
    return { code: r.status, out: r.stdout, err: r.stderr };
  };
  const gateways = () => (JSON.parse(kubectlSync(lab, ['get', 'gateways.gateway.networking.k8s.io', '-n', NS, '-o', 'json', '--show-managed-fields']).stdout) as { items: { metadata: { name: string; labels?: Record<string, string>; managedFields?: { manager: string }[] }; spec: unknown }[] }).items;

  beforeAll(async () => {
    requireRoot('e2e/waypoint/ambientctl.test.ts');
    lab = await up({ nodes: 2 });
    kubectlSync(lab, ['apply', '-f', '-'], MANIFESTS);
    await pollUntil('the sleep pod to be Ready', () => {
      const pods = (JSON.parse(kubectlSync(lab, ['get', 'pods', '-n', NS, '-o', 'json']).stdout) as { items: PodJson[] }).items;
      return pods.length === 1 && pods.every(isReady);
    }, { timeoutMs: 90_000 });
    mesh = await HelmMesh.install(lab);
  }, 240_000);

  afterAll(async () => {
    await down();
  }, 120_000);

  it('generate prints the Gateway istioctl generates', () => {
    expect(ctl(['waypoint', 'generate', '--for', 'service', '-n', NS])).toEqual({
      code: 0, err: '',
      out: `apiVersion: gateway.networking.k8s.io/v1\nkind: Gateway\nmetadata:\n  labels:\n    istio.io/waypoint-for: service\n  name: waypoint\n  namespace: ${NS}\nspec:\n  gatewayClassName: istio-waypoint\n  listeners:\n  - name: mesh\n    port: 15008\n    protocol: HBONE\n`,
    });
  });

  it('apply server-side applies as field manager istioctl; --enroll-namespace labels the namespace', () => {
    expect(ctl(['waypoint', 'apply', '-n', NS])).toEqual({ code: 0, err: '', out: `✅ waypoint ${NS}/waypoint applied\n` });
    const r = ctl(['waypoint', 'apply', '-n', NS, '--name', 'w2', '--for', 'workload', '-r', 'canary', '--enroll-namespace']);
    expect(r.code).toBe(0);
    expect(r.out).toBe(`⚠️ Warning: namespace is not enrolled in ambient. Consider running\t\`kubectl label namespace ${NS} istio.io/dataplane-mode=ambient\`\n`
      + `✅ waypoint ${NS}/w2 applied\n✅ namespace ${NS} labeled with "istio.io/use-waypoint: w2"\n`);
    const gws = gateways();
    expect(gws.map((g) => g.metadata.name).sort()).toEqual(['w2', 'waypoint']);
    expect(gws.find((g) => g.metadata.name === 'w2')!.metadata.labels).toMatchObject({ 'istio.io/waypoint-for': 'workload', 'istio.io/rev': 'canary' });
    expect(gws.every((g) => g.metadata.managedFields?.some((m) => m.manager === 'istioctl'))).toBe(true);
    expect(kubectlSync(lab, ['get', 'ns', NS, '-o', 'jsonpath={.metadata.labels.istio\\.io/use-waypoint}']).stdout).toBe('w2');
    // Already enrolled: only the warning, nothing applied.
    expect(ctl(['waypoint', 'apply', '-n', NS, '--name', 'w3', '--enroll-namespace']).out).toMatch(/already has an enrolled Waypoint/);
    expect(gateways()).toHaveLength(2);
  });

  it('list shows both waypoints in this namespace and, with -A, with their namespace', () => {
    const one = ctl(['waypoint', 'list', '-n', NS]);
    expect(one.code).toBe(0);
    expect(one.out.split('\n')[0]).toBe('NAME         REVISION     TRAFFIC TYPE     PROGRAMMED');
    expect(one.out).toMatch(/^w2 +canary +workload +(True|False)$/m);
    expect(one.out).toMatch(/^waypoint +default +none +(True|False)$/m);
    expect(ctl(['waypoint', 'list', '-A']).out).toMatch(new RegExp(`^${NS} +waypoint +default +none`, 'm'));
  });

  it('ztunnel-config reads the lab ztunnels through AMBIENTCTL_ZTUNNEL_ADMIN', async () => {
    const env = { AMBIENTCTL_ZTUNNEL_ADMIN: ['node1', 'node2'].map((n) => `${n}=http://127.0.0.1:${mesh.ztunnel(n).ports.admin}`).join(',') };
    const r = await pollUntil('the sleep pod in ztunnel-config workloads', () => {
      const x = ctl(['ztunnel-config', 'workloads', '--node', 'node2', '--workload-namespace', NS], env);
      return x.code === 0 && / sleep /.test(x.out) ? x : undefined;
    }, { timeoutMs: 15_000 });
    // Columns as istioctl's (padding 1; widths follow the longest cell, e.g. the namespace's waypoint pods).
    expect(r.out.split('\n')[0]).toMatch(/^NAMESPACE POD NAME +ADDRESS +NODE +WAYPOINT PROTOCOL$/);
    // The namespace is enrolled to w2, a workload waypoint (apply above): sleep uses it; the waypoint pods use none.
    expect(r.out).toMatch(new RegExp(`^${NS} +sleep +10\\.244\\.\\d+\\.\\d+ +node1 +w2 +TCP$`, 'm'));
    expect(r.out).toMatch(new RegExp(`^${NS} +w2-[a-z0-9]+-[a-z0-9]+ +10\\.244\\.\\d+\\.\\d+ +node\\d +None +TCP$`, 'm'));
    expect(ctl(['zc', 'services', '--service-namespace', 'default'], env).out).toMatch(/^default +kubernetes +10\.96\.0\.1 /m);
  });

  it('delete removes named waypoints, says which do not exist, and --all empties the namespace', () => {
    expect(ctl(['waypoint', 'delete', '-n', NS, 'w2', 'ghost'])).toEqual({ code: 0, err: '', out: `waypoint ${NS}/ghost not found\nwaypoint ${NS}/w2 deleted\n` });
    expect(ctl(['waypoint', 'delete', '-n', NS, '--all']).out).toBe(`waypoint ${NS}/waypoint deleted\n`);
    expect(ctl(['waypoint', 'list', '-n', NS]).out).toBe('No waypoints found.\n');
    expect(ctl(['waypoint', 'delete', '-n', NS])).toEqual({ code: 1, out: '', err: 'Error: must specify a waypoint name or delete all using --all or delete specific revision using --revision\n' });
  });
});
