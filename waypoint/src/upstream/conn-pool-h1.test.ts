import http from 'node:http';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import type { Endpoint } from '../config/types.ts';
import { ClusterCircuitBreaker } from './circuit-breaker.ts';
import { H1ConnPool } from './conn-pool-h1.ts';
import type { UpstreamConnector } from './upstream-connector.ts';
import type { UpstreamRequest } from './upstream-request.ts';

const servers: http.Server[] = [];
afterEach(async () => {
  for (const s of servers.splice(0)) {
    s.closeAllConnections();
    await new Promise((r) => s.close(r));
  }
});

/** An HTTP server on loopback that answers every request `delayMs` later with its own name. */
async function server(name: string, delayMs: number, keepAliveTimeoutMs = 5000): Promise<number> {
  const s = http.createServer((_req, res) => setTimeout(() => res.end(name), delayMs));
  s.keepAliveTimeout = keepAliveTimeoutMs;
  servers.push(s);
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  return (s.address() as AddressInfo).port;
}

const plain = (port: number): Endpoint => ({ address: '127.0.0.1', port, tunnel: 'plaintext', healthy: true, weight: 1 });
const connector: UpstreamConnector = {
  connect: (e) => new Promise((resolve, reject) => {
    const s = net.connect(e.port, e.address, () => resolve(s));
    s.once('error', reject);
  }),
};
/** Like an HBONE stream: the peer's end leaves the socket writable. */
const halfOpen: UpstreamConnector = {
  connect: (e) => new Promise((resolve, reject) => {
    const s = net.connect({ port: e.port, host: e.address, allowHalfOpen: true }, () => resolve(s));
    s.once('error', reject);
  }),
};
const head = { method: 'GET', path: '/', authority: 'svc', scheme: 'http', headers: {} };

async function body(r: UpstreamRequest): Promise<string> {
  r.end();
  const res = await r.response;
  const chunks: Buffer[] = [];
  for await (const c of res.body) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString();
}

describe('H1ConnPool and the cluster-wide circuit breaker', () => {
  it('a host whose pool has no connection opens one although another host holds max_connections (Envoy), so its request is served', async () => {
    const breaker = new ClusterCircuitBreaker(() => ({ maxConnections: 1, maxPendingRequests: 1, maxRequests: 100, maxRetries: 3 }));
    const settings = () => ({ connectTimeoutMs: 1000, idleTimeoutMs: 0, maxRequestsPerConnection: 1 });
    const a = new H1ConnPool(plain(await server('a', 200)), connector, breaker, settings);
    const b = new H1ConnPool(plain(await server('b', 10)), connector, breaker, settings);
    const first = await a.open(head);
    const second = await b.open(head);
    expect(breaker.overflows.connections).toBe(1);
    expect(await Promise.all([body(first), body(second)])).toEqual(['a', 'b']);
  });

  it('a request queued behind max_connections is dispatched on a new connection when maxRequestsPerConnection closes the busy one', async () => {
    const breaker = new ClusterCircuitBreaker(() => ({ maxConnections: 1, maxPendingRequests: 1, maxRequests: 100, maxRetries: 3 }));
    const pool = new H1ConnPool(plain(await server('x', 50)), connector, breaker, () => ({ connectTimeoutMs: 1000, idleTimeoutMs: 0, maxRequestsPerConnection: 1 }));
    const first = await pool.open(head);
    const queued = pool.open(head);
    await expect(pool.open(head)).rejects.toMatchObject({ kind: 'overflow' });
    expect(await body(first)).toBe('x');
    expect(await body(await queued)).toBe('x');
    expect(breaker.pending).toBe(0);
  });

  it('an idle keep-alive connection the backend closed (half-open, as over HBONE) is not reused', async () => {
    const breaker = new ClusterCircuitBreaker(() => ({ maxConnections: 10, maxPendingRequests: 10, maxRequests: 100, maxRetries: 3 }));
    const pool = new H1ConnPool(plain(await server('k', 0, 100)), halfOpen, breaker, () => ({ connectTimeoutMs: 1000, idleTimeoutMs: 0, maxRequestsPerConnection: 0 }));
    expect(await body(await pool.open(head))).toBe('k');
    expect(pool.connectionCount).toBe(1);
    // The server's keep-alive timeout closes its side; the pool notices and drops the connection.
    const deadline = Date.now() + 3000;
    while (pool.connectionCount > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    expect(pool.connectionCount).toBe(0);
    expect(await body(await pool.open(head))).toBe('k');
  });
});
