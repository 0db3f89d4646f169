// The controller on a cluster without the Gateway API CRDs (they are optional, as for istiod): it
// serves workload xDS and the CA with the kinds that are installed and logs the missing ones; once
// the CRDs are applied, Gateway objects are picked up (a waypoint Gateway gets its Deployment)
// without a restart.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../lab/config.ts';
import { down, kubectlSync, up } from '../lab/lab.ts';
import { pollUntil } from '../lab/poll.ts';
import { isReady, type PodJson } from '../lab/sample-apps.ts';
import type { LabState } from '../lab/state.ts';
import { LabMesh } from '../ztunnel/lab-mesh.ts';
import { requireRoot } from '../ztunnel/netns-harness.ts';

const NS = 'nocrd-e2e';
const GATEWAY_CRDS = readdirSync(join(REPO_ROOT, 'charts/base/crds')).filter((f) => f.startsWith('gateway.networking.k8s.io_')).map((f) => join(REPO_ROOT, 'charts/base/crds', f));

const APP = `
apiVersion: v1
kind: ServiceAccount
metadata: { name: sleep, namespace: ${NS} }
---
apiVersion: v1
kind: Pod
metadata: { name: sleep, namespace: ${NS}, labels: { app: sleep } }
spec: { nodeName: node1, serviceAccountName: sleep, containers: [{ name: main, image: lab/sleep }] }
`;

const GATEWAY = `
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: { name: waypoint, namespace: ${NS} }
spec:
  gatewayClassName: istio-waypoint
  listeners: [{ name: mesh, port: 15008, protocol: HBONE }]
`;

interface Dump { workloads: { name: string; namespace: string }[]; certificates: { identity: string; state: string }[] }

describe('controller without the Gateway API CRDs (root)', () => {
  let lab: LabState;
  let mesh: LabMesh;
  const controllerLog = () => readFileSync(mesh.controller().log, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>);

  beforeAll(async () => {
    requireRoot('e2e/controller/missing-crds.test.ts');
    lab = await up({ nodes: 1 });
    kubectlSync(lab, ['delete', '--wait=true', ...GATEWAY_CRDS.flatMap((f) => ['-f', f])]);
    kubectlSync(lab, ['create', 'namespace', NS]);
    kubectlSync(lab, ['apply', '-f', '-'], APP);
    // Before the fix the controller waited for the Gateway informers forever: no 'controller ready'.
    mesh = await LabMesh.start(lab, { controller: true });
    kubectlSync(lab, ['label', 'ns', NS, 'istio.io/dataplane-mode=ambient']);
  }, 240_000);

  afterAll(async () => {
    await mesh?.stop();
    await down();
  }, 120_000);

  it('serves xDS and the CA with the kinds present, and says which are missing', async () => {
    await pollUntil('the pod to be Ready', () => {
      const p = JSON.parse(kubectlSync(lab, ['get', 'pod', '-n', NS, 'sleep', '-o', 'json']).stdout) as PodJson;
      return isReady(p);
    }, { timeoutMs: 90_000 });
    // xDS: the ztunnel holds the pod; CA: it got the pod's certificate from the controller.
    let last = '';
    const d = await pollUntil('the ztunnel to hold the pod and its certificate', async () => {
      last = await mesh.admin('node1', '/config_dump');
      const dump = JSON.parse(last) as Dump;
      return dump.workloads.some((w) => w.namespace === NS && w.name === 'sleep') && dump.certificates.some((c) => c.identity === `spiffe://cluster.local/ns/${NS}/sa/sleep` && c.state === 'Available') ? dump : undefined;
    }, { timeoutMs: 30_000 }).catch((err: Error) => {
      throw new Error(`${err.message}; last /config_dump: ${last.slice(0, 3000)}`);
    });
    expect(d.workloads.map((w) => w.name)).toContain('sleep');
    const missing = controllerLog().find((l) => l.msg === 'serving without these kinds (CRDs not installed); they are picked up when installed');
    expect(missing?.missing).toEqual(expect.arrayContaining(['/apis/gateway.networking.k8s.io/v1/gateways', '/apis/gateway.networking.k8s.io/v1/httproutes', '/apis/gateway.networking.k8s.io/v1/gatewayclasses', '/apis/gateway.networking.k8s.io/v1/grpcroutes']));
    expect(missing?.missing).not.toContain('/apis/security.istio.io/v1/authorizationpolicies');
    const ready = await fetch(`http://127.0.0.1:${mesh.controller().ports.monitoring}/ready`);
    expect(ready.status).toBe(200);
  });

  it('picks up Gateway objects once the CRDs are applied', async () => {
    kubectlSync(lab, ['apply', '--server-side', ...GATEWAY_CRDS.flatMap((f) => ['-f', f])]);
    await pollUntil('the Gateway API CRDs to be Established', () => {
      const crds = JSON.parse(kubectlSync(lab, ['get', 'crd', '-o', 'json']).stdout) as { items: { spec: { group: string }; status?: { conditions?: { type: string; status: string }[] } }[] };
      const gw = crds.items.filter((c) => c.spec.group === 'gateway.networking.k8s.io');
      return gw.length === GATEWAY_CRDS.length && gw.every((c) => c.status?.conditions?.some((x) => x.type === 'Established' && x.status === 'True'));
    }, { timeoutMs: 60_000 });
    await pollUntil('the controller to pick up the Gateway kinds', () => controllerLog().filter((l) => l.msg === 'resource is served now: picked up').length >= GATEWAY_CRDS.length, { timeoutMs: 20_000 });
    kubectlSync(lab, ['apply', '-f', '-'], GATEWAY);
    const dep = await pollUntil('the waypoint Deployment for the Gateway', () => {
      const r = kubectlSync(lab, ['get', 'deployment', '-n', NS, 'waypoint', '-o', 'json', '--ignore-not-found']);
      return r.stdout.trim() ? (JSON.parse(r.stdout) as { metadata: { ownerReferences?: { kind: string; name: string }[] } }) : undefined;
    }, { timeoutMs: 30_000 });
    expect(dep.metadata.ownerReferences?.map((o) => `${o.kind}/${o.name}`)).toContain('Gateway/waypoint');
  });
});
