// The mesh driven entirely by Kubernetes objects, installed with Helm as a user installs it
// (e2e/lab/mesh-helm.ts): istiod (informers → workload xDS + CA), the istio-cni node agents and
// ztunnels on both lab nodes, ztunnels authenticated with their pods' projected tokens.
// Labelling namespaces ambient turns their traffic into HBONE with the right identities; scaling
// shows in /config_dump (how fast is bench/controller's push latency); AuthorizationPolicy and
// PeerAuthentication take effect without restarts, each refusal proven by the destination ztunnel's
// access line and DENY count; the CA refuses what it must, with real TokenReview.
import { randomBytes } from 'node:crypto';
import { status } from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCsr } from '../../lib/identity/index.ts';
import { generateP256KeyPair, signingAlgorithmFor, x509 } from '../../lib/identity/x509.ts';
import { testCaClient } from '../../controller/src/ca/test-client.ts';
import { down, kubectlSync, podRef, up } from '../lab/lab.ts';
import { HelmMesh } from '../lab/mesh-helm.ts';
import { pollUntil } from '../lab/poll.ts';
import { isReady, type PodJson } from '../lab/sample-apps.ts';
import type { LabState } from '../lab/state.ts';
import { expectRefused, talkTraced } from '../ztunnel/denial.ts';
import { captureFabric } from '../ztunnel/lab-mesh.ts';
import { requireRoot, talk } from '../ztunnel/netns-harness.ts';

const MANIFESTS = `
apiVersion: v1
kind: Namespace
metadata: { name: app-a }
---
apiVersion: v1
kind: Namespace
metadata: { name: app-b }
---
apiVersion: v1
kind: Namespace
metadata: { name: outside }
---
apiVersion: v1
kind: ServiceAccount
metadata: { name: sleep, namespace: app-a }
---
apiVersion: v1
kind: ServiceAccount
metadata: { name: echo, namespace: app-b }
---
apiVersion: v1
kind: Pod
metadata: { name: sleep, namespace: app-a, labels: { app: sleep } }
spec: { nodeName: node1, serviceAccountName: sleep, containers: [{ name: main, image: lab/sleep }] }
---
apiVersion: v1
kind: Pod
metadata: { name: outsider, namespace: outside, labels: { app: outsider } }
spec: { nodeName: node1, containers: [{ name: main, image: lab/sleep }] }
---
apiVersion: apps/v1
kind: Deployment
metadata: { name: echo, namespace: app-b }
spec:
  replicas: 2
  selector: { matchLabels: { app: echo } }
  template:
    metadata: { labels: { app: echo, version: v1 } }
    spec:
      nodeSelector: { kubernetes.io/hostname: node2 }
      serviceAccountName: echo
      containers: [{ name: main, image: lab/tcp-echo }]
---
apiVersion: v1
kind: Service
metadata: { name: echo, namespace: app-b }
spec: { selector: { app: echo }, ports: [{ name: tcp, port: 80, targetPort: 9000 }] }
`;

const SLEEP_ID = 'spiffe://cluster.local/ns/app-a/sa/sleep';

interface Dump { workloads: { name: string; namespace: string; protocol: string }[]; policies: { name: string; namespace: string }[] }

describe('the mesh from Kubernetes objects: controller + agents + ztunnels (root)', () => {
  let lab: LabState;
  let mesh: HelmMesh;
  let vip: string;
  const netns = (ns: string, name: string) => podRef(ns, name, lab).netns;
  const pods = (ns: string) => (JSON.parse(kubectlSync(lab, ['get', 'pods', '-n', ns, '-o', 'json']).stdout) as { items: (PodJson & { metadata: { name: string; annotations?: Record<string, string> }; status: { podIP?: string } })[] }).items;
  const echoIps = () => pods('app-b').filter((p) => p.metadata.labels?.app === 'echo' && p.status.podIP).map((p) => p.status.podIP!);
  const dump = async (node: string) => JSON.parse(await mesh.admin(node, '/config_dump')) as Dump;
  const fromSleep = (ip: string, port: number, payload: string) => talk(netns('app-a', 'sleep'), ip, port, payload);

  beforeAll(async () => {
    requireRoot('e2e/controller/mesh.test.ts');
    lab = await up({ nodes: 2 });
    kubectlSync(lab, ['apply', '-f', '-'], MANIFESTS);
    await pollUntil('the apps to be Ready', () => {
      const all = [...pods('app-a'), ...pods('app-b'), ...pods('outside')];
      return all.length === 4 && all.every(isReady);
    }, { timeoutMs: 90_000 });
    vip = kubectlSync(lab, ['get', 'svc', '-n', 'app-b', 'echo', '-o', 'jsonpath={.spec.clusterIP}']).stdout.trim();
    mesh = await HelmMesh.install(lab);
  }, 240_000);

  afterAll(async () => {
    await down();
  }, 120_000);

  it('labelling the namespaces ambient alone turns their traffic into HBONE with the right identities', async () => {
    kubectlSync(lab, ['label', 'ns', 'app-a', 'app-b', 'istio.io/dataplane-mode=ambient']);
    await pollUntil('every app pod captured', () => [...pods('app-a'), ...pods('app-b')].every((p) => p.metadata.annotations?.['ambient.istio.io/redirection'] === 'enabled'), { timeoutMs: 30_000 });
    await pollUntil('ztunnels to see the pods as HBONE', async () => {
      const d = await dump('node1');
      return d.workloads.filter((w) => w.namespace !== 'istio-system' && w.namespace !== 'outside').length === 3 && d.workloads.filter((w) => w.namespace.startsWith('app-')).every((w) => w.protocol === 'HBONE');
    }, { timeoutMs: 15_000 });
    const secret = `s-${randomBytes(6).toString('hex')}`;
    const cap = await captureFabric(lab, async () => [await fromSleep(echoIps()[0]!, 9000, secret), await fromSleep(vip, 80, `${secret}-vip`)]);
    expect(cap.result).toEqual([secret, `${secret}-vip`]);
    expect(cap.raw.includes(Buffer.from(secret))).toBe(false);
    expect(cap.text.filter((l) => !/\.15008[ :]/.test(l))).toEqual([]);
    expect(cap.tls.problems).toEqual([]);
    const line = await pollUntil('the inbound access log line with the client identity', () =>
      mesh.logLines('node2').find((l) => l.scope === 'access' && l.direction === 'inbound' && l['src.identity'] === SLEEP_ID), { timeoutMs: 10_000 });
    expect(line['dst.identity']).toBe('spiffe://cluster.local/ns/app-b/sa/echo');
    // The certificates came from the controller's CA, through impersonation by each node's ztunnel.
    const certs = (JSON.parse(await mesh.admin('node2', '/config_dump')) as { certificates: { identity: string; state: string }[] }).certificates;
    expect(certs.map((c) => `${c.identity} ${c.state}`)).toContain('spiffe://cluster.local/ns/app-b/sa/echo Available');
  });

  it('reflects scaling the Deployment up and down in /config_dump', async () => {
    const echoCount = async () => (await dump('node1')).workloads.filter((w) => w.namespace === 'app-b').length;
    kubectlSync(lab, ['scale', 'deployment', '-n', 'app-b', 'echo', '--replicas=3']);
    await pollUntil('the third echo pod to be Ready', () => pods('app-b').filter((p) => isReady(p)).length === 3, { timeoutMs: 60_000 });
    await pollUntil('ztunnel to have 3 echo workloads', async () => (await echoCount()) === 3, { timeoutMs: 15_000, intervalMs: 50 });
    kubectlSync(lab, ['scale', 'deployment', '-n', 'app-b', 'echo', '--replicas=1']);
    await pollUntil('the extra pods to be gone', () => pods('app-b').length === 1, { timeoutMs: 60_000 });
    await pollUntil('ztunnel to have 1 echo workload', async () => (await echoCount()) === 1, { timeoutMs: 15_000, intervalMs: 50 });
  }, 150_000);

  it('applies, changes and deletes an AuthorizationPolicy without restarting anything', async () => {
    const pids = [mesh.ztunnel('node1').pid, mesh.ztunnel('node2').pid];
    const target = () => echoIps()[0]!;
    const policy = (principal: string) => `
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: { name: deny-one, namespace: app-b }
spec: { action: DENY, rules: [{ from: [{ source: { principals: ["${principal}"] } }] }] }
`;
    // Waiting for the policy to arrive uses the reply; the proof of each refusal is node2's access
    // line for that connection (the policy named) and its DENY count moving by one.
    const refusedByPolicy = () => expectRefused(mesh, {
      node: 'node2', dst: { ip: target(), port: 9000 }, flag: 'DENY', error: /^denied by app-b\/deny-one$/,
      labels: { source_principal: SLEEP_ID, destination_workload_namespace: 'app-b' }, line: { 'src.identity': SLEEP_ID }, sourceNode: 'node1',
    }, () => talkTraced(netns('app-a', 'sleep'), target(), 9000, 'x'));
    expect(await fromSleep(target(), 9000, 'open')).toBe('open');
    kubectlSync(lab, ['apply', '-f', '-'], policy('cluster.local/ns/app-a/sa/sleep'));
    await pollUntil('the DENY to arrive', async () => (await fromSleep(target(), 9000, 'x')) !== 'x', { timeoutMs: 10_000 });
    await refusedByPolicy();
    kubectlSync(lab, ['apply', '-f', '-'], policy('cluster.local/ns/app-a/sa/someone-else'));
    await pollUntil('the changed policy to allow sleep again', async () => (await fromSleep(target(), 9000, 'back')) === 'back', { timeoutMs: 10_000 });
    kubectlSync(lab, ['apply', '-f', '-'], policy('cluster.local/ns/app-a/sa/sleep'));
    await pollUntil('the DENY to arrive again', async () => (await fromSleep(target(), 9000, 'x')) !== 'x', { timeoutMs: 10_000 });
    await refusedByPolicy();
    kubectlSync(lab, ['delete', 'authorizationpolicy', '-n', 'app-b', 'deny-one']);
    await pollUntil('allowed once the policy is deleted', async () => (await fromSleep(target(), 9000, 'free')) === 'free', { timeoutMs: 10_000 });
    expect([mesh.ztunnel('node1').pid, mesh.ztunnel('node2').pid]).toEqual(pids);
  }, 60_000);

  it('STRICT PeerAuthentication refuses plaintext from outside the mesh; deleting it lets it through again', async () => {
    const target = () => echoIps()[0]!;
    const fromOutside = (p: string) => talk(netns('outside', 'outsider'), target(), 9000, p);
    expect(await fromOutside('permissive')).toBe('permissive');
    kubectlSync(lab, ['apply', '-f', '-'], `
apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: { name: strict, namespace: app-b }
spec: { mtls: { mode: STRICT } }
`);
    await pollUntil('STRICT to arrive', async () => (await fromOutside('x')) !== 'x', { timeoutMs: 10_000 });
    // The outsider's own address reaches node2 (plaintext passthrough): its line names the connection.
    const line = await expectRefused(mesh, {
      node: 'node2', dst: { ip: target(), port: 9000 }, flag: 'DENY', error: /^denied by /,
      labels: { destination_workload_namespace: 'app-b', connection_security_policy: 'unknown' }, exactSrc: true,
    }, () => talkTraced(netns('outside', 'outsider'), target(), 9000, 'x'));
    expect(line['src.identity']).toBeUndefined();
    expect(await fromSleep(target(), 9000, 'mtls')).toBe('mtls');
    kubectlSync(lab, ['delete', 'peerauthentication', '-n', 'app-b', 'strict']);
    await pollUntil('plaintext allowed again', async () => (await fromOutside('again')) === 'again', { timeoutMs: 10_000 });
  }, 60_000);

  it('the CA refuses another node\'s ztunnel, a foreign identity, a malformed CSR and a CSR with several SANs', async () => {
    const ca = testCaClient(`127.0.0.1:${mesh.controller().ports.grpc}`);
    try {
      const token = (args: string[]) => kubectlSync(lab, ['create', 'token', ...args, '--audience', 'istio-ca', '--duration', '1h']).stdout.trim();
      const ztunnelToken = (node: string) => token(['ztunnel', '-n', 'istio-system', '--bound-object-kind', 'Pod', '--bound-object-name', mesh.ztunnel(node).pod]);
      const csrFor = async (id: string) => (await createCsr(id)).csrPem;
      // node1's ztunnel may have sleep's identity (sleep runs on node1); node2's may not.
      expect((await ca.ask(ztunnelToken('node1'), await csrFor(SLEEP_ID), SLEEP_ID)).chain).toHaveLength(2);
      expect(await ca.ask(ztunnelToken('node2'), await csrFor(SLEEP_ID), SLEEP_ID)).toEqual({ code: status.UNAUTHENTICATED, details: 'request refused' });
      // sleep's own token asking for echo's identity, with and without impersonation.
      const sleepToken = token(['sleep', '-n', 'app-a']);
      expect((await ca.ask(sleepToken, await csrFor(SLEEP_ID))).chain).toHaveLength(2);
      expect((await ca.ask(sleepToken, await csrFor('spiffe://cluster.local/ns/app-b/sa/echo'))).code).toBe(status.UNAUTHENTICATED);
      expect((await ca.ask(sleepToken, await csrFor('spiffe://cluster.local/ns/app-b/sa/echo'), 'spiffe://cluster.local/ns/app-b/sa/echo')).code).toBe(status.UNAUTHENTICATED);
      expect(await ca.ask(sleepToken, '-----BEGIN CERTIFICATE REQUEST-----\nbm9wZQ==\n-----END CERTIFICATE REQUEST-----\n')).toEqual({ code: status.INVALID_ARGUMENT, details: 'invalid certificate request' });
      const keys = await generateP256KeyPair();
      const two = await x509.Pkcs10CertificateRequestGenerator.create({
        keys, signingAlgorithm: signingAlgorithmFor(keys.privateKey),
        extensions: [new x509.SubjectAlternativeNameExtension([{ type: 'url', value: SLEEP_ID }, { type: 'url', value: 'spiffe://cluster.local/ns/app-a/sa/other' }])],
      });
      expect(await ca.ask(sleepToken, two.toString('pem'))).toEqual({ code: status.INVALID_ARGUMENT, details: 'invalid certificate request' });
      const metrics = await (await fetch(`http://127.0.0.1:${mesh.controller().ports.monitoring}/metrics`)).text();
      expect(metrics).toMatch(/^istio_ca_rejections_total\{reason="not_authorized"\} [1-9]/m);
      expect(metrics).toMatch(/^istio_ca_rejections_total\{reason="san_count"\} 1$/m);
    } finally {
      ca.close();
    }
  });

  it('publishes the CA root to every namespace and shows each ztunnel connection on the debug endpoint', async () => {
    const root = await pollUntil('the root ConfigMap in app-a', () => kubectlSync(lab, ['get', 'configmap', '-n', 'app-a', 'istio-ca-root-cert', '-o', 'jsonpath={.data.root-cert\\.pem}']).stdout || undefined, { timeoutMs: 20_000 });
    expect(root).toContain('BEGIN CERTIFICATE');
    const debug = await (await fetch(`http://127.0.0.1:${mesh.controller().ports.monitoring}/debug/connections`)).json() as { connections: { node: string }[] };
    expect(debug.connections.map((c) => c.node.split('~')[2]).sort()).toEqual(['node1', 'node2'].map((n) => `${mesh.ztunnel(n).pod}.istio-system`).sort());
  });
});
