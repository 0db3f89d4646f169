// Outbound through the real HBONE pool to a real HBONE server running the inbound handler, on
// loopback: a mesh destination is tunnelled (both sides count it), an unknown one passes through.
import net from 'node:net';
import { PassThrough } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HbonePool } from '../../../lib/hbone/index.ts';
import { createTestPki, readAll, startHboneServer, startTcpApp, type HboneFixture, type TcpApp } from '../../../lib/hbone/test-fixtures.ts';
import { createLogger } from '../../../lib/log/logger.ts';
import { registerTcpMetrics } from '../../../lib/metrics/istio-tcp.ts';
import { Registry } from '../../../lib/metrics/registry.ts';
import { workload } from '../state/fixtures.ts';
import { ProxyState } from '../state/proxy-state.ts';
import { RoundRobin } from './build-request.ts';
import { ConnectionManager } from './connection-manager.ts';
import { inboundHandler } from './inbound.ts';
import { outboundHandler } from './outbound.ts';

describe('outbound handler (loopback)', () => {
  const state = new ProxyState();
  const registry = new Registry();
  const connections = new ConnectionManager(registerTcpMetrics(registry), createLogger({ component: 'test', destination: new PassThrough() }));
  let app: TcpApp;
  let hbone: HboneFixture;
  let pool: HbonePool;
  let listener: net.Server;
  let target = { ip: '127.0.0.1', port: 0 };

  beforeAll(async () => {
    const pki = await createTestPki();
    state.upsertWorkload(workload({ name: 'sleep', namespace: 'a', ip: '127.0.0.2' }));
    state.upsertWorkload(workload({ name: 'echo', namespace: 'b', serviceAccount: 'echo', ip: '127.0.0.1' }));
    // On all loopback addresses, so 127.0.0.3 (no workload there) reaches it as a passthrough target.
    app = await startTcpApp((s) => s.pipe(s), '0.0.0.0');
    hbone = await startHboneServer({
      getCertificate: () => pki.cert('spiffe://cluster.local/ns/b/sa/echo'),
      onTunnel: inboundHandler({ state, network: '', connections, dialApp: (t) => net.connect({ host: t.ip, port: t.port, allowHalfOpen: true }) }),
    });
    pool = new HbonePool({ getCertificate: (id) => pki.cert(id), keepalive: false });
    const handle = outboundHandler({
      state, network: '', connections, pool, pick: new RoundRobin().pick,
      sourceWorkload: () => state.findWorkloadByUid('Kubernetes//Pod/a/sleep'),
      originalDst: () => target,
      dialTcp: (t) => net.connect({ host: t.ip, port: t.port === 15008 ? hbone.port : t.port, allowHalfOpen: true }),
    });
    listener = net.createServer({ allowHalfOpen: true }, handle);
    await new Promise<void>((r) => listener.listen(0, '127.0.0.1', r));
  });

  afterAll(async () => {
    await new Promise<void>((r) => listener.close(() => r()));
    await hbone.close();
    await app.close();
  });

  const send = async (payload: string): Promise<string> => {
    const c = net.connect({ host: '127.0.0.1', port: (listener.address() as net.AddressInfo).port, allowHalfOpen: true });
    c.end(payload);
    return (await readAll(c)).toString();
  };

  it('tunnels a mesh destination over HBONE, half-close carried, counted by both reporters', async () => {
    target = { ip: '127.0.0.1', port: app.port };
    expect(await send('over hbone')).toBe('over hbone');
    expect(hbone.tunnels.at(-1)?.rawAuthority).toBe(`127.0.0.1:${app.port}`);
    expect(hbone.tunnels.at(-1)?.headers.baggage).toContain('k8s.namespace.name=a');
    await expect.poll(() => registry.render()).toMatch(/^istio_tcp_connections_closed_total\{reporter="source",.*destination_workload="echo".*connection_security_policy="mutual_tls"\} 1$/m);
    expect(registry.render()).toMatch(/^istio_tcp_connections_closed_total\{reporter="destination",.*\} 1$/m);
  });

  it('passes an unknown destination through as plain TCP', async () => {
    target = { ip: '127.0.0.3', port: app.port };
    const before = hbone.tunnels.length;
    expect(await send('plain')).toBe('plain');
    expect(hbone.tunnels.length).toBe(before);
    await expect.poll(() => registry.render()).toMatch(/^istio_tcp_connections_closed_total\{reporter="source",.*destination_workload="unknown".*connection_security_policy="unknown"\} 1$/m);
  });

  it('holds a connection whose pod workload has not arrived yet, and carries it once it does', async () => {
    target = { ip: '127.0.0.1', port: app.port };
    const sleep = state.findWorkloadByUid('Kubernetes//Pod/a/sleep')!;
    state.removeWorkload(sleep.uid);
    const refusedBefore = registry.render().match(/response_flags="CONNECT"/g)?.length ?? 0;
    const reply = send('waited');
    // Held, not refused: the connection is pending in the manager (a drain would wait for it) and
    // no CONNECT refusal has been counted.
    await expect.poll(() => connections.count()).toBe(1);
    expect(registry.render().match(/response_flags="CONNECT"/g)?.length ?? 0).toBe(refusedBefore);
    state.upsertWorkload(sleep);
    expect(await reply).toBe('waited');
    await expect.poll(() => connections.count()).toBe(0);
  });
});

describe('outbound handler without a source workload', () => {
  it('refuses the connection when the workload does not arrive in time', async () => {
    const state = new ProxyState();
    const registry = new Registry();
    const connections = new ConnectionManager(registerTcpMetrics(registry), createLogger({ component: 'test', destination: new PassThrough() }));
    const handle = outboundHandler({
      state, network: '', connections, pool: new HbonePool({ getCertificate: () => Promise.reject(new Error('unused')), keepalive: false }), pick: new RoundRobin().pick,
      sourceWorkload: () => undefined, originalDst: () => ({ ip: '127.0.0.1', port: 9 }), dialTcp: () => { throw new Error('unused'); }, sourceWaitMs: 100,
    });
    const listener = net.createServer({ allowHalfOpen: true }, handle);
    await new Promise<void>((r) => listener.listen(0, '127.0.0.1', r));
    try {
      const c = net.connect({ host: '127.0.0.1', port: (listener.address() as net.AddressInfo).port });
      const outcome = await new Promise<string>((resolve) => {
        c.on('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? e.message));
        c.on('close', () => resolve('closed'));
        c.resume();
      });
      expect(outcome).toBe('ECONNRESET');
      expect(registry.render()).toMatch(/^istio_tcp_connections_closed_total\{reporter="source",source_workload="unknown",.*response_flags="CONNECT".*\} 1$/m);
    } finally {
      listener.close();
    }
  });
});
