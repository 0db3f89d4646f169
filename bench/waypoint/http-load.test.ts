// The load generator on loopback (netns undefined: this process's own namespace), against
// lab/http-echo and against small servers that count, fail, reset or never answer.
import type { ChildProcess } from 'node:child_process';
import http from 'node:http';
import net, { type AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildRequest, httpLoad, type HttpRequestSpec } from './http-load.ts';
import { startEcho } from './loopback.ts';

const POST: HttpRequestSpec = { method: 'POST', path: '/bench', authority: 'echo.bench.svc.cluster.local', bodyBytes: 1024 };
const GET: HttpRequestSpec = { method: 'GET', path: '/bench', authority: 'echo' };

async function listen(server: net.Server): Promise<number> {
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return (server.address() as AddressInfo).port;
}

describe('bench/waypoint HTTP/1.1 load generator (loopback)', () => {
  let echo: { port: number; child: ChildProcess };
  beforeAll(async () => {
    echo = await startEcho();
  });
  afterAll(() => {
    echo?.child.kill('SIGTERM');
  });

  it('builds the request once: head, host, and a 1 KiB body with its length', () => {
    const b = buildRequest(POST).toString('latin1');
    expect(b.startsWith('POST /bench HTTP/1.1\r\nhost: echo.bench.svc.cluster.local\r\n')).toBe(true);
    expect(b).toContain('\r\ncontent-length: 1024\r\n\r\n');
    expect(b.length - b.indexOf('\r\n\r\n') - 4).toBe(1024);
    expect(buildRequest(GET).toString('latin1')).toMatch(/^GET \/bench HTTP\/1\.1\r\nhost: echo\r\n[^]*\r\n\r\n$/);
  });

  it('max rate against lab/http-echo: keep-alive, every answer a 200, stops by itself', async () => {
    const t0 = Date.now();
    const r = await httpLoad({ host: '127.0.0.1', port: echo.port }, { connections: 16, seconds: 1, request: POST });
    expect(Date.now() - t0).toBeLessThan(4000);
    expect(r.errors).toBe(0);
    expect(r.count).toBeGreaterThan(500);
    expect(r.statuses).toEqual({ 200: r.count });
    expect(r.p50).toBeGreaterThan(0);
    expect(r.p99).toBeGreaterThanOrEqual(r.p50);
    expect(r.clientCpuSeconds).toBeGreaterThan(0);
  });

  it('fixed rate: sends rate x seconds requests on schedule and measures from the schedule', async () => {
    const r = await httpLoad({ host: '127.0.0.1', port: echo.port }, { connections: 4, seconds: 1, rate: 300, request: GET });
    expect(r.errors).toBe(0);
    expect(r.count).toBe(300);
    expect(r.rate).toBeGreaterThan(250);
    expect(r.rate).toBeLessThan(320);
  });

  it('every request sent is one the server saw, on the connections it opened', async () => {
    let requests = 0;
    let connections = 0;
    const server = http.createServer((req, res) => {
      requests++;
      req.resume();
      req.on('end', () => res.end('ok'));
    });
    server.on('connection', () => connections++);
    const port = await listen(server);
    try {
      const r = await httpLoad({ host: '127.0.0.1', port }, { connections: 8, seconds: 0.5, request: POST });
      expect(r.errors).toBe(0);
      expect(r.count).toBe(requests);
      expect(connections).toBe(8);
      const capped = await httpLoad({ host: '127.0.0.1', port }, { connections: 3, seconds: 5, request: GET, maxRequests: 10 });
      expect(capped.count).toBe(10);
    } finally {
      server.closeAllConnections();
      server.close();
    }
  });

  it('counts non-2xx answers as status errors, keeps the connection', async () => {
    const server = http.createServer((req, res) => {
      req.resume();
      res.statusCode = 503;
      res.end('no');
    });
    const port = await listen(server);
    try {
      const r = await httpLoad({ host: '127.0.0.1', port }, { connections: 2, seconds: 0.3, request: GET });
      expect(r.count).toBe(0);
      expect(r.errorKinds.status).toBeGreaterThan(10);
      expect(r.errors).toBe(r.errorKinds.status);
      expect(r.statuses[503]).toBe(r.errorKinds.status);
    } finally {
      server.closeAllConnections();
      server.close();
    }
  });

  it('counts resets, malformed answers and timeouts, and replaces the connection each time', async () => {
    let n = 0;
    // Request 1 on each connection: reset; 2: garbage; 3: silence; then 200s.
    const server = net.createServer((s) => {
      s.on('error', () => {});
      s.once('data', () => {
        const k = ++n;
        if (k === 1) s.resetAndDestroy();
        else if (k === 2) s.end('SSH-2.0-nope\r\n\r\n');
        else if (k === 3) return;
        else {
          const ok = () => s.write('HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok');
          ok();
          s.on('data', ok);
        }
      });
    });
    const port = await listen(server);
    try {
      const t0 = Date.now();
      const r = await httpLoad({ host: '127.0.0.1', port }, { connections: 1, seconds: 1, request: GET, timeoutMs: 200 });
      expect(Date.now() - t0).toBeLessThan(3000);
      expect(r.errorKinds).toMatchObject({ reset: 1, malformed: 1, timeout: 1 });
      expect(r.count).toBeGreaterThan(10);
    } finally {
      server.close();
    }
  });

  it('a target that refuses connections yields connect errors and still ends on time', async () => {
    const server = net.createServer();
    const port = await listen(server);
    server.close();
    const t0 = Date.now();
    const r = await httpLoad({ host: '127.0.0.1', port }, { connections: 2, seconds: 0.5, rate: 100, request: GET });
    expect(Date.now() - t0).toBeLessThan(2500);
    expect(r.count).toBe(0);
    expect(r.errorKinds.connect).toBeGreaterThan(2);
    expect(r.errorKinds.unsent).toBe(50);
  });
});
