// ztunnel's workload xDS end to end in one process: a delta ADS server on loopback (lib/xds
// test-server) feeding the real client, handlers and ProxyState; and the app's readiness gate.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { createLogger } from '../../../lib/log/logger.ts';
import { Registry } from '../../../lib/metrics/registry.ts';
import {
  ADDRESS_TYPE_URL,
  addressCodec,
  AUTHORIZATION_TYPE_URL,
  authorizationCodec,
  packAny,
  structToJson,
  type Authorization,
  type MessageInput,
  type Service as ProtoService,
  type Workload as ProtoWorkload,
} from '../../../lib/proto/index.ts';
import type { DeltaXdsClient } from '../../../lib/xds/index.ts';
import { XdsTestServer, type TestResource } from '../../../lib/xds/test-server.ts';
import { startZtunnel } from '../app.ts';
import { configFromEnv } from '../config.ts';
import { ProxyState } from '../state/proxy-state.ts';
import { startWorkloadXds, type WorkloadXdsSettings } from './workload-xds.ts';

const poll = { timeout: 10_000, interval: 10 };
const ip = (...b: number[]): Buffer => Buffer.from(b);

function wl(name: string, addr: number[], extra: MessageInput<ProtoWorkload> = {}, version = 'v1'): TestResource {
  const uid = `Kubernetes//Pod/default/${name}`;
  return { name: uid, version, resource: packAny(addressCodec, { type: { $case: 'workload', workload: { uid, name, namespace: 'default', addresses: [ip(...addr)], node: 'node1', tunnelProtocol: 1, serviceAccount: name, ...extra } } }) };
}

function svc(name: string, vip: number[], extra: MessageInput<ProtoService> = {}, version = 'v1'): TestResource {
  const hostname = `${name}.default.svc.cluster.local`;
  return { name: `default/${hostname}`, version, resource: packAny(addressCodec, { type: { $case: 'service', service: { name, namespace: 'default', hostname, addresses: [{ network: '', address: ip(...vip) }], ports: [{ servicePort: 80, targetPort: 8080 }], ...extra } } }) };
}

function pol(name: string, extra: MessageInput<Authorization> = {}, version = 'v1'): TestResource {
  return { name: `default/${name}`, version, resource: packAny(authorizationCodec, { name, namespace: 'default', scope: 1, action: 1, ...extra }) };
}

const cleanup: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await f();
});

async function server(): Promise<XdsTestServer> {
  const s = await XdsTestServer.start();
  cleanup.push(() => s.close());
  return s;
}

function settings(address: string, extra: Partial<WorkloadXdsSettings> = {}): WorkloadXdsSettings {
  return { xdsAddress: address, xdsRootCaPath: 'SYSTEM', clusterId: 'Kubernetes', nodeName: 'node1', podName: 'ztunnel-abc', podNamespace: 'istio-system', instanceIp: '10.0.0.5', ...extra };
}

function start(s: WorkloadXdsSettings): { state: ProxyState; xds: DeltaXdsClient } {
  const state = new ProxyState();
  const xds = startWorkloadXds(s, { state, registry: new Registry(), log: createLogger({ component: 'test', level: 'silent' }), backoff: { initialMs: 10, maxMs: 100 } });
  cleanup.push(() => xds.close());
  return { state, xds };
}

describe('workload xDS into the ProxyState', () => {
  it('announces the node, sends the token file and cluster id, and lands the initial state', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'xds-token-'));
    cleanup.push(() => rmSync(dir, { recursive: true, force: true }));
    const tokenPath = join(dir, 'istio-token');
    writeFileSync(tokenPath, 'jwt-1\n');
    const s = await server();
    s.resources(ADDRESS_TYPE_URL).set(wl('a', [10, 244, 1, 5]).name, wl('a', [10, 244, 1, 5], { services: { 'default/echo.default.svc.cluster.local': { ports: [{ servicePort: 80, targetPort: 8080 }] } }, authorizationPolicies: ['default/sel'] }));
    s.resources(ADDRESS_TYPE_URL).set(svc('echo', [10, 96, 0, 10]).name, svc('echo', [10, 96, 0, 10]));
    s.resources(AUTHORIZATION_TYPE_URL).set(pol('deny-all').name, pol('deny-all'));
    const { state, xds } = start(settings(s.address, { authTokenPath: tokenPath, clusterId: 'cluster-1' }));
    await vi.waitFor(() => expect(xds.allSynced()).toBe(true), poll);

    const stream = s.streams[0]!;
    expect(stream.metadata.get('authorization')).toEqual(['Bearer jwt-1']);
    expect(stream.metadata.get('clusterid')).toEqual(['cluster-1']);
    const first = stream.requests[0]!;
    expect(first.node?.id).toBe('ztunnel~10.0.0.5~ztunnel-abc.istio-system~istio-system.svc.cluster.local');
    expect(structToJson(first.node?.metadata)).toEqual({ NAME: 'ztunnel-abc', NAMESPACE: 'istio-system', INSTANCE_IPS: '10.0.0.5', NODE_NAME: 'node1' });
    expect(stream.requests.slice(0, 2).map((r) => r.typeUrl).sort()).toEqual([ADDRESS_TYPE_URL, AUTHORIZATION_TYPE_URL].sort());

    expect(state.findWorkloadByAddress('', '10.244.1.5')).toMatchObject({ uid: 'Kubernetes//Pod/default/a', node: 'node1', tunnelProtocol: 'HBONE', authorizationPolicies: ['default/sel'] });
    expect(state.findServiceByVip('', '10.96.0.10')).toMatchObject({ name: 'echo', ports: [{ servicePort: 80, targetPort: 8080 }] });
    expect(state.serviceEndpoints('default/echo.default.svc.cluster.local').map((w) => w.name)).toEqual(['a']);
    expect(state.policies()).toMatchObject([{ name: 'deny-all', namespace: 'default', scope: 'NAMESPACE', action: 'DENY' }]);
  });

  it('an update replaces, a removal removes (workload by uid, service by ns/hostname, policy by ns/name)', async () => {
    const s = await server();
    const { state, xds } = start(settings(s.address));
    await vi.waitFor(() => expect(xds.allSynced()).toBe(true), poll);
    s.update(ADDRESS_TYPE_URL, { upsert: [wl('a', [10, 0, 0, 1]), svc('echo', [10, 96, 0, 10])] });
    s.update(AUTHORIZATION_TYPE_URL, { upsert: [pol('p')] });
    await vi.waitFor(() => expect(state.findWorkloadByAddress('', '10.0.0.1')?.name).toBe('a'), poll);
    await vi.waitFor(() => expect(state.policies()).toHaveLength(1), poll);

    s.update(ADDRESS_TYPE_URL, { upsert: [wl('a', [10, 0, 0, 2], {}, 'v2')] });
    await vi.waitFor(() => expect(state.findWorkloadByAddress('', '10.0.0.2')?.name).toBe('a'), poll);
    expect(state.findWorkloadByAddress('', '10.0.0.1')).toBeUndefined();
    expect(state.workloads()).toHaveLength(1);
    expect(xds.versions(ADDRESS_TYPE_URL).get('Kubernetes//Pod/default/a')).toBe('v2');

    s.update(ADDRESS_TYPE_URL, { remove: ['Kubernetes//Pod/default/a', 'default/echo.default.svc.cluster.local', 'Kubernetes//Pod/default/never-seen'] });
    s.update(AUTHORIZATION_TYPE_URL, { remove: ['default/p'] });
    await vi.waitFor(() => expect(state.policies()).toHaveLength(0), poll);
    await vi.waitFor(() => expect(state.workloads()).toHaveLength(0), poll);
    expect(state.services()).toHaveLength(0);
    expect(xds.versions(ADDRESS_TYPE_URL).size).toBe(0);
    expect(xds.stats.nacks).toBe(0);
  });

  it('NACKs a malformed resource with its reason; the others in the response apply; the stream stays up', async () => {
    const s = await server();
    const { state, xds } = start(settings(s.address));
    await vi.waitFor(() => expect(xds.allSynced()).toBe(true), poll);
    const badBytes: TestResource = { name: 'Kubernetes//Pod/default/bad', version: 'v1', resource: packAny(addressCodec, { type: { $case: 'workload', workload: { uid: 'Kubernetes//Pod/default/bad', addresses: [ip(10, 0, 0)] } } }) };
    const notAnAddress: TestResource = { name: 'default/x', version: 'v1', resource: packAny(authorizationCodec, { name: 'x', namespace: 'default' }) };
    const wrongName: TestResource = { ...wl('c', [10, 0, 0, 3]), name: 'Kubernetes//Pod/default/not-c' };
    s.update(ADDRESS_TYPE_URL, { upsert: [wl('a', [10, 0, 0, 1]), badBytes, notAnAddress, wrongName, svc('echo', [10, 96, 0, 10])] });
    await vi.waitFor(() => expect(s.streams[0]!.requests.at(-1)?.errorDetail).toBeDefined(), poll);
    const nack = s.streams[0]!.requests.at(-1)!;
    expect(nack.typeUrl).toBe(ADDRESS_TYPE_URL);
    expect(nack.errorDetail?.message).toBe(
      [
        'Kubernetes//Pod/default/bad: workload.addresses[0]: an IP address must be 4 or 16 bytes, got 3',
        'default/x: typeUrl: expected type.googleapis.com/istio.workload.Address, got type.googleapis.com/istio.security.Authorization',
        'Kubernetes//Pod/default/not-c: resource name must be the workload uid "Kubernetes//Pod/default/c"',
      ].join('; '),
    );
    expect(state.findWorkloadByAddress('', '10.0.0.1')?.name).toBe('a');
    expect(state.findServiceByVip('', '10.96.0.10')?.name).toBe('echo');
    expect(state.findWorkloadByUid('Kubernetes//Pod/default/bad')).toBeUndefined();
    expect([...xds.versions(ADDRESS_TYPE_URL).keys()].sort()).toEqual(['Kubernetes//Pod/default/a', 'default/echo.default.svc.cluster.local']);
    expect(s.streams).toHaveLength(1);
    expect(s.streams[0]!.open).toBe(true);

    // A bad update to a resource in force leaves the last good one in force.
    s.update(ADDRESS_TYPE_URL, { upsert: [wl('a', [10, 0, 0, 1], { tunnelProtocol: 2 }, 'v2')] });
    await vi.waitFor(() => expect(s.streams[0]!.requests.at(-1)!.errorDetail?.message).toBe('Kubernetes//Pod/default/a: workload.tunnelProtocol: LEGACY_ISTIO_MTLS is not supported'), poll);
    expect(xds.stats.nacks).toBe(2);
    expect(state.findWorkloadByAddress('', '10.0.0.1')?.tunnelProtocol).toBe('HBONE');
    expect(xds.versions(ADDRESS_TYPE_URL).get('Kubernetes//Pod/default/a')).toBe('v1');
  });

  it('after a reconnect, offers what it holds and applies what changed meanwhile', async () => {
    const s = await server();
    const a = wl('a', [10, 0, 0, 1]);
    const b = wl('b', [10, 0, 0, 2]);
    for (const r of [a, b, svc('echo', [10, 96, 0, 10])]) s.resources(ADDRESS_TYPE_URL).set(r.name, r);
    s.resources(AUTHORIZATION_TYPE_URL).set('default/p', pol('p'));
    const { state, xds } = start(settings(s.address));
    await vi.waitFor(() => expect(state.workloads()).toHaveLength(2), poll);

    s.resources(ADDRESS_TYPE_URL).delete(b.name);
    s.resources(ADDRESS_TYPE_URL).set(a.name, wl('a', [10, 0, 0, 9], {}, 'v2'));
    s.dropStreams();
    await vi.waitFor(() => expect(s.streams[1]?.requests.length).toBeGreaterThanOrEqual(2), poll);
    const again = s.streams[1]!.requests;
    expect(again.find((r) => r.typeUrl === ADDRESS_TYPE_URL)?.initialResourceVersions).toEqual({
      'Kubernetes//Pod/default/a': 'v1',
      'Kubernetes//Pod/default/b': 'v1',
      'default/echo.default.svc.cluster.local': 'v1',
    });
    expect(again.find((r) => r.typeUrl === AUTHORIZATION_TYPE_URL)?.initialResourceVersions).toEqual({ 'default/p': 'v1' });
    await vi.waitFor(() => expect(state.findWorkloadByAddress('', '10.0.0.9')?.name).toBe('a'), poll);
    expect(state.findWorkloadByUid(b.name)).toBeUndefined();
    expect(state.services()).toHaveLength(1);
    expect(state.policies()).toHaveLength(1);
    expect(xds.stats.reconnects).toBe(1);
  });
});

describe('the ztunnel app with XDS_ADDRESS', () => {
  it('is not ready until both types synced, and closes the stream on shutdown', async () => {
    const s = await server();
    s.hold(AUTHORIZATION_TYPE_URL);
    const parsed = configFromEnv({
      NODE_NAME: 'node1', XDS_ADDRESS: s.address, POD_NAME: 'ztunnel-1', POD_NAMESPACE: 'istio-system', INSTANCE_IP: '10.0.0.5',
      ADMIN_ADDR: '127.0.0.1:0', STATS_ADDR: '127.0.0.1:0', READINESS_ADDR: '127.0.0.1:0', LOG_LEVEL: 'silent',
    });
    if (!parsed.ok) throw new Error(parsed.errors.join('; '));
    const app = await startZtunnel(parsed.config, { zds: false, issuer: () => Promise.reject(new Error('no certificates in this test')) });
    let stopped = false;
    cleanup.push(async () => {
      if (!stopped) await app.shutdown();
    });
    expect(app.xds).toBeDefined();
    await vi.waitFor(() => expect(app.xds!.synced(ADDRESS_TYPE_URL)).toBe(true), poll);
    expect(app.notReady()).toContain('xDS not synced');
    s.release(AUTHORIZATION_TYPE_URL);
    await vi.waitFor(() => expect(app.xds!.allSynced()).toBe(true), poll);
    expect(app.notReady()).not.toContain('xDS not synced');
    s.update(ADDRESS_TYPE_URL, { upsert: [wl('a', [10, 0, 0, 1])] });
    await vi.waitFor(() => expect(app.state.findWorkloadByAddress('', '10.0.0.1')?.name).toBe('a'), poll);
    const metrics = await fetch(`http://127.0.0.1:${app.ports.metrics}/metrics`).then((r) => r.text());
    expect(metrics).toContain(`xds_client_acks_total{type_url="${ADDRESS_TYPE_URL}"} 2`);
    await app.shutdown();
    stopped = true;
    expect(app.xds!.state).toBe('closed');
    await vi.waitFor(() => expect(s.openStreams()).toHaveLength(0), poll);
  });

  it('reports "xDS not synced" while the control plane is unreachable', async () => {
    const parsed = configFromEnv({
      NODE_NAME: 'node1', XDS_ADDRESS: 'http://127.0.0.1:1', POD_NAME: 'ztunnel-1', INSTANCE_IP: '10.0.0.5',
      ADMIN_ADDR: '127.0.0.1:0', STATS_ADDR: '127.0.0.1:0', READINESS_ADDR: '127.0.0.1:0', LOG_LEVEL: 'silent',
    });
    if (!parsed.ok) throw new Error(parsed.errors.join('; '));
    const app = await startZtunnel(parsed.config, { zds: false, issuer: () => Promise.reject(new Error('no certificates in this test')) });
    cleanup.push(() => app.shutdown());
    expect(app.notReady()).toContain('xDS not synced');
    await vi.waitFor(() => expect(app.xds!.stats.streams).toBeGreaterThanOrEqual(2), poll);
    expect(app.notReady()).toContain('xDS not synced');
  });
});
