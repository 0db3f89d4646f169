// Per-connection failures injected into the proxy paths on loopback: a dial that throws synchronously
// (EMFILE, a netns gone) and an HBONE peer that takes the CONNECT and never answers. Each costs only
// its own connection (the client sees a reset), is counted in ztunnel_proxy_errors_total and the
// istio_tcp_* CONNECT flag, and the next connection through the same listener works.
import net from 'node:net';
import { PassThrough } from 'node:stream';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { HbonePool } from '../../../lib/hbone/index.ts';
import { createTestPki, readAll, startHboneServer, startTcpApp, type TcpApp, type TestPki } from '../../../lib/hbone/test-fixtures.ts';
import { createLogger } from '../../../lib/log/logger.ts';
import { registerTcpMetrics } from '../../../lib/metrics/istio-tcp.ts';
import { Registry } from '../../../lib/metrics/registry.ts';
import { NetnsError } from '../../../lib/netns/errors.ts';
import { workload } from '../state/fixtures.ts';
import { ProxyState } from '../state/proxy-state.ts';
import { RoundRobin } from './build-request.ts';
import { ConnectionManager, registerProxyErrors } from './connection-manager.ts';
import { inboundHandler } from './inbound.ts';
import { inboundPassthroughHandler } from './inbound-passthrough.ts';
import { outboundHandler } from './outbound.ts';

const emfile = (): never => {
  throw NetnsError.of('EMFILE', 'socket', 'injected');
};

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

function harness() {
  const registry = new Registry();
  const log = new PassThrough();
  const logged: string[] = [];
  log.on('data', (d: Buffer) => logged.push(d.toString()));
  const connections = new ConnectionManager(registerTcpMetrics(registry), createLogger({ component: 'test', destination: log }), registerProxyErrors(registry));
  return { registry, connections, logged };
}

async function serve(handler: (s: net.Socket) => void): Promise<number> {
  const listener = net.createServer({ allowHalfOpen: true }, handler);
  await new Promise<void>((r) => listener.listen(0, '127.0.0.1', r));
  cleanups.push(() => new Promise<void>((r) => listener.close(() => r())));
  return (listener.address() as net.AddressInfo).port;
}

/** Sends `payload`, half-closes, and returns the reply or `error:<code>`. */
async function send(port: number, payload: string): Promise<string> {
  const c = net.connect({ host: '127.0.0.1', port, allowHalfOpen: true });
  c.end(payload);
  return (await readAll(c).catch((e: Error) => Buffer.from(`error:${(e as { code?: string }).code ?? e.message}`))).toString();
}

let app: TcpApp;
let pki: TestPki;
beforeAll(async () => {
  pki = await createTestPki();
  app = await startTcpApp((s) => void s.pipe(s), '0.0.0.0');
  return () => app.close();
});

describe('a dial that throws synchronously', () => {
  it('inbound plaintext: resets that connection, logs and counts it, and the next one is served', async () => {
    const { registry, connections, logged } = harness();
    const state = new ProxyState();
    state.upsertWorkload(workload({ name: 'echo', namespace: 'b', ip: '127.0.0.1' }));
    let fail = true;
    const port = await serve(
      inboundPassthroughHandler({
        state, network: '', connections,
        originalDst: () => ({ ip: '127.0.0.1', port: app.port }),
        dialApp: (t) => (fail ? emfile() : net.connect({ host: t.ip, port: t.port, allowHalfOpen: true })),
      }),
    );
    expect(await send(port, 'x')).toBe('error:ECONNRESET');
    expect(registry.render()).toMatch(/^ztunnel_proxy_errors_total\{scope="inbound_passthrough",reason="dial_failed"\} 1$/m);
    expect(registry.render()).toMatch(/^istio_tcp_connections_closed_total\{reporter="destination",.*response_flags="CONNECT".*\} 1$/m);
    expect(logged.join('')).toContain('EMFILE');
    fail = false;
    expect(await send(port, 'after')).toBe('after');
  });

  it('outbound (HBONE and passthrough): resets that connection, counts it, and later ones are carried', async () => {
    const { registry, connections } = harness();
    const state = new ProxyState();
    state.upsertWorkload(workload({ name: 'sleep', namespace: 'a', ip: '127.0.0.2' }));
    state.upsertWorkload(workload({ name: 'echo', namespace: 'b', serviceAccount: 'echo', ip: '127.0.0.1' }));
    const hbone = await startHboneServer({
      getCertificate: () => pki.cert('spiffe://cluster.local/ns/b/sa/echo'),
      onTunnel: inboundHandler({ state, network: '', connections, dialApp: (t) => net.connect({ host: t.ip, port: t.port, allowHalfOpen: true }) }),
    });
    cleanups.push(() => hbone.close());
    const pool = new HbonePool({ getCertificate: (id) => pki.cert(id), keepalive: false });
    cleanups.push(() => pool.close());
    let fail = true;
    let target = { ip: '127.0.0.1', port: app.port };
    const port = await serve(
      outboundHandler({
        state, network: '', connections, pool, pick: new RoundRobin().pick,
        sourceWorkload: () => state.findWorkloadByUid('Kubernetes//Pod/a/sleep'),
        originalDst: () => target,
        dialTcp: (t) => (fail ? emfile() : net.connect({ host: t.ip, port: t.port === 15008 ? hbone.port : t.port, allowHalfOpen: true })),
      }),
    );
    expect(await send(port, 'hbone')).toBe('error:ECONNRESET');
    target = { ip: '127.0.0.3', port: app.port }; // no workload there: plain TCP passthrough
    expect(await send(port, 'plain')).toBe('error:ECONNRESET');
    expect(registry.render()).toMatch(/^ztunnel_proxy_errors_total\{scope="outbound",reason="dial_failed"\} 2$/m);
    fail = false;
    expect(await send(port, 'plain again')).toBe('plain again');
    target = { ip: '127.0.0.1', port: app.port };
    expect(await send(port, 'hbone again')).toBe('hbone again');
  });

  it('the per-connection guard turns any throw into a reset of that connection', async () => {
    const { registry, connections } = harness();
    let fail = true;
    const port = await serve((s) =>
      connections.guard('outbound', s, () => {
        if (fail) throw new Error('a path that did not foresee this');
        s.pipe(s);
      }),
    );
    expect(await send(port, 'x')).toBe('error:ECONNRESET');
    expect(registry.render()).toMatch(/^ztunnel_proxy_errors_total\{scope="outbound",reason="handler_threw"\} 1$/m);
    fail = false;
    expect(await send(port, 'y')).toBe('y');
  });
});

describe('an HBONE peer that never answers the CONNECT', () => {
  it('is given up after the response timeout: the app connection is reset, logged and counted', async () => {
    const { registry, connections, logged } = harness();
    const state = new ProxyState();
    state.upsertWorkload(workload({ name: 'sleep', namespace: 'a', ip: '127.0.0.2' }));
    state.upsertWorkload(workload({ name: 'echo', namespace: 'b', serviceAccount: 'echo', ip: '127.0.0.1' }));
    let answer = false;
    const hbone = await startHboneServer({
      getCertificate: () => pki.cert('spiffe://cluster.local/ns/b/sa/echo'),
      // Takes the stream, then never answers, until told to behave.
      onTunnel: (req) => (answer ? inboundHandler({ state, network: '', connections, dialApp: (t) => net.connect({ host: t.ip, port: t.port, allowHalfOpen: true }) })(req) : new Promise(() => undefined)),
      keepalive: false,
    });
    cleanups.push(() => hbone.close());
    const pool = new HbonePool({ getCertificate: (id) => pki.cert(id), keepalive: false, responseTimeoutMs: 200 });
    cleanups.push(() => pool.close());
    const port = await serve(
      outboundHandler({
        state, network: '', connections, pool, pick: new RoundRobin().pick,
        sourceWorkload: () => state.findWorkloadByUid('Kubernetes//Pod/a/sleep'),
        originalDst: () => ({ ip: '127.0.0.1', port: app.port }),
        dialTcp: (t) => net.connect({ host: t.ip, port: t.port === 15008 ? hbone.port : t.port, allowHalfOpen: true }),
      }),
    );
    expect(await send(port, 'x')).toBe('error:ECONNRESET');
    expect(registry.render()).toMatch(/^ztunnel_proxy_errors_total\{scope="outbound",reason="hbone_response_timeout"\} 1$/m);
    expect(registry.render()).toMatch(/^istio_tcp_connections_closed_total\{reporter="source",.*destination_workload="echo".*response_flags="CONNECT".*\} 1$/m);
    expect(logged.join('')).toContain('got no response within 200 ms');
    expect(pool.stats().streams).toBe(0);
    answer = true;
    expect(await send(port, 'answered')).toBe('answered');
  });
});
