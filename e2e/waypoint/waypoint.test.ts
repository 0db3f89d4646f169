// The waypoint on the lab with the whole mesh installed with Helm (istiod, istio-cni, ztunnel), driven only by
// Kubernetes objects and ambientctl: `waypoint apply --enroll-namespace --wait` deploys it from a
// Gateway; HTTP/1.1, HTTP/2 and gRPC from a client pod reach the service through it (its access log,
// istio_requests_total{reporter="waypoint"} and the fabric capture client node → waypoint node →
// server node, all HBONE on 15008); 10 MiB bodies arrive intact; TCP ports pass at L4; bad input on
// its 15008 gets a clear status; a killed waypoint is restarted; delete sends traffic direct again.
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testCaClient } from '../../controller/src/ca/test-client.ts';
import { dialHbone, openTunnel, HboneError } from '../../lib/hbone/index.ts';
import { createCsr, workloadCertificateFromChain } from '../../lib/identity/index.ts';
import { connectTcp } from '../../lib/netns/index.ts';
import { REPO_ROOT } from '../lab/config.ts';
import { down, kubectlSync, podRef, up } from '../lab/lab.ts';
import { pollUntil } from '../lab/poll.ts';
import { isReady, type PodJson } from '../lab/sample-apps.ts';
import type { LabState } from '../lab/state.ts';
import { captureFabric } from '../ztunnel/lab-mesh.ts';
import { requireRoot, talk } from '../ztunnel/netns-harness.ts';
import { grpcStream, h2Request, h2Session, http1Requests, sha256 } from './clients.ts';
import { HelmMesh } from '../lab/mesh-helm.ts';

const NS = 'shop';
const HOST = `echo.${NS}.svc.cluster.local`;
const CLIENT_ID = `spiffe://cluster.local/ns/${NS}/sa/client`;
const ECHO_ID = `spiffe://cluster.local/ns/${NS}/sa/echo`;
const WAYPOINT_ID = `spiffe://cluster.local/ns/${NS}/sa/waypoint`;

const apps = (node: string) => `
apiVersion: v1
kind: ServiceAccount
metadata: { name: client, namespace: ${NS} }
---
apiVersion: v1
kind: ServiceAccount
metadata: { name: echo, namespace: ${NS} }
---
apiVersion: v1
kind: Pod
metadata: { name: client, namespace: ${NS}, labels: { app: client } }
spec: { nodeName: ${node}, serviceAccountName: client, containers: [{ name: main, image: lab/sleep }] }
---
apiVersion: v1
kind: Namespace
metadata: { name: outside }
---
apiVersion: v1
kind: Pod
metadata: { name: prober, namespace: outside }
spec: { nodeName: ${node}, containers: [{ name: main, image: lab/sleep }] }
---
apiVersion: apps/v1
kind: Deployment
metadata: { name: echo, namespace: ${NS} }
spec:
  replicas: 2
  selector: { matchLabels: { app: echo } }
  template:
    metadata: { labels: { app: echo, version: v1 } }
    spec:
      nodeSelector: { kubernetes.io/hostname: ${node} }
      serviceAccountName: echo
      containers:
      - { name: http, image: lab/http-echo }
      - { name: tcp, image: lab/tcp-echo }
---
apiVersion: v1
kind: Service
metadata: { name: echo, namespace: ${NS} }
spec:
  selector: { app: echo }
  ports:
  - { name: http, port: 80, targetPort: 8080 }
  - { name: http2, port: 81, targetPort: 8080, appProtocol: http2 }
  - { name: grpc, port: 7070, targetPort: 8080 }
  - { name: tcp, port: 9000, targetPort: 9000 }
`;

interface GatewayJson {
  metadata: { name: string };
  status?: { addresses?: { type: string; value: string }[]; conditions?: { type: string; status: string; reason: string }[] };
}

describe('the waypoint: deployed from a Gateway, L7 for HTTP/1.1, HTTP/2 and gRPC (root)', () => {
  let lab: LabState;
  let mesh: HelmMesh;
  let vip: string;
  let appNode: string;
  let waypointNode: string;
  const pods = (ns: string, selector?: string) =>
    (JSON.parse(kubectlSync(lab, ['get', 'pods', '-n', ns, ...(selector ? ['-l', selector] : []), '-o', 'json']).stdout) as { items: (PodJson & { metadata: { name: string; annotations?: Record<string, string> }; spec: { nodeName?: string }; status: { podIP?: string; containerStatuses?: { restartCount: number }[] } })[] }).items;
  const waypointPod = () => pods(NS, 'gateway.networking.k8s.io/gateway-name=waypoint').find((p) => isReady(p));
  const netns = (ns: string, name: string) => podRef(ns, name, lab).netns;
  const ambientctl = (args: string[]) => {
    const r = spawnSync(process.execPath, [`${REPO_ROOT}/cli/src/ambientctl.ts`, ...args], { encoding: 'utf8', timeout: 120_000, env: { ...process.env, KUBECONFIG: lab.kubeconfig } });
    return { code: r.status, stdout: r.stdout, stderr: r.stderr };
  };
  const waypointMetrics = async () => {
    const p = waypointPod();
    if (!p) return '';
    const w = mesh.waypointProcess(NS, p.metadata.name);
    return w ? (await fetch(`http://127.0.0.1:${w.ports.stats}/stats/prometheus`)).text() : '';
  };
  const accessLog = () => {
    const p = waypointPod();
    return p ? mesh.podLogLines(NS, p.metadata.name).filter((l) => l.scope === 'access') : [];
  };
  const counter = (text: string, name: string, labels: Record<string, string>) =>
    text.split('\n').filter((l) => l.startsWith(`${name}{`) && Object.entries(labels).every(([k, v]) => l.includes(`${k}="${v}"`)))
      .reduce((s, l) => s + Number(l.slice(l.lastIndexOf(' ') + 1)), 0);

  beforeAll(async () => {
    requireRoot('e2e/waypoint/waypoint.test.ts');
    lab = await up({ nodes: 2 });
    mesh = await HelmMesh.install(lab);
    kubectlSync(lab, ['create', 'namespace', NS]);
    kubectlSync(lab, ['label', 'namespace', NS, 'istio.io/dataplane-mode=ambient']);
  }, 300_000);

  afterAll(async () => {
    await down();
  }, 120_000);

  it('ambientctl waypoint apply --enroll-namespace --wait: Gateway Programmed with an address, its Deployment Ready', async () => {
    const r = ambientctl(['waypoint', 'apply', '-n', NS, '--enroll-namespace', '--wait']);
    expect(r.stderr).toBe('');
    expect(r.stdout).toContain(`✅ waypoint ${NS}/waypoint applied`);
    expect(r.stdout).toContain(`✅ waypoint ${NS}/waypoint is ready!`);
    expect(r.stdout).toContain(`✅ namespace ${NS} labeled with "istio.io/use-waypoint: waypoint"`);
    expect(r.code).toBe(0);
    const gw = JSON.parse(kubectlSync(lab, ['get', 'gateway', '-n', NS, 'waypoint', '-o', 'json']).stdout) as GatewayJson;
    const svcIp = kubectlSync(lab, ['get', 'svc', '-n', NS, 'waypoint', '-o', 'jsonpath={.spec.clusterIP}']).stdout.trim();
    expect(gw.status?.conditions?.find((c) => c.type === 'Programmed')?.status).toBe('True');
    expect(gw.status?.addresses?.[0]).toEqual({ type: 'IPAddress', value: svcIp });
    const deploy = JSON.parse(kubectlSync(lab, ['get', 'deployment', '-n', NS, 'waypoint', '-o', 'json']).stdout) as { status: { readyReplicas?: number }; metadata: { ownerReferences?: { kind: string; name: string }[] } };
    expect(deploy.status.readyReplicas).toBe(1);
    expect(deploy.metadata.ownerReferences?.map((o) => `${o.kind}/${o.name}`)).toEqual(['Gateway/waypoint']);
    expect(ambientctl(['waypoint', 'list', '-n', NS]).stdout).toMatch(/^waypoint\s+default\s+\S+\s+True$/m);
    // The apps go on the node the waypoint is not on, so both hops cross the fabric.
    waypointNode = waypointPod()!.spec.nodeName!;
    appNode = lab.nodes.map((n) => n.name).find((n) => n !== waypointNode)!;
    kubectlSync(lab, ['apply', '-f', '-'], apps(appNode));
    await pollUntil('the apps to be Ready and captured', () => {
      const all = pods(NS).filter((p) => p.metadata.labels?.app === 'client' || p.metadata.labels?.app === 'echo');
      return all.length === 3 && all.every((p) => isReady(p) && p.metadata.annotations?.['ambient.istio.io/redirection'] === 'enabled') && pods('outside').every(isReady);
    }, { timeoutMs: 90_000 });
    vip = kubectlSync(lab, ['get', 'svc', '-n', NS, 'echo', '-o', 'jsonpath={.spec.clusterIP}']).stdout.trim();
    // The echo Service now carries the waypoint in workload xDS.
    await pollUntil('ztunnel to know the echo service uses the waypoint', async () => {
      const dump = JSON.parse(await mesh.admin(appNode, '/config_dump')) as { services: { hostname: string; waypoint?: unknown }[] };
      return dump.services.find((s) => s.hostname === HOST)?.waypoint !== undefined;
    }, { timeoutMs: 20_000 });
  }, 240_000);

  it('HTTP/1.1 keep-alive requests go client node → waypoint node → server node, HBONE on 15008 at each hop, and the waypoint reports them', async () => {
    const client = podRef(NS, 'client', lab);
    const wp = waypointPod()!;
    const echoIps = pods(NS, 'app=echo').map((p) => p.status.podIP!);
    const rid = `rid-${randomBytes(4).toString('hex')}`;
    const cap = await captureFabric(lab, () => http1Requests(client.netns, vip, 80, [
      { path: '/one', headers: { 'x-request-id': rid, traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01' } },
      { path: '/two' },
      { path: '/three' },
    ]));
    expect(cap.result.map((r) => r.status)).toEqual([200, 200, 200]);
    const seen = cap.result.map((r) => JSON.parse(r.body.toString()) as { headers: Record<string, string>; pod: string });
    expect(seen[0]!.headers['x-request-id']).toBe(rid);
    expect(seen[0]!.headers.traceparent).toBe('00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01');
    expect(seen[1]!.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
    expect(seen.every((s) => s.headers['x-forwarded-proto'] === 'http')).toBe(true);
    // The app's peer is the waypoint (the destination ztunnel keeps the source it was given).
    expect(cap.result.map((r) => (JSON.parse(r.body.toString()) as { remoteAddress: string }).remoteAddress)).toEqual(Array(3).fill(wp.status.podIP));
    // Both hops crossed the fabric as TLS on 15008 and nothing else did.
    expect(cap.text.filter((l) => !/\.15008[ :]/.test(l))).toEqual([]);
    expect(cap.tls.problems).toEqual([]);
    const text = cap.text.join('\n');
    expect(text).toContain(`${client.podIp}.`);
    expect(text).toMatch(new RegExp(`${client.podIp.replace(/\./g, '\\.')}\\.\\d+ > ${wp.status.podIP!.replace(/\./g, '\\.')}\\.15008`));
    expect(echoIps.some((ip) => new RegExp(`${wp.status.podIP!.replace(/\./g, '\\.')}\\.\\d+ > ${ip.replace(/\./g, '\\.')}\\.15008`).test(text))).toBe(true);
    const line = await pollUntil('the waypoint access log line', () => accessLog().find((l) => l.request_id === rid), { timeoutMs: 10_000 });
    expect(line).toMatchObject({ method: 'GET', path: '/one', protocol: 'HTTP/1.1', response_code: 200, response_flags: '-', upstream_cluster: `inbound-vip|80|http|${HOST}` });
    expect(String(line.upstream_host)).toMatch(/^envoy:\/\/connect_originate\/10\.244\.\d+\.\d+:8080$/);
    const m = await waypointMetrics();
    expect(counter(m, 'istio_requests_total', { reporter: 'waypoint', response_code: '200', request_protocol: 'http', destination_service: HOST, source_principal: CLIENT_ID, destination_principal: ECHO_ID, source_workload: 'client', connection_security_policy: 'mutual_tls' })).toBeGreaterThanOrEqual(3);
    // The destination ztunnel saw the waypoint as the client (its tunnels stay open, pooled: the
    // opened counter shows them, the access log only once they close).
    await pollUntil('the server ztunnel to count HBONE from the waypoint', async () =>
      counter(await mesh.metrics(appNode), 'istio_tcp_connections_opened_total', { reporter: 'destination', source_principal: WAYPOINT_ID, destination_principal: ECHO_ID }) >= 1, { timeoutMs: 10_000 });
  }, 60_000);

  it('HTTP/2 (h2c) multiplexes on one session and reaches the backend as HTTP/2 on an http2 port', async () => {
    const s = h2Session(netns(NS, 'client'), vip, 81);
    try {
      const results = await Promise.all(Array.from({ length: 10 }, (_, i) => h2Request(s, { ':path': `/h2/${i}` })));
      expect(results.map((r) => r.status)).toEqual(Array(10).fill(200));
      const bodies = results.map((r) => JSON.parse(r.body.toString()) as { protocol: string; path: string; headers: Record<string, string> });
      expect(bodies.map((b) => b.path)).toEqual(Array.from({ length: 10 }, (_, i) => `/h2/${i}`));
      expect(bodies.every((b) => b.protocol === 'HTTP/2' && /^[0-9a-f-]{36}$/.test(b.headers['x-request-id'] ?? ''))).toBe(true);
    } finally {
      s.close();
    }
    const line = await pollUntil('an HTTP/2 access log line', () => accessLog().find((l) => l.path === '/h2/0'), { timeoutMs: 10_000 });
    expect(line).toMatchObject({ protocol: 'HTTP/2', response_code: 200 });
  }, 60_000);

  it('gRPC unary and streaming calls keep their messages and trailers, and are counted as grpc', async () => {
    const s = h2Session(netns(NS, 'client'), vip, 7070);
    try {
      const unary = await grpcStream(s, '/echo.Echo/Unary', [Buffer.from('ping')]);
      expect(unary.status).toBe(200);
      expect(unary.replies.map((b) => b.toString())).toEqual(['ping']);
      expect(unary.trailers['grpc-status']).toBe('0');
      const msgs = ['one', 'two', 'three', 'four'].map((x) => Buffer.from(x));
      const streaming = await grpcStream(s, '/echo.Echo/Stream', msgs);
      expect(streaming.replies.map((b) => b.toString())).toEqual(['one', 'two', 'three', 'four']);
      expect(streaming.trailers['grpc-status']).toBe('0');
      expect(String(streaming.trailers['x-echo-pod'])).toMatch(/^echo-/);
    } finally {
      s.close();
    }
    await pollUntil('the gRPC requests counted by the waypoint', async () =>
      counter(await waypointMetrics(), 'istio_requests_total', { reporter: 'waypoint', request_protocol: 'grpc', grpc_response_status: '0', response_code: '200' }) >= 2, { timeoutMs: 10_000 });
  }, 60_000);

  it('10 MiB request and response bodies arrive intact over HTTP/1.1 and HTTP/2', async () => {
    const body = randomBytes(10 * 1024 * 1024);
    const [h1] = await http1Requests(netns(NS, 'client'), vip, 80, [{ method: 'POST', path: '/echo', body }], 60_000);
    expect(h1!.status).toBe(200);
    expect(h1!.body.length).toBe(body.length);
    expect(sha256(h1!.body)).toBe(sha256(body));
    expect(String(h1!.trailers['x-echo-pod'])).toMatch(/^echo-/);
    const s = h2Session(netns(NS, 'client'), vip, 81);
    try {
      const h2 = await h2Request(s, { ':path': '/echo' }, body, 60_000);
      expect(h2.status).toBe(200);
      expect(sha256(h2.body)).toBe(sha256(body));
      expect(String(h2.trailers['x-echo-pod'])).toMatch(/^echo-/);
    } finally {
      s.close();
    }
  }, 120_000);

  it('TCP to a waypoint-enrolled service port is passed through at L4', async () => {
    const secret = `tcp-${randomBytes(4).toString('hex')}`;
    expect(await talk(netns(NS, 'client'), vip, 9000, secret)).toBe(secret);
    await pollUntil('the waypoint to count the TCP connection', async () =>
      counter(await waypointMetrics(), 'istio_tcp_connections_opened_total', { reporter: 'waypoint', destination_service: HOST }) >= 1, { timeoutMs: 10_000 });
  }, 30_000);

  it('bad input on its 15008 (garbage, oversized headers, an unknown CONNECT target) gets 400/431/503 and counts; the connection keeps serving', async () => {
    // An HBONE client of our own, from a pod outside the mesh, with a certificate the mesh CA gave
    // the client's service account (its own identity, no impersonation).
    const ca = testCaClient(`127.0.0.1:${mesh.controller().ports.grpc}`);
    const token = kubectlSync(lab, ['create', 'token', 'client', '-n', NS, '--audience', 'istio-ca', '--duration', '1h']).stdout.trim();
    const { csrPem, keyPem } = await createCsr(CLIENT_ID);
    const answer = await ca.ask(token, csrPem);
    ca.close();
    const cert = workloadCertificateFromChain(CLIENT_ID, keyPem, answer.chain!);
    const wp = waypointPod()!;
    const conn = await dialHbone({
      connectSocket: () => connectTcp({ netns: `/run/netns/${netns('outside', 'prober')}`, host: wp.status.podIP!, port: 15008 }),
      certificate: cert, expectedIdentities: [WAYPOINT_ID], keepalive: false,
    });
    const exchange = async (bytes: Buffer | string): Promise<string> => {
      const t = await openTunnel(conn.session, `${vip}:80`);
      const chunks: Buffer[] = [];
      t.stream.on('data', (c: Buffer) => chunks.push(c));
      t.stream.end(bytes);
      await new Promise<void>((r) => t.stream.once('close', () => r()));
      return Buffer.concat(chunks).toString('latin1');
    };
    const before = await waypointMetrics();
    try {
      expect(await exchange('GARBAGE garbage\r\n\r\n')).toMatch(/^HTTP\/1\.1 400 /);
      expect(await exchange(`GET / HTTP/1.1\r\nhost: ${HOST}\r\nx-big: ${'a'.repeat(100 * 1024)}\r\n\r\n`)).toMatch(/^HTTP\/1\.1 431 /);
      const unknown = await openTunnel(conn.session, '10.96.255.254:80').then(() => 'accepted', (e: unknown) => e);
      expect(unknown).toBeInstanceOf(HboneError);
      expect((unknown as HboneError).status).toBe(503);
      // Half-open HTTP: headers promising a body that never comes, then the client half-closes.
      const half = await exchange(`POST /echo HTTP/1.1\r\nhost: ${HOST}\r\ncontent-length: 100\r\n\r\nonly-part`);
      expect(half).toBe('');
      await pollUntil('the half-open request logged as a downstream disconnect (DC)', () =>
        accessLog().some((l) => l.method === 'POST' && l.path === '/echo' && l.response_flags === 'DC' && l.response_code === 0), { timeoutMs: 10_000 });
      // The same HBONE connection still carries a good request.
      expect(await exchange(`GET /still-fine HTTP/1.1\r\nhost: ${HOST}\r\nconnection: close\r\n\r\n`)).toMatch(/^HTTP\/1\.1 200 /);
    } finally {
      conn.session.destroy();
    }
    const after = await waypointMetrics();
    const events = (text: string, kind: string) => counter(text, 'waypoint_data_plane_events_total', { kind });
    expect(events(after, 'codec-error') - events(before, 'codec-error')).toBeGreaterThanOrEqual(2);
    expect(events(after, 'connect-rejected') - events(before, 'connect-rejected')).toBeGreaterThanOrEqual(1);
    const rejected = mesh.podLogLines(NS, wp.metadata.name).find((l) => JSON.stringify(l).includes('10.96.255.254:80'));
    expect(rejected).toBeDefined();
  }, 60_000);

  it('a killed waypoint is restarted by the kubelet and traffic recovers', async () => {
    const before = waypointPod()!;
    const restarts = before.status.containerStatuses?.[0]?.restartCount ?? 0;
    process.kill(mesh.waypointProcess(NS, before.metadata.name)!.pid, 'SIGKILL');
    await pollUntil('the waypoint container to restart and be Ready', () => {
      const p = waypointPod();
      return p !== undefined && (p.status.containerStatuses?.[0]?.restartCount ?? 0) > restarts;
    }, { timeoutMs: 60_000 });
    await pollUntil('requests through the waypoint to work again', async () => {
      const [r] = await http1Requests(netns(NS, 'client'), vip, 80, [{ path: '/after-restart' }], 5_000);
      if (r?.status !== 200) throw new Error(`answered ${r?.status}: ${r?.body.toString().slice(0, 200)}`);
      return accessLog().some((l) => l.path === '/after-restart');
    }, { timeoutMs: 30_000, intervalMs: 500 });
  }, 120_000);

  it('ambientctl waypoint delete: the Deployment goes with the Gateway and traffic goes direct again', async () => {
    const r = ambientctl(['waypoint', 'delete', '-n', NS, 'waypoint']);
    expect(r.stdout).toContain(`waypoint ${NS}/waypoint deleted`);
    await pollUntil('the waypoint Deployment to be garbage-collected', () => kubectlSync(lab, ['get', 'deployment', '-n', NS, '-o', 'name']).stdout.trim() === 'deployment.apps/echo', { timeoutMs: 60_000 });
    await pollUntil('ztunnel to drop the waypoint from the echo service', async () => {
      const dump = JSON.parse(await mesh.admin(appNode, '/config_dump')) as { services: { hostname: string; waypoint?: unknown }[] };
      return dump.services.find((s) => s.hostname === HOST)?.waypoint === undefined;
    }, { timeoutMs: 20_000 });
    const rid = `direct-${randomBytes(4).toString('hex')}`;
    const [res] = await http1Requests(netns(NS, 'client'), vip, 80, [{ path: '/direct', headers: { 'x-request-id': rid } }]);
    expect(res!.status).toBe(200);
    expect((JSON.parse(res!.body.toString()) as { remoteAddress: string }).remoteAddress).toBe(podRef(NS, 'client', lab).podIp);
    // Straight to the pod: the server ztunnel saw the client's own identity (no direct traffic before).
    await pollUntil('the server ztunnel to see the client identity directly', async () =>
      counter(await mesh.metrics(appNode), 'istio_tcp_connections_opened_total', { reporter: 'destination', source_principal: CLIENT_ID, destination_principal: ECHO_ID }) >= 1, { timeoutMs: 10_000 });
    expect(ambientctl(['waypoint', 'list', '-n', NS]).stdout.trim()).toBe('No waypoints found.');
  }, 120_000);
});
