// ztunnel's data path across real network namespaces: pods A and B captured by Istio's in-pod rules,
// one ztunnel process serving both through listeners inside their netns. Checks HBONE on the wire
// (tcpdump: only port 15008, no plaintext payload), original source preserved, L4 policy, STRICT
// vs PERMISSIVE for plaintext clients, passthrough, and garbage on 15008.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import type net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HbonePool } from '../../lib/hbone/index.ts';
import { createTestPki, readAll } from '../../lib/hbone/test-fixtures.ts';
import { issueWorkloadCertificate } from '../../lib/identity/index.ts';
import { createLogger } from '../../lib/log/logger.ts';
import { registerTcpMetrics } from '../../lib/metrics/istio-tcp.ts';
import { Registry } from '../../lib/metrics/registry.ts';
import { connectTcp, NetnsHandle } from '../../lib/netns/index.ts';
import { applyInpodRules } from '../../lib/redirect/index.ts';
import { SecretManager } from '../../lib/identity/secret-manager.ts';
import { startPodProxy, type PodProxy } from '../../ztunnel/src/inpod/pod-proxy.ts';
import { RoundRobin } from '../../ztunnel/src/proxy/build-request.ts';
import { ConnectionManager } from '../../ztunnel/src/proxy/connection-manager.ts';
import { match, policy, workload } from '../../ztunnel/src/state/fixtures.ts';
import { ProxyState } from '../../ztunnel/src/state/proxy-state.ts';
import { pollUntil } from '../lab/poll.ts';
import { echoApp, podTopology, run as sh, talk } from './netns-harness.ts';

const { NS, IP, setup: topology, teardown } = podTopology(`amt-dp-${randomBytes(3).toString('hex')}`);

describe('ztunnel data path in network namespaces (root)', () => {
  const state = new ProxyState();
  const registry = new Registry();
  const log = createLogger({ component: 'ztunnel-test', destination: new PassThrough() });
  const connections = new ConnectionManager(registerTcpMetrics(registry), log);
  const servers: net.Server[] = [];
  const proxies: PodProxy[] = [];
  const fds: NetnsHandle[] = [];
  const seenByB: string[] = [];
  let pool: HbonePool;
  let secrets: SecretManager;

  beforeAll(async () => {
    if (process.getuid?.() !== 0) throw new Error('must run as root: creates network namespaces and netfilter rules');
    topology();
    for (const k of ['a', 'b'] as const) applyInpodRules({ path: `/run/netns/${NS[k]}` }, { dnsCapture: false }, 'iptables');
    const pki = await createTestPki();
    secrets = new SecretManager((id) => issueWorkloadCertificate(pki.ca, id));
    pool = new HbonePool({ getCertificate: (id) => secrets.get(id), keepalive: false });
    state.upsertWorkload(workload({ name: 'sleep', namespace: 'a', serviceAccount: 'sleep', ip: IP.a, node: 'node1' }));
    state.upsertWorkload(workload({ name: 'echo', namespace: 'b', serviceAccount: 'echo', ip: IP.b, node: 'node1' }));
    const deps = { state, network: '', node: 'node1', connections, pool, secrets, pick: new RoundRobin().pick, log };
    for (const [k, name, ns, sa] of [['a', 'sleep', 'a', 'sleep'], ['b', 'echo', 'b', 'echo']] as const) {
      const fd = NetnsHandle.open(`/run/netns/${NS[k]}`);
      fds.push(fd);
      proxies.push(startPodProxy(deps, { uid: `uid-${name}`, name, namespace: ns, serviceAccount: sa }, fd));
    }
    servers.push(await echoApp(NS.b, 9000, seenByB));
    servers.push(await echoApp(NS.c, 9001, []));
  });

  afterAll(() => {
    for (const p of proxies) p.close();
    for (const s of servers) s.close();
    connections.closeAll('test done');
    secrets?.close();
    for (const fd of fds) fd.release();
    teardown();
  });

  it('A → B goes over HBONE: only port 15008 on the wire, no plaintext, source IP preserved', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'amt-dp-'));
    const pcap = join(dir, 'wire.pcap');
    let dump: ChildProcess | undefined;
    try {
      dump = spawn('nsenter', [`--net=/run/netns/${NS.sw}`, '--', 'tcpdump', '--immediate-mode', '-i', 'br0', '-U', '-w', pcap, 'tcp'], { stdio: ['ignore', 'ignore', 'pipe'] });
      let err = '';
      dump.stderr!.on('data', (d: Buffer) => (err += d.toString()));
      await pollUntil('tcpdump to listen', () => err.includes('listening on'), { timeoutMs: 10_000 });
      const secret = `top-secret-${randomBytes(8).toString('hex')}`;
      expect(await talk(NS.a, IP.b, 9000, secret)).toBe(secret);
      // The handshake, data and FINs: well over 10 packets once they are all written.
      await pollUntil('the capture to be written', () => sh(['tcpdump', '-nn', '-r', pcap]).split('\n').length > 10, { timeoutMs: 10_000 });
      dump.kill('SIGINT');
      await new Promise((r) => dump!.once('exit', r));
      expect(readFileSync(pcap).includes(Buffer.from(secret))).toBe(false);
      const all = sh(['tcpdump', '-nn', '-r', pcap]).trim().split('\n').filter(Boolean);
      expect(all.length).toBeGreaterThan(0);
      const notHbone = sh(['tcpdump', '-nn', '-r', pcap, 'not port 15008']).trim();
      expect(notHbone).toBe('');
      expect(seenByB.at(-1)).toBe(IP.a);
    } finally {
      dump?.kill('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
    }
    expect(registry.render()).toMatch(/^istio_tcp_connections_opened_total\{reporter="source",source_workload="sleep",.*destination_workload="echo".*connection_security_policy="mutual_tls"\} 1$/m);
  });

  it('a DENY policy for A blocks A and not a plaintext client; an ALLOW policy allows only what it lists', async () => {
    state.upsertPolicy(policy({ name: 'deny-sleep', namespace: 'b', action: 'DENY', clauses: [[match({ principals: [{ kind: 'exact', value: 'cluster.local/ns/a/sa/sleep' }] })]] }));
    expect(await talk(NS.a, IP.b, 9000, 'x')).not.toBe('x');
    // Refused by B's ztunnel for that policy (401 → DENY), not lost on the way.
    expect(registry.render()).toMatch(/^istio_tcp_connections_closed_total\{reporter="destination",.*source_principal="spiffe:\/\/cluster.local\/ns\/a\/sa\/sleep".*response_flags="DENY".*\} 1$/m);
    expect(await talk(NS.c, IP.b, 9000, 'from-c')).toBe('from-c');
    state.removePolicy('b/deny-sleep');
    state.upsertPolicy(policy({ name: 'allow-ns-a', namespace: 'b', clauses: [[match({ namespaces: [{ kind: 'exact', value: 'a' }] })]] }));
    expect(await talk(NS.a, IP.b, 9000, 'allowed')).toBe('allowed');
    expect(await talk(NS.c, IP.b, 9000, 'x')).not.toBe('x');
    state.removePolicy('b/allow-ns-a');
  });

  it('STRICT refuses a plaintext client, PERMISSIVE lets it through', async () => {
    expect(await talk(NS.c, IP.b, 9000, 'permissive')).toBe('permissive');
    state.upsertPolicy(policy({ name: 'istio_converted_static_strict', namespace: 'istio-system', scope: 'WORKLOAD_SELECTOR', action: 'DENY', clauses: [[match({ notPrincipals: [{ kind: 'presence' }] })]] }));
    const echo = state.findWorkloadByUid('Kubernetes//Pod/b/echo')!;
    state.upsertWorkload({ ...echo, authorizationPolicies: ['istio-system/istio_converted_static_strict'] });
    expect(await talk(NS.c, IP.b, 9000, 'x')).not.toBe('x');
    expect(await talk(NS.a, IP.b, 9000, 'mtls')).toBe('mtls');
    state.upsertWorkload(echo);
    expect(await talk(NS.c, IP.b, 9000, 'again')).toBe('again');
  });

  it('a destination outside the mesh is reached by passthrough', async () => {
    expect(await talk(NS.a, IP.c, 9001, 'outside')).toBe('outside');
    expect(registry.render()).toMatch(/^istio_tcp_connections_opened_total\{reporter="source",source_workload="sleep",.*destination_workload="unknown".*connection_security_policy="unknown"\} 1$/m);
  });

  it('garbage on 15008 is refused and other connections are unaffected', async () => {
    const long = connectTcp({ netns: `/run/netns/${NS.a}`, host: IP.b, port: 9000, allowHalfOpen: true });
    long.write('first;');
    const garbage = await talk(NS.c, IP.b, 15008, 'GET / HTTP/1.1\r\nHost: x\r\n\r\n');
    expect(garbage).not.toContain('HTTP/1.1 200');
    long.end('second');
    expect((await readAll(long)).toString()).toBe('first;second');
  });
});
