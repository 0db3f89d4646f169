// Plaintext inbound on loopback: allowed without policy, refused by the STRICT-style DENY on
// "no principal" that PeerAuthentication STRICT becomes.
import net from 'node:net';
import { PassThrough } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readAll, startTcpApp, type TcpApp } from '../../../lib/hbone/test-fixtures.ts';
import { createLogger } from '../../../lib/log/logger.ts';
import { registerTcpMetrics } from '../../../lib/metrics/istio-tcp.ts';
import { Registry } from '../../../lib/metrics/registry.ts';
import { match, policy, workload } from '../state/fixtures.ts';
import { ProxyState } from '../state/proxy-state.ts';
import { ConnectionManager } from './connection-manager.ts';
import { inboundPassthroughHandler } from './inbound-passthrough.ts';

describe('inbound plaintext handler (loopback)', () => {
  const state = new ProxyState();
  const registry = new Registry();
  const connections = new ConnectionManager(registerTcpMetrics(registry), createLogger({ component: 'test', destination: new PassThrough() }));
  let app: TcpApp;
  let listener: net.Server;

  beforeAll(async () => {
    state.upsertWorkload(workload({ name: 'echo', namespace: 'b', ip: '127.0.0.1' }));
    app = await startTcpApp((s) => s.pipe(s));
    listener = net.createServer({ allowHalfOpen: true }, inboundPassthroughHandler({
      state, network: '', connections,
      originalDst: () => ({ ip: '127.0.0.1', port: app.port }),
      dialApp: (t) => net.connect({ host: t.ip, port: t.port, allowHalfOpen: true }),
    }));
    await new Promise<void>((r) => listener.listen(0, '127.0.0.1', r));
  });

  afterAll(async () => {
    await new Promise<void>((r) => listener.close(() => r()));
    await app.close();
  });

  const send = async (payload: string): Promise<string> => {
    const c = net.connect({ host: '127.0.0.1', port: (listener.address() as net.AddressInfo).port, allowHalfOpen: true });
    c.end(payload);
    return (await readAll(c).catch((e: Error) => Buffer.from(`error:${(e as { code?: string }).code}`))).toString();
  };

  it('PERMISSIVE (no policy): forwarded to the app', async () => {
    expect(await send('plain')).toBe('plain');
  });

  it('STRICT (deny when no principal): refused and counted as DENY', async () => {
    state.upsertPolicy(policy({ name: 'istio_converted_static_strict', namespace: 'istio-system', scope: 'GLOBAL', action: 'DENY', clauses: [[match({ notPrincipals: [{ kind: 'presence' }] })]] }));
    expect(await send('plain')).toMatch(/^error:|^$/);
    expect(registry.render()).toMatch(/^istio_tcp_connections_closed_total\{.*response_flags="DENY",connection_security_policy="unknown"\} 1$/m);
  });
});
