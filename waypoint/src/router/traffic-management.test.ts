// Traffic management and L7 policy over the loopback test bed (issue 10): weighted splits, header
// routing, retries to another host, fault injection, mirroring, rewrites, redirects, direct
// responses, header mutations, CORS, circuit breaking, outlier ejection, consistent hashing, RBAC.
import http from 'node:http';
import http2 from 'node:http2';
import type net from 'node:net';
import type { Duplex } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Cluster, HttpFilterConfig, RbacFilterConfig, RetryPolicy, Route, WaypointConfig } from '../config/types.ts';
import { renderClusters } from '../admin/clusters.ts';
import { cluster, ECHO, ECHO_VIP, endpoint, grpcFrame, H2, H2_VIP, h1Request, h2Response, pollUntil, route, SOURCE_ID, startBed, testConfig, type Bed } from '../listener/test-fixtures.ts';

/** A seeded PRNG (mulberry32): the split and every other draw are reproducible. */
function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A backend that records what it got and answers `status` with body `from-<name>`. */
interface Recorder {
  name: string;
  port: number;
  status: number;
  seen: { method: string; url: string; headers: http.IncomingHttpHeaders; body: string }[];
  close(): Promise<void>;
}
async function startRecorder(name: string, status: number): Promise<Recorder> {
  const r: Recorder = { name, port: 0, status, seen: [], close: async () => undefined };
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      r.seen.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body: Buffer.concat(chunks).toString() });
      res.writeHead(r.status, { 'content-type': 'text/plain', 'x-backend': name });
      res.end(`from-${name}`);
    });
  });
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  r.port = (server.address() as net.AddressInfo).port;
  r.close = async () => {
    server.closeAllConnections();
    await new Promise<void>((ok) => server.close(() => ok()));
  };
  return r;
}

let bed: Bed;
let bad: Recorder;
let mirror: Recorder;
let other: Recorder;
beforeAll(async () => {
  bed = await startBed({ random: seeded(42) });
  [bad, mirror, other] = await Promise.all([startRecorder('bad', 503), startRecorder('mirror', 200), startRecorder('other', 200)]);
});
afterAll(async () => {
  await bed.close();
  await Promise.all([bad.close(), mirror.close(), other.close()]);
});

const A = 'inbound-vip|80|http/a|echo.echo.svc.cluster.local';
const B = 'inbound-vip|80|http/b|echo.echo.svc.cluster.local';
const MIRROR = 'inbound-vip|80|http|mirror.echo.svc.cluster.local';
const FAULT: HttpFilterConfig = { kind: 'fault', name: 'envoy.filters.http.fault' };
const CORS: HttpFilterConfig = { kind: 'cors', name: 'envoy.filters.http.cors' };
const ROUTER: HttpFilterConfig = { kind: 'router', name: 'envoy.filters.http.router' };

type RouteAction = Extract<Route['action'], { kind: 'route' }>;
const r = (name: string, prefix: string, over: Partial<Route> = {}, action: Partial<RouteAction> = {}): Route => {
  const base = route(name, prefix, ECHO, over);
  return { ...base, action: { ...(base.action as RouteAction), retry: undefined, ...action } as RouteAction };
};
const retry = (retryOn: string[], over: Partial<RetryPolicy> = {}): RetryPolicy => ({ retryOn, numRetries: 2, perTryTimeoutMs: 0, retriableStatusCodes: [], backoffBaseMs: 1, ...over });

/**
 * The test config with the echo service's routes replaced, extra clusters, and the echo and grpc
 * chains running `filters` before the always-present fault and cors filters (as istiod emits them).
 */
function config(routes: Route[], o: { clusters?: Cluster[]; filters?: HttpFilterConfig[]; h2Routes?: Route[] } = {}): WaypointConfig {
  const c = testConfig(bed.apps, 'traffic');
  const table = c.routes.get(ECHO)!;
  const h2 = c.routes.get(H2)!;
  const filters = [...(o.filters ?? []), FAULT, CORS, ROUTER];
  return {
    ...c,
    chains: c.chains.map((ch) => (ch.kind === 'http' && (ch.name === ECHO || ch.name === H2) ? { ...ch, httpFilters: filters } : ch)),
    routes: new Map([
      ...c.routes,
      [ECHO, { ...table, virtualHosts: [{ ...table.virtualHosts[0]!, routes }] }],
      ...(o.h2Routes ? [[H2, { ...h2, virtualHosts: [{ ...h2.virtualHosts[0]!, routes: o.h2Routes }] }] as const] : []),
    ]),
    clusters: new Map([...c.clusters, ...(o.clusters ?? []).map((x) => [x.name, x] as const)]),
  };
}

const echoCluster = (name: string) => cluster(name, [endpoint(bed.apps.h1.port)]);
const seenBy = (res: { body: Buffer }) => JSON.parse(res.body.toString()) as { method: string; path: string; headers: Record<string, string> };

async function recordFor(path: string) {
  await pollUntil(() => bed.records.some((x) => x.path === path), `record for ${path}`);
  return bed.records.filter((x) => x.path === path).at(-1)!;
}

async function withTunnel<T>(fn: (t: Duplex) => Promise<T>): Promise<T> {
  const t = await bed.tunnel(`${ECHO_VIP}:80`);
  try {
    return await fn(t);
  } finally {
    t.destroy();
  }
}

function h2Session(tunnel: Duplex): http2.ClientHttp2Session {
  const s = http2.connect('http://waypoint.test', { createConnection: () => tunnel as unknown as net.Socket });
  s.on('error', () => undefined);
  return s;
}

describe('routing', () => {
  it('splits 70/30 over weighted clusters within ±5 points over 1000 requests; each cluster adds its response header', async () => {
    bed.setConfig(config([r('split', '/', {}, {
      clusters: [
        { name: A, weight: 70, responseHeaders: { remove: [], add: [{ name: 'x-version', value: 'a', action: 'overwrite' }] } },
        { name: B, weight: 30, responseHeaders: { remove: [], add: [{ name: 'x-version', value: 'b', action: 'overwrite' }] } },
      ],
    })], { clusters: [echoCluster(A), echoCluster(B)] }));
    const counts = { a: 0, b: 0 };
    const tunnels = await Promise.all(Array.from({ length: 4 }, () => bed.tunnel(`${ECHO_VIP}:80`)));
    await Promise.all(tunnels.map(async (t) => {
      for (let i = 0; i < 250; i++) {
        const res = await h1Request(t, { path: '/status/200' });
        counts[res.headers['x-version'] as 'a' | 'b']++;
      }
      t.destroy();
    }));
    expect(counts.a + counts.b).toBe(1000);
    expect(Math.abs(counts.a / 1000 - 0.7)).toBeLessThanOrEqual(0.05);
  });

  it('routes by header (first match wins), withoutHeaders treats a missing header as empty, query params match', async () => {
    const tag = (v: string) => ({ responseHeaders: { remove: [], add: [{ name: 'x-route', value: v, action: 'overwrite' as const }] } });
    bed.setConfig(config([
      r('jason', '/', { match: { path: { kind: 'prefix', value: '/' }, caseSensitive: true, headers: [{ name: 'end-user', match: { kind: 'exact', value: 'jason' }, invert: false }], queryParams: [] }, ...tag('jason') }),
      r('query', '/', { match: { path: { kind: 'prefix', value: '/' }, caseSensitive: true, headers: [], queryParams: [{ name: 'v', match: { kind: 'exact', value: '2' } }] }, ...tag('query') }),
      // VirtualService withoutHeaders: x-debug must not match `on`; an absent header is "" and qualifies.
      r('without', '/', { match: { path: { kind: 'prefix', value: '/' }, caseSensitive: true, headers: [{ name: 'x-debug', match: { kind: 'regex', value: 'on' }, invert: true, treatMissingAsEmpty: true }], queryParams: [] }, ...tag('without') }),
    ]));
    await withTunnel(async (t) => {
      expect((await h1Request(t, { path: '/p', headers: { 'end-user': 'jason' } })).headers['x-route']).toBe('jason');
      expect((await h1Request(t, { path: '/p?v=2' })).headers['x-route']).toBe('query');
      expect((await h1Request(t, { path: '/p' })).headers['x-route']).toBe('without');
      const none = await h1Request(t, { path: '/p', headers: { 'x-debug': 'on' } });
      expect(none.status).toBe(404);
    });
  });

  it('retries a 5xx on another endpoint (previous_hosts)', async () => {
    const before = bad.seen.length;
    // The bad endpoint carries nearly all the weight: only previous_hosts sends the retry elsewhere.
    bed.setConfig(config([r('retry', '/', {}, { retry: retry(['5xx'], { numRetries: 1, retryHostPredicates: ['previous_hosts'], hostSelectionMaxAttempts: 5 }) })], {
      clusters: [cluster(ECHO, [endpoint(bad.port, { weight: 1000 }), endpoint(bed.apps.h1.port)], { lbPolicy: 'ROUND_ROBIN' })],
    }));
    await withTunnel(async (t) => {
      for (let i = 0; i < 4; i++) {
        const res = await h1Request(t, { path: `/retry/${i}` });
        expect(res.status).toBe(200);
        expect(seenBy(res).path).toBe(`/retry/${i}`);
      }
    });
    expect(bad.seen.length - before).toBe(4);
  });

  it('cluster_not_found_response_code picks the status of a route to a missing cluster', async () => {
    bed.setConfig(config([r('missing', '/', {}, { clusters: [{ name: 'inbound-vip|80|http|gone.echo.svc.cluster.local', weight: 1 }], clusterNotFoundStatus: 503 })]));
    await withTunnel(async (t) => expect((await h1Request(t, { path: '/nc-503' })).status).toBe(503));
    expect((await recordFor('/nc-503')).responseFlags).toEqual(['NC']);
  });
});

describe('fault injection', () => {
  it('a fixed delay holds the request (DI), then it goes upstream', async () => {
    bed.setConfig(config([r('delay', '/', { fault: { delay: { fixedDelayMs: 150, perMillion: 1_000_000 } } })]));
    const started = performance.now();
    const res = await withTunnel((t) => h1Request(t, { path: '/delayed' }));
    expect(res.status).toBe(200);
    expect(performance.now() - started).toBeGreaterThanOrEqual(140);
    expect((await recordFor('/delayed')).responseFlags).toEqual(['DI']);
  });

  it('an HTTP abort answers 418 (FI) without reaching upstream; a gRPC abort is trailers-only UNAVAILABLE', async () => {
    bed.setConfig(config([r('abort', '/', { fault: { abort: { kind: 'http', status: 418, perMillion: 1_000_000 } } })], {
      h2Routes: [{ ...route('grpc-abort', '/', H2), fault: { abort: { kind: 'grpc', status: 14, perMillion: 1_000_000 } } }],
    }));
    const upstreamBefore = bed.apps.h1.requests.length;
    const res = await withTunnel((t) => h1Request(t, { path: '/aborted' }));
    expect([res.status, res.body.toString()]).toEqual([418, 'fault filter abort']);
    expect(bed.apps.h1.requests.length).toBe(upstreamBefore);
    const rec = await recordFor('/aborted');
    expect([rec.responseFlags, rec.responseCodeDetails]).toEqual([['FI'], 'fault_filter_abort']);

    const s = h2Session(await bed.tunnel(`${H2_VIP}:8080`));
    const req = s.request({ ':method': 'POST', ':path': '/grpc.test.Echo/Unary', ':authority': 'grpc.echo.svc.cluster.local:8080', 'content-type': 'application/grpc', te: 'trailers' });
    req.end(grpcFrame(Buffer.from('x')));
    const g = await h2Response(req);
    expect(g.headers[':status']).toBe(200);
    expect(g.headers['grpc-status']).toBe('14');
    expect(g.headers['grpc-message']).toBe('fault filter abort');
    s.close();
  });
});

describe('mirroring, rewrites, redirects, direct responses, header mutations', () => {
  it('mirrors a copy (body included) to the mirror cluster with a -shadow host; the client gets the primary answer', async () => {
    bed.setConfig(config([r('mirrored', '/', {}, { mirrors: [{ cluster: MIRROR, perMillion: 1_000_000, traceSampled: false, disableShadowHostSuffix: false }] })], {
      clusters: [cluster(MIRROR, [endpoint(mirror.port)])],
    }));
    const res = await withTunnel((t) => h1Request(t, { method: 'POST', path: '/mirror-me', body: Buffer.from('payload') }));
    expect(res.status).toBe(200);
    expect(seenBy(res).path).toBe('/mirror-me'); // the primary (h1 echo), not the mirror's `from-mirror`
    await pollUntil(() => mirror.seen.some((x) => x.url === '/mirror-me'), 'mirror copy');
    const copy = mirror.seen.find((x) => x.url === '/mirror-me')!;
    expect([copy.method, copy.headers.host, copy.body]).toEqual(['POST', 'echo.echo.svc.cluster.local-shadow', 'payload']);
  });

  it('rewrites: prefix (query kept), regex with groups, host per weighted cluster', async () => {
    bed.setConfig(config([
      r('prefix', '/old', {}, { prefixRewrite: '/new' }),
      r('regex', '/service/', {}, { regexRewrite: { pattern: '^/service/([^/]+)(/.*)$', substitution: '\\2/instance/\\1' } }),
      r('host', '/host', {}, { clusters: [{ name: ECHO, weight: 1, hostRewrite: 'new-authority' }], hostRewrite: 'route-authority' }),
    ]));
    await withTunnel(async (t) => {
      const p = seenBy(await h1Request(t, { path: '/old/path?key=value' }));
      expect([p.path, p.headers['x-envoy-original-path']]).toEqual(['/new/path?key=value', '/old/path?key=value']);
      expect(seenBy(await h1Request(t, { path: '/service/foo/v1/api?x=1' })).path).toBe('/v1/api/instance/foo?x=1');
      expect(seenBy(await h1Request(t, { path: '/host' })).headers['host']).toBe('new-authority');
    });
  });

  it('redirects (scheme, port, prefix rewrite) and direct responses, with the route response headers', async () => {
    const respHeaders = { remove: [], add: [{ name: 'x-local', value: 'yes', action: 'overwrite' as const }] };
    bed.setConfig(config([
      { ...r('redirect', '/foo'), action: { kind: 'redirect', status: 301, scheme: 'https', port: 80 } },
      { ...r('prefix-redirect', '/v1/'), action: { kind: 'redirect', status: 302, prefixRewrite: '/v2/' } },
      { ...r('direct', '/direct'), action: { kind: 'direct-response', status: 200, body: 'hello direct' }, responseHeaders: respHeaders },
    ]));
    await withTunnel(async (t) => {
      const a = await h1Request(t, { path: '/foo', host: 'b.example' });
      expect([a.status, a.headers['location']]).toEqual([301, 'https://b.example:80/foo']);
      const b = await h1Request(t, { path: '/v1/x?q=1', host: 'b.example:8080' });
      expect([b.status, b.headers['location']]).toEqual([302, 'http://b.example:8080/v2/x?q=1']);
      const d = await h1Request(t, { path: '/direct' });
      expect([d.status, d.body.toString(), d.headers['x-local']]).toEqual([200, 'hello direct', 'yes']);
    });
  });

  it('request and response headers: set, add, remove (weighted cluster first, then route)', async () => {
    bed.setConfig(config([r('headers', '/', {
      requestHeaders: { remove: ['x-remove'], add: [{ name: 'x-set', value: 'route', action: 'overwrite' }, { name: 'x-add', value: 'two', action: 'append' }] },
      responseHeaders: { remove: ['x-app'], add: [{ name: 'x-resp', value: 'route', action: 'overwrite' }] },
    }, {
      clusters: [{ name: ECHO, weight: 1, requestHeaders: { remove: [], add: [{ name: 'x-set', value: 'cluster', action: 'overwrite' }, { name: 'x-wc', value: '1', action: 'overwrite' }] } }],
    })]));
    const res = await withTunnel((t) => h1Request(t, { path: '/hdr', headers: { 'x-remove': 'gone', 'x-set': 'client', 'x-add': 'one' } }));
    const h = seenBy(res).headers;
    expect([h['x-remove'], h['x-set'], h['x-add'], h['x-wc']]).toEqual([undefined, 'route', 'one, two', '1']);
    expect([res.headers['x-app'], res.headers['x-resp']]).toEqual([undefined, 'route']);
  });
});

describe('CORS', () => {
  it('answers an allowed preflight itself, forwards others, decorates allowed responses', async () => {
    bed.setConfig(config([r('cors', '/', {
      cors: {
        allowOrigins: [{ kind: 'exact', value: 'cors.com' }], allowMethods: 'POST,GET', allowHeaders: 'X-Foo-Bar,X-Foo-Baz', exposeHeaders: 'X-Exposed',
        maxAge: '86400', allowCredentials: false, forwardNotMatchingPreflights: true, enabledPerMillion: 1_000_000,
      },
    })]));
    const upstreamBefore = bed.apps.h1.requests.length;
    await withTunnel(async (t) => {
      const pre = await h1Request(t, { method: 'OPTIONS', path: '/cors', headers: { origin: 'cors.com', 'access-control-request-method': 'GET' } });
      expect(pre.status).toBe(200);
      expect([pre.headers['access-control-allow-origin'], pre.headers['access-control-allow-methods'], pre.headers['access-control-allow-headers'], pre.headers['access-control-max-age']])
        .toEqual(['cors.com', 'POST,GET', 'X-Foo-Bar,X-Foo-Baz', '86400']);
      expect(bed.apps.h1.requests.length).toBe(upstreamBefore);
      const fwd = await h1Request(t, { method: 'OPTIONS', path: '/cors-other', headers: { origin: 'other.com', 'access-control-request-method': 'GET' } });
      expect([fwd.status, seenBy(fwd).method, fwd.headers['access-control-allow-origin']]).toEqual([200, 'OPTIONS', undefined]);
      const get = await h1Request(t, { path: '/cors-get', headers: { origin: 'cors.com' } });
      expect([get.headers['access-control-allow-origin'], get.headers['access-control-expose-headers']]).toEqual(['cors.com', 'X-Exposed']);
    });
  });
});

describe('DestinationRule behaviour', () => {
  it('a bounded burst over maxConnections 1 / maxPending 1 gets some 503 UO with x-envoy-overloaded', async () => {
    bed.setConfig(config([r('cb', '/')], {
      clusters: [cluster(ECHO, [endpoint(bed.apps.h1.port)], { circuitBreakers: { maxConnections: 1, maxPendingRequests: 1, maxRequests: 1000, maxRetries: 3 } })],
    }));
    const tunnels = await Promise.all(Array.from({ length: 6 }, () => bed.tunnel(`${ECHO_VIP}:80`)));
    const results = await Promise.all(tunnels.map((t, i) => h1Request(t, { path: `/slow/100/cb${i}` })));
    for (const t of tunnels) t.destroy();
    const statuses = results.map((x) => x.status);
    expect(statuses.filter((s) => s === 200).length).toBeGreaterThanOrEqual(2);
    expect(statuses.filter((s) => s === 503).length).toBeGreaterThanOrEqual(1);
    const over = results.find((x) => x.status === 503)!;
    expect(over.headers['x-envoy-overloaded']).toBe('true');
    await pollUntil(() => bed.records.filter((x) => x.path?.includes('/cb')).length >= 6, 'burst records');
    expect(bed.records.some((x) => x.path?.includes('/cb') && x.responseFlags.includes('UO'))).toBe(true);
  });

  it('outlier detection ejects the 5xx endpoint, shows it in /clusters, and brings it back after the ejection time', async () => {
    const badEp = endpoint(bad.port);
    const echo = cluster(ECHO, [badEp, endpoint(bed.apps.h1.port)], {
      lbPolicy: 'ROUND_ROBIN',
      healthyPanicThresholdPercent: 0,
      outlierDetection: {
        consecutive5xx: 2, enforcingConsecutive5xxPercent: 100, consecutiveGatewayFailure: 0, enforcingConsecutiveGatewayFailurePercent: 0,
        intervalMs: 20, baseEjectionTimeMs: 400, maxEjectionTimeMs: 300_000, maxEjectionPercent: 100,
      },
    });
    const c = config([r('od', '/')], { clusters: [echo] });
    bed.setConfig(c);
    const events = bed.events.length;
    await withTunnel(async (t) => {
      const statuses: number[] = [];
      for (let i = 0; i < 4; i++) statuses.push((await h1Request(t, { path: `/od/${i}` })).status);
      expect(statuses.filter((s) => s === 503).length).toBe(2); // round robin: bad, good, bad (ejected), good
      expect(bed.events.slice(events)).toContainEqual(expect.objectContaining({ kind: 'outlier-ejected', cluster: ECHO, reason: 'consecutive_5xx' }));
      expect(bed.dataPlane.healthFlags(ECHO, badEp)).toBe('/failed_outlier_check');
      expect(renderClusters(c, bed.dataPlane.healthFlags)).toContain(`${ECHO}::127.0.0.1:${bad.port}::health_flags::/failed_outlier_check`);
      for (let i = 0; i < 4; i++) expect((await h1Request(t, { path: `/od/ejected/${i}` })).status).toBe(200);
      await pollUntil(() => bed.dataPlane.healthFlags(ECHO, badEp) === 'healthy', 'un-ejection', 3000);
      const back: number[] = [];
      for (let i = 0; i < 2; i++) back.push((await h1Request(t, { path: `/od/back/${i}` })).status);
      expect(back).toContain(503);
    });
  });

  it('RING_HASH with a header hash policy keeps a user on one endpoint', async () => {
    bed.setConfig(config([r('hash', '/', {}, { hashPolicy: [{ kind: 'header', name: 'x-user', terminal: false }] })], {
      clusters: [cluster(ECHO, [endpoint(bed.apps.h1.port), endpoint(other.port)], { lbPolicy: 'RING_HASH', ringHash: { minimumRingSize: 64, maximumRingSize: 1024 } })],
    }));
    await withTunnel(async (t) => {
      const backendOf = async (user: string) => (await h1Request(t, { path: '/hash', headers: { 'x-user': user } })).headers['x-backend'] ?? 'h1';
      const users = Array.from({ length: 12 }, (_, i) => `user-${i}`);
      const first = new Map<string, string>();
      for (const u of users) first.set(u, String(await backendOf(u)));
      for (const u of users) expect(String(await backendOf(u))).toBe(first.get(u));
      expect(new Set(first.values()).size).toBe(2);
    });
  });
});

describe('L7 authorization (RBAC filter)', () => {
  const method = (m: string) => ({ kind: 'header' as const, header: { name: ':method', match: { kind: 'exact' as const, value: m }, invert: false } });
  const deny: RbacFilterConfig = {
    kind: 'rbac', name: 'envoy.filters.http.rbac', action: 'DENY', shadow: false, statPrefix: '',
    policies: [{ name: 'ns[echo]-policy[no-private]-rule[0]', permissions: [{ kind: 'url-path', match: { kind: 'prefix', value: '/private' } }], principals: [{ kind: 'any' }] }],
  };
  const allow: RbacFilterConfig = {
    kind: 'rbac', name: 'envoy.filters.http.rbac', action: 'ALLOW', shadow: false, statPrefix: '',
    policies: [{ name: 'ns[echo]-policy[get-only]-rule[0]', permissions: [{ kind: 'or', rules: [method('GET'), method('HEAD')] }], principals: [{ kind: 'authenticated', match: { kind: 'exact', value: SOURCE_ID } }] }],
  };
  const shadow: RbacFilterConfig = { ...deny, shadow: true, statPrefix: 'istio_dry_run_deny_', policies: [{ name: 'dry-run-all', permissions: [{ kind: 'any' }], principals: [{ kind: 'any' }] }] };

  it('allows GET, denies POST (no ALLOW match) and /private (DENY match) with Envoy 403; shadow rules only count', async () => {
    bed.setConfig(config([r('rbac', '/')], { filters: [shadow, deny, allow] }));
    const events = bed.events.length;
    await withTunnel(async (t) => {
      expect((await h1Request(t, { path: '/rbac/ok' })).status).toBe(200);
      const post = await h1Request(t, { method: 'POST', path: '/rbac/post', body: Buffer.from('x') });
      expect([post.status, post.body.toString()]).toEqual([403, 'RBAC: access denied']);
      const priv = await h1Request(t, { path: '/private/x' });
      expect([priv.status, priv.body.toString()]).toEqual([403, 'RBAC: access denied']);
    });
    expect((await recordFor('/rbac/post')).responseCodeDetails).toBe('rbac_access_denied_matched_policy[none]');
    expect((await recordFor('/private/x')).responseCodeDetails).toBe('rbac_access_denied_matched_policy[ns[echo]-policy[no-private]-rule[0]]');
    expect((await recordFor('/rbac/ok')).responseCode).toBe(200);
    const kinds = bed.events.slice(events).map((e) => e.kind);
    expect(kinds.filter((k) => k === 'rbac-denied').length).toBe(2);
    expect(kinds.filter((k) => k === 'rbac-shadow-denied').length).toBe(3);
  });
});
