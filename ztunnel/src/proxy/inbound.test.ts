// Inbound HBONE through a real HBONE server and client on loopback: allowed tunnels reach the app,
// policy denials answer 401 and are counted, bad targets 400, a dead app 503.
import net from 'node:net';
import { PassThrough } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HbonePool } from '../../../lib/hbone/index.ts';
import { createTestPki, readAll, startHboneServer, startTcpApp, type HboneFixture, type TcpApp, type TestPki } from '../../../lib/hbone/test-fixtures.ts';
import { createLogger } from '../../../lib/log/logger.ts';
import { registerTcpMetrics } from '../../../lib/metrics/istio-tcp.ts';
import { Registry } from '../../../lib/metrics/registry.ts';
import { match, policy, workload } from '../state/fixtures.ts';
import { ProxyState } from '../state/proxy-state.ts';
import { ConnectionManager } from './connection-manager.ts';
import { inboundHandler, planInbound } from './inbound.ts';

const CLIENT = 'spiffe://cluster.local/ns/a/sa/sleep';
const SERVER = 'spiffe://cluster.local/ns/b/sa/echo';

describe('planInbound', () => {
  const s = new ProxyState();
  s.upsertWorkload(workload({ name: 'echo', namespace: 'b', serviceAccount: 'echo', ip: '10.244.2.7' }));
  const req = { targetIp: '10.244.2.7', targetPort: 8080, localIp: '10.244.2.7', peerIdentity: CLIENT, remoteIp: '10.244.1.5' };
  it.each([
    ['another pod IP', { targetIp: '10.244.2.8' }, 400],
    ['a ztunnel port', { targetPort: 15008 }, 400],
    ['an unknown local pod', { targetIp: '10.244.2.9', localIp: '10.244.2.9' }, 503],
  ])('rejects %s', (_n, over, status) => {
    expect(planInbound(s, '', { ...req, ...over })).toMatchObject({ kind: 'reject', status });
  });
  it('accepts with IPv4-mapped local addresses', () => {
    expect(planInbound(s, '', { ...req, localIp: '::ffff:10.244.2.7' })).toMatchObject({ kind: 'connect', target: { ip: '10.244.2.7', port: 8080 } });
  });
});

describe('inbound HBONE handler (loopback)', () => {
  let pki: TestPki;
  let app: TcpApp;
  let server: HboneFixture;
  let pool: HbonePool;
  const state = new ProxyState();
  const registry = new Registry();
  const log = createLogger({ component: 'test', destination: new PassThrough() });
  const connections = new ConnectionManager(registerTcpMetrics(registry), log);

  beforeAll(async () => {
    pki = await createTestPki();
    state.upsertWorkload(workload({ name: 'echo', namespace: 'b', serviceAccount: 'echo', ip: '127.0.0.1' }));
    app = await startTcpApp((s) => s.pipe(s));
    server = await startHboneServer({
      getCertificate: () => pki.cert(SERVER),
      onTunnel: inboundHandler({ state, network: '', connections, dialApp: (t) => net.connect({ host: t.ip, port: t.port, allowHalfOpen: true }) }),
    });
    pool = new HbonePool({ getCertificate: (id) => pki.cert(id), keepalive: false });
  });

  afterAll(async () => {
    pool.close?.();
    await server.close();
    await app.close();
  });

  const open = (port: number) => pool.connect({
    key: { srcIdentity: CLIENT, dstIdentities: [SERVER], dstAddress: `127.0.0.1:${server.port}` },
    authority: `127.0.0.1:${port}`,
    connectSocket: () => net.connect({ host: '127.0.0.1', port: server.port }),
  });

  it('tunnels to the app when no policy applies, and counts the connection', async () => {
    const t = await open(app.port);
    t.end('hello');
    expect((await readAll(t)).toString()).toBe('hello');
    await expect.poll(() => registry.render()).toMatch(/^istio_tcp_connections_closed_total\{reporter="destination",.*source_principal="spiffe:\/\/cluster.local\/ns\/a\/sa\/sleep".*destination_workload="echo".*response_flags="-",connection_security_policy="mutual_tls"\} 1$/m);
    expect(registry.render()).toMatch(/^istio_tcp_received_bytes_total\{.*\} 5$/m);
  });

  it('answers 401 when a DENY policy matches the peer', async () => {
    state.upsertPolicy(policy({ name: 'deny-sleep', namespace: 'b', action: 'DENY', clauses: [[match({ principals: [{ kind: 'exact', value: 'cluster.local/ns/a/sa/sleep' }] })]] }));
    await expect(open(app.port)).rejects.toMatchObject({ status: 401 });
    expect(registry.render()).toMatch(/response_flags="DENY".*\} 1$/m);
    state.removePolicy('b/deny-sleep');
  });

  it('answers 503 when the app refuses', async () => {
    const dead = net.createServer();
    await new Promise<void>((r) => dead.listen(0, '127.0.0.1', r));
    const port = (dead.address() as net.AddressInfo).port;
    await new Promise<void>((r) => dead.close(() => r()));
    await expect(open(port)).rejects.toMatchObject({ status: 503 });
  });
});
