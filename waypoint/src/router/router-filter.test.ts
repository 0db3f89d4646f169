// Router behaviour over the loopback test bed: retries, timeouts, circuit breakers, connection
// reuse limits, and drain.
import http2 from 'node:http2';
import type net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Cluster, RetryPolicy, Route, WaypointConfig } from '../config/types.ts';
import { ECHO, ECHO_VIP, H2_VIP, endpoint, h1Request, pattern, pollUntil, route, startBed, testConfig, type Bed } from '../listener/test-fixtures.ts';

let bed: Bed;
beforeAll(async () => {
  bed = await startBed({ random: () => 0 });
});
afterAll(async () => {
  await bed.close();
});

/** The test config with the echo service's routes and cluster replaced. */
function withEcho(routes: Route[], echo: Partial<Cluster> = {}): WaypointConfig {
  const c = testConfig(bed.apps, 'custom');
  const table = c.routes.get(ECHO)!;
  const vh = table.virtualHosts[0]!;
  const base = c.clusters.get(ECHO)!;
  return {
    ...c,
    routes: new Map([...c.routes, [ECHO, { ...table, virtualHosts: [{ ...vh, routes }] }]]),
    clusters: new Map([...c.clusters, [ECHO, { ...base, ...echo }]]),
  };
}
const retry = (retryOn: string[], over: Partial<RetryPolicy> = {}): RetryPolicy => ({ retryOn, numRetries: 2, perTryTimeoutMs: 0, retriableStatusCodes: [], backoffBaseMs: 1, ...over });
const echoRoute = (over: Partial<Extract<Route['action'], { kind: 'route' }>> = {}): Route => {
  const r = route('r', '/', ECHO);
  return { ...r, action: { ...(r.action as Extract<Route['action'], { kind: 'route' }>), ...over } };
};

async function recordFor(path: string) {
  await pollUntil(() => bed.records.some((r) => r.path === path), `record for ${path}`);
  return bed.records.filter((r) => r.path === path).at(-1)!;
}

describe('retries', () => {
  it('connect failure on one endpoint is retried on another (reset-before-request)', async () => {
    bed.setConfig(withEcho([echoRoute({ retry: retry(['reset-before-request']) })], {
      lbPolicy: 'ROUND_ROBIN',
      endpoints: [endpoint(1, { tunnel: 'plaintext', identity: undefined }), endpoint(bed.apps.h1.port)],
    }));
    const t = await bed.tunnel(`${ECHO_VIP}:80`);
    for (let i = 0; i < 4; i++) expect((await h1Request(t, { path: `/rr/${i}` })).status).toBe(200);
    t.destroy();
    expect((await recordFor('/rr/3')).responseFlags).toEqual([]);
  });

  it('5xx responses are retried up to numRetries, then returned with URX', async () => {
    bed.setConfig(withEcho([echoRoute({ retry: retry(['5xx']) })]));
    const before = bed.apps.h1.requests.filter((p) => p === '/status/503').length;
    const t = await bed.tunnel(`${ECHO_VIP}:80`);
    const res = await h1Request(t, { path: '/status/503' });
    expect(res.status).toBe(503);
    expect(res.body.toString()).toBe('status');
    expect(bed.apps.h1.requests.filter((p) => p === '/status/503').length - before).toBe(3);
    const r = await recordFor('/status/503');
    expect(r.responseFlags).toEqual(['URX']);
    expect(r.responseCodeDetails).toBe('via_upstream');
    t.destroy();
  });

  it('a request body beyond the 64 KiB retry buffer is not retried; a small one is replayed', async () => {
    bed.setConfig(withEcho([echoRoute({ retry: retry(['5xx']) })]));
    const count = () => bed.apps.h1.requests.filter((p) => p === '/status/500').length;
    const t = await bed.tunnel(`${ECHO_VIP}:80`);
    let before = count();
    expect((await h1Request(t, { method: 'POST', path: '/status/500', body: pattern(100 * 1024) })).status).toBe(500);
    expect(count() - before).toBe(1);
    before = count();
    expect((await h1Request(t, { method: 'POST', path: '/status/500', body: pattern(1024) })).status).toBe(500);
    expect(count() - before).toBe(3);
    t.destroy();
  });
});

describe('timeouts', () => {
  it('route timeout → 504 UT', async () => {
    bed.setConfig(withEcho([echoRoute({ timeoutMs: 100 })]));
    const t = await bed.tunnel(`${ECHO_VIP}:80`);
    const res = await h1Request(t, { path: '/slow/1000' });
    expect([res.status, res.body.toString()]).toEqual([504, 'upstream request timeout']);
    const r = await recordFor('/slow/1000');
    expect([r.responseFlags, r.responseCodeDetails]).toEqual([['UT'], 'upstream_response_timeout']);
    t.destroy();
  });

  it('per-try timeout with 5xx retries, then 504', async () => {
    bed.setConfig(withEcho([echoRoute({ retry: retry(['5xx'], { perTryTimeoutMs: 50, numRetries: 1 }) })]));
    const t = await bed.tunnel(`${ECHO_VIP}:80`);
    const res = await h1Request(t, { path: '/slow/800' });
    expect(res.status).toBe(504);
    expect((await recordFor('/slow/800')).responseFlags).toEqual(['UT', 'URX']);
    t.destroy();
  });
});

describe('circuit breakers and connection reuse', () => {
  it('max requests overflow → 503 UO with x-envoy-overloaded', async () => {
    bed.setConfig(withEcho([echoRoute()], { circuitBreakers: { maxConnections: 100, maxPendingRequests: 100, maxRequests: 1, maxRetries: 3 } }));
    const [t1, t2] = [await bed.tunnel(`${ECHO_VIP}:80`), await bed.tunnel(`${ECHO_VIP}:80`)];
    const slow = h1Request(t1, { path: '/slow/300' });
    await pollUntil(() => bed.apps.h1.requests.includes('/slow/300'), 'slow request upstream');
    const over = await h1Request(t2, { path: '/over' });
    expect(over.status).toBe(503);
    expect(over.headers['x-envoy-overloaded']).toBe('true');
    expect((await slow).status).toBe(200);
    expect((await recordFor('/over')).responseFlags).toEqual(['UO']);
    t1.destroy();
    t2.destroy();
  });

  it('max connections 1, max pending 1: one in flight, one waits, the third overflows (UO)', async () => {
    const own = await startBed();
    try {
      const c = testConfig(own.apps, 'cb');
      const echo = c.clusters.get(ECHO)!;
      own.setConfig({ ...c, clusters: new Map([...c.clusters, [ECHO, { ...echo, circuitBreakers: { maxConnections: 1, maxPendingRequests: 1, maxRequests: 100, maxRetries: 3 } }]]) });
      const tunnels = [await own.tunnel(`${ECHO_VIP}:80`), await own.tunnel(`${ECHO_VIP}:80`), await own.tunnel(`${ECHO_VIP}:80`)];
      const first = h1Request(tunnels[0]!, { path: '/slow/300/1' });
      await pollUntil(() => own.apps.h1.requests.includes('/slow/300/1'), 'first upstream');
      const second = h1Request(tunnels[1]!, { path: '/slow/10/2' });
      await pollUntil(() => own.dataPlane.stats().activeRequests === 2, 'second pending');
      const third = await h1Request(tunnels[2]!, { path: '/slow/10/3' });
      expect([third.status, third.headers['x-envoy-overloaded']]).toEqual([503, 'true']);
      expect((await first).status).toBe(200);
      expect((await second).status).toBe(200);
      expect(own.apps.h1.connections).toBe(1);
      for (const t of tunnels) t.destroy();
    } finally {
      await own.close();
    }
  });

  it('maxRequestsPerConnection 1 opens a new upstream tunnel per request', async () => {
    bed.setConfig(withEcho([echoRoute()], { maxRequestsPerConnection: 1, endpoints: [endpoint(bed.apps.h1.port, { identity: 'spiffe://cluster.local/ns/echo/sa/echo' })] }));
    const t = await bed.tunnel(`${ECHO_VIP}:80`);
    // The first request may still reuse an idle connection opened before the limit applied.
    expect((await h1Request(t, { path: '/mrpc/warm' })).status).toBe(200);
    const before = bed.destZtunnel.tunnels.length;
    for (let i = 0; i < 3; i++) expect((await h1Request(t, { path: `/mrpc/${i}` })).status).toBe(200);
    expect(bed.destZtunnel.tunnels.length - before).toBe(3);
    t.destroy();
  });
});

describe('drain', () => {
  it('in-flight requests finish with connection: close, new CONNECTs are refused, drain resolves', async () => {
    const own = await startBed();
    try {
      const t = await own.tunnel(`${ECHO_VIP}:80`);
      const slow = h1Request(t, { path: '/slow/300' });
      await pollUntil(() => own.apps.h1.requests.includes('/slow/300'), 'slow request upstream');
      const h2Tunnel = await own.tunnel(`${H2_VIP}:8080`);
      const h2 = http2.connect('http://wp', { createConnection: () => h2Tunnel as unknown as net.Socket });
      h2.on('error', () => undefined);
      const goaway = new Promise<void>((r) => h2.once('goaway', () => r()));
      await new Promise<void>((r) => h2.once('connect', () => r()));
      // The waypoint sends GOAWAY; the client closes once it has nothing in flight.
      void goaway.then(() => h2.close());
      const drained = own.dataPlane.drain();
      // New work is refused while draining: the HBONE connection got GOAWAY, a new CONNECT fails.
      await pollUntil(() => own.dataPlane.stats().rejectedConnects >= 0, 'draining');
      const late = await own.tunnel(`${ECHO_VIP}:80`).then(
        (s) => (s.destroy(), 'accepted'),
        () => 'refused',
      );
      expect(late).toBe('refused');
      const res = await slow;
      expect(res.status).toBe(200);
      expect(res.headers['connection']).toBe('close');
      await goaway;
      await drained;
      expect(own.dataPlane.stats()).toMatchObject({ httpConnections: 0, activeRequests: 0 });
    } finally {
      await own.close();
    }
  });
});
