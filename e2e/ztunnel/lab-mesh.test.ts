// ztunnel on the lab cluster: 2 nodes, pods captured by Istio's in-pod rules and handed to each
// node's ztunnel over ZDS. Cross-node traffic by pod IP and Service VIP, the fabric carrying only
// TLS on 15008, identities in logs and metrics, a wrong server identity refused, L4 policy,
// STRICT/PERMISSIVE, passthrough, half-close, garbage on 15008, the admin views, and a restart of
// both ztunnels under load that refuses no connection.
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import http2 from 'node:http2';
import type net from 'node:net';
import tls from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readAll } from '../../lib/hbone/test-fixtures.ts';
import { CertificateAuthority, issueWorkloadCertificate } from '../../lib/identity/index.ts';
import { connectTcp } from '../../lib/netns/index.ts';
import { down, kubectlSync, podRef, up } from '../lab/lab.ts';
import { pollUntil } from '../lab/poll.ts';
import { isReady, type PodJson } from '../lab/sample-apps.ts';
import type { LabState } from '../lab/state.ts';
import { renderTable } from '../../bench/l4/report.ts';
import { DEFAULT_L4, runL4 } from '../../bench/l4/run.ts';
import { expectRefused, sample, sum, talkTraced } from './denial.ts';
import { captureFabric, LabMesh } from './lab-mesh.ts';
import { requireRoot, talk } from './netns-harness.ts';

const pod = (ns: string, name: string, node: string, image: string, sa: string, labels: Record<string, string>, env: Record<string, string> = {}) => `
apiVersion: v1
kind: Pod
metadata: { name: ${name}, namespace: ${ns}, labels: ${JSON.stringify(labels)} }
spec:
  nodeName: ${node}
  serviceAccountName: ${sa}
  containers: [{ name: main, image: ${image}, env: ${JSON.stringify(Object.entries(env).map(([name, value]) => ({ name, value })))} }]
---`;

const MANIFESTS = `
apiVersion: v1
kind: Namespace
metadata: { name: mesh-a }
---
apiVersion: v1
kind: Namespace
metadata: { name: mesh-b }
---
apiVersion: v1
kind: Namespace
metadata: { name: plain }
---
${['mesh-a/sleep', 'mesh-a/other', 'mesh-b/echo'].map((s) => `apiVersion: v1
kind: ServiceAccount
metadata: { name: ${s.split('/')[1]}, namespace: ${s.split('/')[0]} }
---`).join('\n')}
${pod('mesh-a', 'sleep', 'node1', 'lab/sleep', 'sleep', { app: 'sleep' })}
${pod('mesh-a', 'other', 'node1', 'lab/sleep', 'other', { app: 'other' })}
${pod('mesh-b', 'echo-1', 'node2', 'lab/tcp-echo', 'echo', { app: 'echo', version: 'v1' }, { ECHO_PREFIX: 'echo-1|' })}
${pod('mesh-b', 'echo-2', 'node2', 'lab/tcp-echo', 'echo', { app: 'echo', version: 'v1' }, { ECHO_PREFIX: 'echo-2|' })}
${pod('mesh-b', 'echo-x', 'node2', 'lab/tcp-echo', 'echo', { app: 'echo-x' })}
${pod('plain', 'outsider', 'node1', 'lab/sleep', 'default', { app: 'outsider' })}
${pod('plain', 'plain-echo', 'node2', 'lab/tcp-echo', 'default', { app: 'plain-echo' })}
apiVersion: v1
kind: Service
metadata: { name: echo, namespace: mesh-b }
spec: { selector: { app: echo }, ports: [{ name: tcp, port: 80, targetPort: 9000 }] }
`;

const MESH_PODS = [['mesh-a', 'sleep'], ['mesh-a', 'other'], ['mesh-b', 'echo-1'], ['mesh-b', 'echo-2'], ['mesh-b', 'echo-x']] as const;
const SLEEP_ID = 'spiffe://cluster.local/ns/mesh-a/sa/sleep';
const STRICT = { name: 'istio_converted_static_strict', namespace: 'istio-system', scope: 'WORKLOAD_SELECTOR', action: 'DENY', rules: [[[{ notPrincipals: ['*'] }]]] };

describe('ztunnel on the lab: 2 nodes, pods captured and handed over by ZDS (root)', () => {
  let lab: LabState;
  let mesh: LabMesh;
  const ns = (namespace: string, name: string) => podRef(namespace, name, lab).netns;
  const ip = (namespace: string, name: string) => podRef(namespace, name, lab).podIp;
  let vip: string;

  beforeAll(async () => {
    requireRoot('e2e/ztunnel/lab-mesh.test.ts');
    lab = await up({ nodes: 2 });
    kubectlSync(lab, ['apply', '-f', '-'], MANIFESTS);
    await pollUntil('the pods to be Ready', () => {
      const pods = JSON.parse(kubectlSync(lab, ['get', 'pods', '-A', '-o', 'json']).stdout) as { items: PodJson[] };
      return pods.items.length === 7 && pods.items.every(isReady);
    }, { timeoutMs: 90_000 });
    vip = kubectlSync(lab, ['get', 'svc', '-n', 'mesh-b', 'echo', '-o', 'jsonpath={.spec.clusterIP}']).stdout.trim();
    mesh = await LabMesh.start(lab);
    for (const [namespace, name] of MESH_PODS) await mesh.enroll(namespace, name);
    await mesh.syncConfig();
  }, 240_000);

  afterAll(async () => {
    await mesh?.stop();
    await down();
  }, 120_000);

  it('carries pod IP and Service VIP traffic cross-node; the fabric sees only TLS on 15008, no plaintext', async () => {
    const secret = `top-secret-${randomBytes(8).toString('hex')}`;
    const { result, text, tls: check, raw } = await captureFabric(lab, async () => {
      const byIp = await talk(ns('mesh-a', 'sleep'), ip('mesh-b', 'echo-1'), 9000, secret);
      const byVip: string[] = [];
      for (let i = 0; i < 6; i++) byVip.push(await talk(ns('mesh-a', 'sleep'), vip, 80, `${secret}-${i}`));
      return { byIp, byVip };
    });
    expect(result.byIp).toBe(`echo-1|${secret}`);
    result.byVip.forEach((r, i) => expect(r).toMatch(new RegExp(`^echo-[12]\\|${secret}-${i}$`)));
    // Round robin over both endpoints.
    expect(new Set(result.byVip.map((r) => r.split('|')[0]))).toEqual(new Set(['echo-1', 'echo-2']));
    expect(text.length).toBeGreaterThan(20);
    expect(text.filter((l) => !/\.15008[ :]/.test(l))).toEqual([]);
    expect(check.problems).toEqual([]);
    expect(check.streams).toBeGreaterThanOrEqual(2);
    expect(raw.includes(Buffer.from(secret))).toBe(false);
  });

  it('the server side logs and reports the client SPIFFE identity', async () => {
    expect(await talk(ns('mesh-a', 'sleep'), ip('mesh-b', 'echo-2'), 9000, 'who')).toBe('echo-2|who');
    const access = await pollUntil('the inbound access log line on node2', () =>
      mesh.logLines('node2').find((l) => l.scope === 'access' && l.direction === 'inbound' && l['src.identity'] === SLEEP_ID && String(l['dst.addr']).startsWith(`${ip('mesh-b', 'echo-2')}:`)), { timeoutMs: 10_000 });
    expect(access).toMatchObject({ 'src.workload': 'sleep', 'src.namespace': 'mesh-a', 'dst.workload': 'echo-2', 'dst.identity': 'spiffe://cluster.local/ns/mesh-b/sa/echo' });
    expect(sample(await mesh.metrics('node2'), 'istio_tcp_connections_opened_total', {
      reporter: 'destination', source_workload: 'sleep', source_principal: SLEEP_ID, destination_workload: 'echo', connection_security_policy: 'mutual_tls',
    })).toBeGreaterThan(0);
  });

  it('refuses a destination whose certificate does not carry the identity the client expects', async () => {
    // node1 is told echo-x runs as "impostor"; node2 serves it with its real identity (sa echo).
    await mesh.syncConfig({ perNode: (node, cfg) => {
      if (node !== 'node1') return;
      const w = cfg.workloads.find((x) => x.name === 'echo-x')!;
      w.serviceAccount = 'impostor';
    } });
    const tlsFailed = { reporter: 'source', source_principal: SLEEP_ID, response_flags: 'TLS_FAILURE' };
    const before = sum(await mesh.metrics('node1'), 'istio_tcp_connections_closed_total', tlsFailed);
    const { reply, local } = await talkTraced(ns('mesh-a', 'sleep'), ip('mesh-b', 'echo-x'), 9000, 'x');
    expect(reply).not.toContain('x');
    // The access line of this very connection (the client's own address) carries the refusal ...
    const line = await pollUntil('the refusal in node1 access log', () =>
      mesh.logLines('node1').find((l) => l.scope === 'access' && l.direction === 'outbound' && l['src.addr'] === local && String(l['dst.addr']).startsWith(`${ip('mesh-b', 'echo-x')}:`) && l.error), { timeoutMs: 10_000 });
    expect(String(line.error)).toMatch(/identity|SAN|spiffe/i);
    // ... and the source counts it as a TLS failure, exactly once.
    await pollUntil('the TLS_FAILURE close to be counted on node1', async () => sum(await mesh.metrics('node1'), 'istio_tcp_connections_closed_total', tlsFailed) - before === 1, { timeoutMs: 10_000 });
    await mesh.syncConfig();
    expect(await talk(ns('mesh-a', 'sleep'), ip('mesh-b', 'echo-x'), 9000, 'back')).toBe('back');
  });

  it('reaches a destination outside the mesh by passthrough', async () => {
    expect(await talk(ns('mesh-a', 'sleep'), ip('plain', 'plain-echo'), 9000, 'outside')).toBe('outside');
    expect(sample(await mesh.metrics('node1'), 'istio_tcp_connections_opened_total', { reporter: 'source', source_workload: 'sleep', destination_workload: 'unknown', connection_security_policy: 'unknown' })).toBeGreaterThan(0);
  });

  it('carries a half-close: the client sends, shuts its write side, then reads the whole reply', async () => {
    const payload = randomBytes(512 * 1024).toString('base64');
    const c = connectTcp({ netns: `/run/netns/${ns('mesh-a', 'sleep')}`, host: ip('mesh-b', 'echo-1'), port: 9000, allowHalfOpen: true });
    c.end(payload);
    const got = (await readAll(c)).toString();
    expect(got.length).toBe(`echo-1|`.length + payload.length);
    expect(got === `echo-1|${payload}`).toBe(true);
  });

  it('shows workloads, certificates and the counts of the traffic sent in /config_dump and /metrics', async () => {
    const labels = { reporter: 'destination', source_workload: 'other', destination_workload: 'echo' };
    const before = await mesh.metrics('node2');
    for (let i = 0; i < 5; i++) expect(await talk(ns('mesh-a', 'other'), vip, 80, 'count-me')).toMatch(/^echo-[12]\|count-me$/);
    await pollUntil('the closes to be counted', async () => sample(await mesh.metrics('node2'), 'istio_tcp_connections_closed_total', labels) - sample(before, 'istio_tcp_connections_closed_total', labels) === 5, { timeoutMs: 10_000 });
    const after = await mesh.metrics('node2');
    expect(sample(after, 'istio_tcp_connections_opened_total', labels) - sample(before, 'istio_tcp_connections_opened_total', labels)).toBe(5);
    expect(sample(after, 'istio_tcp_received_bytes_total', labels) - sample(before, 'istio_tcp_received_bytes_total', labels)).toBe(5 * 'count-me'.length);
    const dump = JSON.parse(await mesh.admin('node2', '/config_dump')) as { workloads: { name: string; node: string }[]; services: { hostname: string; endpoints: Record<string, unknown> }[]; certificates: { identity: string; state: string }[] };
    expect(dump.workloads.map((w) => `${w.name}@${w.node}`).sort()).toEqual(['echo-1@node2', 'echo-2@node2', 'echo-x@node2', 'other@node1', 'sleep@node1']);
    expect(Object.keys(dump.services.find((s) => s.hostname === 'echo.mesh-b.svc.cluster.local')?.endpoints ?? {}).sort()).toEqual(['Kubernetes//Pod/mesh-b/echo-1', 'Kubernetes//Pod/mesh-b/echo-2']);
    expect(dump.certificates.map((c) => `${c.identity} ${c.state}`)).toContain('spiffe://cluster.local/ns/mesh-b/sa/echo Available');
    const dump1 = JSON.parse(await mesh.admin('node1', '/config_dump')) as { certificates: { identity: string; state: string }[] };
    expect(dump1.certificates.map((c) => `${c.identity} ${c.state}`)).toEqual(expect.arrayContaining([`${SLEEP_ID} Available`, 'spiffe://cluster.local/ns/mesh-a/sa/other Available']));
  });

  it('refuses garbage on 15008 with a log line and a metric; other connections are unaffected', async () => {
    const target = ip('mesh-b', 'echo-1');
    const outsider = `/run/netns/${ns('plain', 'outsider')}`;
    const long = connectTcp({ netns: `/run/netns/${ns('mesh-a', 'sleep')}`, host: target, port: 9000, allowHalfOpen: true });
    long.write('first;');
    const before = await mesh.metrics('node2');

    // 1. Not TLS at all.
    expect(await talk(ns('plain', 'outsider'), target, 15008, 'GET / HTTP/1.1\r\nHost: x\r\n\r\n')).not.toContain('HTTP/1.1');
    // 2. TLS without a client certificate.
    const noCert = await new Promise<string>((resolve) => {
      const t = tls.connect({ socket: connectTcp({ netns: outsider, host: target, port: 15008 }), rejectUnauthorized: false, ALPNProtocols: ['h2'], servername: 'x' });
      t.on('error', (e) => resolve(`error:${(e as { code?: string }).code ?? e.message}`));
      t.on('close', () => resolve('closed'));
      t.on('secureConnect', () => t.write('hello'));
    });
    expect(noCert).toMatch(/^(error:|closed)/);
    // 3 and 4 need a client certificate the mesh trusts.
    const ca = await CertificateAuthority.create({ signer: { certPem: readFileSync(mesh.rootCertPath, 'utf8'), keyPem: readFileSync(mesh.rootKeyPath, 'utf8') }, trustDomain: 'cluster.local' });
    const cert = await issueWorkloadCertificate(ca, 'spiffe://cluster.local/ns/plain/sa/default');
    const h2 = http2.connect(`https://${target}:15008`, {
      createConnection: () => tls.connect({ socket: connectTcp({ netns: outsider, host: target, port: 15008 }), cert: cert.certChainPem.join(''), key: cert.keyPem, ca: cert.rootsPem, ALPNProtocols: ['h2'], rejectUnauthorized: false, servername: 'x' }) as unknown as net.Socket,
    });
    h2.on('error', () => {});
    const status = (headers: http2.OutgoingHttpHeaders) => new Promise<number | string>((resolve) => {
      const req = h2.request(headers, { endStream: false });
      req.on('response', (h) => resolve(Number(h[':status'])));
      req.on('error', (e) => resolve(`error:${e.message}`));
      req.on('close', () => resolve('closed'));
    });
    // 3. HTTP/2 but not a CONNECT.
    expect(await status({ ':method': 'GET', ':path': '/', ':authority': `${target}:9000`, ':scheme': 'https' })).toBe(400);
    // 4. A CONNECT to an address that is no workload here.
    const other = await status({ ':method': 'CONNECT', ':authority': '10.244.2.250:9000' });
    expect(other).toBeGreaterThanOrEqual(400);
    h2.close();

    long.end('second');
    expect((await readAll(long)).toString()).toBe('echo-1|first;second');
    const after = await mesh.metrics('node2');
    const failed = (flag: string) => sample(after, 'istio_tcp_connections_failed_total', { reporter: 'destination', destination_workload: 'echo', response_flags: flag }) - sample(before, 'istio_tcp_connections_failed_total', { reporter: 'destination', destination_workload: 'echo', response_flags: flag });
    expect(failed('TLS_FAILURE')).toBeGreaterThanOrEqual(2);
    expect(failed('CONNECT')).toBeGreaterThanOrEqual(1);
    expect(mesh.logLines('node2').filter((l) => l.msg === 'inbound HBONE connection refused').length).toBeGreaterThanOrEqual(3);
  });

  it('a DENY policy for A blocks A and not another client; an ALLOW policy allows only what it lists', async () => {
    const target = ip('mesh-b', 'echo-1');
    const fromSleep = { labels: { source_principal: SLEEP_ID, destination_workload_namespace: 'mesh-b' }, line: { 'src.identity': SLEEP_ID }, sourceNode: 'node1' };
    const fromOutsider = { labels: { destination_workload_namespace: 'mesh-b', connection_security_policy: 'unknown' }, exactSrc: true };
    const refused = (from: string, r: { error: RegExp; labels: Record<string, string>; line?: Record<string, string>; sourceNode?: string; exactSrc?: boolean }) =>
      expectRefused(mesh, { node: 'node2', dst: { ip: target, port: 9000 }, flag: 'DENY', ...r }, async () => {
        const t = await talkTraced(from, target, 9000, 'x');
        expect(t.reply).not.toContain('x');
        return t;
      });
    await mesh.syncConfig({ policies: [{ name: 'deny-sleep', namespace: 'mesh-b', action: 'DENY', rules: [[[{ principals: ['cluster.local/ns/mesh-a/sa/sleep'] }]]] }] });
    await refused(ns('mesh-a', 'sleep'), { ...fromSleep, error: /^denied by mesh-b\/deny-sleep$/ });
    expect(await talk(ns('mesh-a', 'other'), target, 9000, 'other')).toBe('echo-1|other');
    expect(await talk(ns('plain', 'outsider'), target, 9000, 'plain')).toBe('echo-1|plain');
    await mesh.syncConfig({ policies: [{ name: 'allow-other', namespace: 'mesh-b', action: 'ALLOW', rules: [[[{ principals: ['cluster.local/ns/mesh-a/sa/other'] }]]] }] });
    expect(await talk(ns('mesh-a', 'other'), target, 9000, 'listed')).toBe('echo-1|listed');
    await refused(ns('mesh-a', 'sleep'), { ...fromSleep, error: /^no allow policy matched$/ });
    await refused(ns('plain', 'outsider'), { ...fromOutsider, error: /^no allow policy matched$/ });
    await mesh.syncConfig();
    expect(await talk(ns('mesh-a', 'sleep'), target, 9000, 'open')).toBe('echo-1|open');
  });

  it('STRICT PeerAuthentication refuses a plaintext client outside the mesh; PERMISSIVE lets it through', async () => {
    const target = ip('mesh-b', 'echo-1');
    expect(await talk(ns('plain', 'outsider'), target, 9000, 'permissive')).toBe('echo-1|permissive');
    await mesh.syncConfig({ policies: [STRICT], perNode: (_node, cfg) => {
      for (const w of cfg.workloads) if (w.namespace === 'mesh-b') w.authorizationPolicies = ['istio-system/istio_converted_static_strict'];
    } });
    await expectRefused(mesh, { node: 'node2', dst: { ip: target, port: 9000 }, flag: 'DENY', error: /^denied by istio-system\/istio_converted_static_strict$/, labels: { destination_workload_namespace: 'mesh-b', connection_security_policy: 'unknown' }, exactSrc: true }, async () => {
      const t = await talkTraced(ns('plain', 'outsider'), target, 9000, 'x');
      expect(t.reply).not.toContain('x');
      return t;
    });
    expect(await talk(ns('mesh-a', 'sleep'), target, 9000, 'mtls')).toBe('echo-1|mtls');
    await mesh.syncConfig();
    expect(await talk(ns('plain', 'outsider'), target, 9000, 'again')).toBe('echo-1|again');
  });

  it('restarting both ztunnels under a steady client load refuses no new connection', async () => {
    const failures: string[] = [];
    let done = 0;
    // Bounded: 4 clients, 5000 connections in all, at most 80 s; it stops once both restarts are through.
    const deadline = Date.now() + 80_000;
    let stop = false;
    const client = async (id: number) => {
      for (let i = 0; !stop && done < 5000 && Date.now() < deadline; i++) {
        const payload = `c${id}-${i}`;
        const got = await talk(ns('mesh-a', 'sleep'), i % 2 ? vip : ip('mesh-b', 'echo-1'), i % 2 ? 80 : 9000, payload);
        if (!/^echo-[12]\|/.test(got) || !got.endsWith(payload)) failures.push(`${payload}: ${got}`);
        done++;
      }
    };
    const load = Promise.all([0, 1, 2, 3].map(client));
    await pollUntil('load to be running', () => done >= 40, { timeoutMs: 20_000 });
    const n2 = await mesh.restart('node2');
    const afterServer = done;
    await pollUntil('load through the new node2 ztunnel', () => done >= afterServer + 40, { timeoutMs: 20_000 }).catch((err: Error) => {
      const warn = (n: string) => mesh.logLines(n).filter((l) => l.level !== 'info' && l.level !== 'debug').slice(-15).map((l) => JSON.stringify(l));
      throw new Error(`${err.message}; done ${done}, failures ${JSON.stringify(failures.slice(0, 5))}\nnode1:\n${warn('node1').join('\n')}\nnode2:\n${warn('node2').join('\n')}`);
    });
    const n1 = await mesh.restart('node1');
    const afterClient = done;
    await pollUntil('load through the new node1 ztunnel', () => done >= afterClient + 40, { timeoutMs: 20_000 });
    stop = true;
    await load;
    expect(n1.generation).toBe(2);
    expect(n2.generation).toBe(2);
    expect(failures).toEqual([]);
    expect(done).toBeGreaterThanOrEqual(afterClient + 40);
  }, 120_000);

  it('bench/l4 measures both paths on this lab and prints the side-by-side table (1 s per measurement)', async () => {
    const rows = await runL4(lab, mesh, { ...DEFAULT_L4, seconds: 1, rate: 200, maxNewConnections: 500 });
    const row = (m: string) => rows.find((r) => r.metric.startsWith(m))!;
    expect(row('bulk throughput').baseline).toBeGreaterThan(0);
    expect(row('bulk throughput').mesh).toBeGreaterThan(0);
    expect(row('new connections').mesh).toBeGreaterThan(0);
    expect(row('errors')).toMatchObject({ baseline: 0, mesh: 0 });
    expect(row('ztunnel RSS').mesh).toBeGreaterThan(0);
    const table = renderTable(rows);
    expect(table.split('\n')[0]).toMatch(/no mesh\s+ztunnel\s+mesh\/base/);
    expect(table).toMatch(/latency p99 @ 200 req\/s/);
  }, 120_000);
});
