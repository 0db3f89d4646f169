// Component tests of the whole data path over loopback: a source ztunnel (HBONE client) → the
// waypoint (real TLS + HBONE, HCM, router, pools) → a destination ztunnel (HBONE server) → apps.
import http2 from 'node:http2';
import type net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HboneError } from '../../../lib/hbone/index.ts';
import { readAll } from '../../../lib/hbone/test-fixtures.ts';
import {
  DEST_ID, ECHO, ECHO_VIP, H2_VIP, PLAIN_VIP, SNIFF_VIP, SOURCE_ID, SOURCE_PEER, TCP_VIP, WAYPOINT_ID,
  grpcFrame, h1Request, h2Response, pattern, pollUntil, sha256, startBed, type Bed,
} from './test-fixtures.ts';

let bed: Bed;
beforeAll(async () => {
  bed = await startBed();
});
afterAll(async () => {
  await bed.close();
});

const lastRecord = async (n: number) => {
  await pollUntil(() => bed.records.length >= n, `${n} records`);
  return bed.records[n - 1]!;
};

function h2Session(tunnel: import('node:stream').Duplex): http2.ClientHttp2Session {
  const s = http2.connect('http://waypoint.test', { createConnection: () => tunnel as unknown as net.Socket, maxSessionMemory: 64 });
  s.on('error', () => undefined);
  s.once('connect', () => s.setLocalWindowSize(16 * 1024 * 1024));
  return s;
}

describe('HTTP/1.1 through the waypoint', () => {
  it('routes to the endpoint over HBONE with Envoy headers, and records the request', async () => {
    const before = bed.records.length;
    const t = await bed.tunnel(`${ECHO_VIP}:80`);
    const res = await h1Request(t, { path: '/hello?x=1', headers: { traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01', 'x-b3-traceid': 'abc', 'x-forwarded-for': '1.2.3.4' } });
    expect(res.status).toBe(200);
    expect(res.headers['server']).toBe('istio-envoy');
    expect(Number(res.headers['x-envoy-upstream-service-time'])).toBeGreaterThanOrEqual(0);
    const seen = JSON.parse(res.body.toString()) as { path: string; headers: Record<string, string> };
    expect(seen.path).toBe('/hello?x=1');
    expect(seen.headers['x-request-id']).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(seen.headers['x-forwarded-proto']).toBe('http');
    expect(seen.headers['x-forwarded-for']).toBe('1.2.3.4'); // not appended
    expect(seen.headers['traceparent']).toBe('00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01');
    expect(seen.headers['x-b3-traceid']).toBe('abc');
    expect(seen.headers['host']).toBe('echo.echo.svc.cluster.local');
    // The destination ztunnel saw the waypoint's identity and the pod authority.
    const tun = bed.destZtunnel.tunnels.at(-1)!;
    expect(tun.rawAuthority).toBe(`127.0.0.1:${bed.apps.h1.port}`);
    expect(`spiffe://${tun.peerIdentity.trustDomain}/ns/${tun.peerIdentity.namespace}/sa/${tun.peerIdentity.serviceAccount}`).toBe(WAYPOINT_ID);
    t.destroy();
    const r = await lastRecord(before + 1);
    expect(r).toMatchObject({
      kind: 'http', requestProtocol: 'http', protocol: 'HTTP/1.1', method: 'GET', path: '/hello?x=1', responseCode: 200, responseFlags: [],
      responseCodeDetails: 'via_upstream', upstreamHost: `envoy://connect_originate/127.0.0.1:${bed.apps.h1.port}`, upstreamCluster: ECHO, routeName: 'default',
      downstreamLocalAddress: `${ECHO_VIP}:80`, sourcePrincipal: SOURCE_ID, localPrincipal: WAYPOINT_ID, destinationPrincipal: DEST_ID,
      source: SOURCE_PEER, destinationService: { host: 'echo.echo.svc.cluster.local' }, destinationWorkload: { name: 'echo-1' },
      requestId: seen.headers['x-request-id'],
    });
  });

  it('keeps the downstream tunnel and the upstream connection alive across requests', async () => {
    const tunnelsBefore = bed.destZtunnel.tunnels.length;
    const t = await bed.tunnel(`${ECHO_VIP}:80`);
    for (let i = 0; i < 3; i++) expect((await h1Request(t, { path: `/ka/${i}` })).status).toBe(200);
    // One upstream HBONE tunnel, reused (or none new if the pool kept an idle one).
    expect(bed.destZtunnel.tunnels.length - tunnelsBefore).toBeLessThanOrEqual(1);
    t.destroy();
  });

  it('carries 10 MiB request and response bodies intact', async () => {
    const t = await bed.tunnel(`${ECHO_VIP}:80`);
    const big = pattern(10 * 1024 * 1024, 3);
    const up = await h1Request(t, { method: 'POST', path: '/upload', body: big, headers: { 'content-type': 'application/octet-stream' } });
    const seen = JSON.parse(up.body.toString()) as { bodyLength: number; bodySha: string };
    expect(seen.bodyLength).toBe(big.length);
    expect(seen.bodySha).toBe(sha256(big));
    const down = await h1Request(t, { path: `/big-response/${10 * 1024 * 1024}` });
    expect(down.body.length).toBe(10 * 1024 * 1024);
    expect(sha256(down.body)).toBe(down.headers['x-sha256']);
    t.destroy();
  });

  it('forwards chunked response trailers', async () => {
    const t = await bed.tunnel(`${ECHO_VIP}:80`);
    const res = await h1Request(t, { path: '/trailers' });
    expect(res.body.toString()).toBe('part1;part2');
    expect(res.trailers['x-checksum']).toBe('abc123');
    t.destroy();
  });

  it('answers local replies: 404 NR, 503 NC, 503 UH, 503 UF', async () => {
    const t = await bed.tunnel(`${ECHO_VIP}:80`);
    const n0 = bed.records.length;
    const nr = await h1Request(t, { path: '/x', headers: { 'x-no-route': '1' } });
    expect(nr.status).toBe(404);
    const nc = await h1Request(t, { path: '/nc' });
    expect(nc.status).toBe(503);
    const uh = await h1Request(t, { path: '/uh' });
    expect([uh.status, uh.body.toString()]).toEqual([503, 'no healthy upstream']);
    const uf = await h1Request(t, { path: '/uf' });
    expect(uf.status).toBe(503);
    expect(uf.body.toString()).toMatch(/^upstream connect error or disconnect\/reset before headers\. reset reason: connection failure/);
    expect(uf.headers['server']).toBe('istio-envoy');
    await pollUntil(() => bed.records.length >= n0 + 4, 'records');
    const recs = bed.records.slice(n0, n0 + 4);
    expect(recs.map((r) => [r.responseCode, r.responseFlags.join(','), r.responseCodeDetails])).toEqual([
      [404, 'NR', 'route_not_found'],
      [503, 'NC', 'cluster_not_found'],
      [503, 'UH', 'no_healthy_upstream'],
      [503, 'UF,URX', 'upstream_reset_before_response_started{connection_failure}'],
    ]);
    t.destroy();
  });

  it('a WebSocket upgrade is routed and spliced both ways', async () => {
    const n0 = bed.records.length;
    const t = await bed.tunnel(`${ECHO_VIP}:80`);
    t.write('GET /ws HTTP/1.1\r\nhost: echo\r\nconnection: Upgrade\r\nupgrade: websocket\r\nsec-websocket-version: 13\r\n\r\n');
    let got = '';
    t.on('data', (d: Buffer) => (got += d.toString()));
    await pollUntil(() => got.includes('\r\n\r\n'), '101');
    expect(got).toMatch(/^HTTP\/1\.1 101 /);
    expect(got).toMatch(/x-seen-request-id: [0-9a-f-]{36}/);
    t.end('hello ws');
    await new Promise<void>((r) => t.once('end', () => r()));
    expect(got.endsWith('HELLO WS')).toBe(true);
    const r = await lastRecord(n0 + 1);
    expect(r).toMatchObject({ responseCode: 101, path: '/ws', routeName: 'default', upstreamCluster: ECHO, bytesReceived: 8 });
  });

  it('a plaintext endpoint is dialled directly, upstream host without envoy://', async () => {
    const n0 = bed.records.length;
    const t = await bed.tunnel(`${PLAIN_VIP}:80`);
    const res = await h1Request(t, { path: '/plain' });
    expect(res.status).toBe(200);
    t.destroy();
    const r = await lastRecord(n0 + 1);
    expect(r.upstreamHost).toBe(`127.0.0.1:${bed.apps.h1.port}`);
  });

  it('garbage on the tunnel → 400 and the tunnel closes', async () => {
    const n0 = bed.events.length;
    const t = await bed.tunnel(`${ECHO_VIP}:80`);
    t.end('\x16\x03\x01 this is not http\r\n\r\n');
    const out = (await readAll(t)).toString();
    expect(out).toMatch(/^HTTP\/1\.1 400 /);
    await pollUntil(() => bed.events.slice(n0).some((e) => e.kind === 'codec-error' && e.status === 400), '400 event');
  });

  it('oversized request headers → 431', async () => {
    const t = await bed.tunnel(`${ECHO_VIP}:80`);
    t.end(`GET / HTTP/1.1\r\nhost: echo\r\nx-big: ${'a'.repeat(70 * 1024)}\r\n\r\n`);
    const out = (await readAll(t)).toString();
    expect(out).toMatch(/^HTTP\/1\.1 431 /);
    await pollUntil(() => bed.events.some((e) => e.kind === 'codec-error' && e.status === 431), '431 event');
  });
});

describe('HBONE termination', () => {
  it('a CONNECT to an unknown authority → 503, counted', async () => {
    const n0 = bed.events.length;
    const err = await bed.tunnel('10.96.9.9:80').then(
      () => undefined,
      (e: unknown) => e as HboneError,
    );
    expect(err?.status).toBe(503);
    expect(bed.events.slice(n0)).toContainEqual(expect.objectContaining({ kind: 'connect-rejected', authority: '10.96.9.9:80', status: 503 }));
    expect(bed.dataPlane.stats().rejectedConnects).toBeGreaterThan(0);
  });

  it('no config yet → 503', async () => {
    bed.setConfig(undefined);
    try {
      const err = await bed.tunnel(`${ECHO_VIP}:80`).then(() => undefined, (e: unknown) => e as HboneError);
      expect(err?.status).toBe(503);
    } finally {
      const { testConfig } = await import('./test-fixtures.ts');
      bed.setConfig(testConfig(bed.apps));
    }
  });
});

describe('HTTP/2 and gRPC through the waypoint', () => {
  it('multiplexes h2c streams on one tunnel', async () => {
    const s = h2Session(await bed.tunnel(`${H2_VIP}:8080`));
    const results = await Promise.all(
      Array.from({ length: 20 }, (_, i) => h2Response(s.request({ ':method': 'GET', ':path': `/m/${i}`, ':authority': 'grpc.echo.svc.cluster.local:8080' }))),
    );
    for (const [i, r] of results.entries()) {
      expect(r.headers[':status']).toBe(200);
      expect(JSON.parse(r.body.toString()).path).toBe(`/m/${i}`);
      expect(r.headers['server']).toBe('istio-envoy');
    }
    s.close();
  });

  it('gRPC unary and streaming exchanges keep their trailers', async () => {
    const n0 = bed.records.length;
    const s = h2Session(await bed.tunnel(`${H2_VIP}:8080`));
    const grpcHeaders = (path: string) => ({ ':method': 'POST', ':path': path, ':authority': 'grpc.echo.svc.cluster.local:8080', 'content-type': 'application/grpc', te: 'trailers' });
    const unary = s.request(grpcHeaders('/grpc.test.Echo/Unary'));
    unary.end(grpcFrame(Buffer.from('hello')));
    const u = await h2Response(unary);
    expect(u.headers[':status']).toBe(200);
    expect(u.body.subarray(5).toString()).toBe('hello');
    expect(u.trailers['grpc-status']).toBe('0');
    expect(u.trailers['x-unary-len']).toBe('10');

    const stream = s.request(grpcHeaders('/grpc.test.Echo/Stream'));
    const got = h2Response(stream);
    // Each message is answered before the next is sent: a real bidirectional stream.
    for (let i = 0; i < 3; i++) {
      const frame = grpcFrame(Buffer.from(`msg-${i}`));
      const echoed = new Promise<Buffer>((r) => stream.once('data', (c: Buffer) => r(c)));
      stream.write(frame);
      expect((await echoed).subarray(5).toString()).toBe(`msg-${i}`);
    }
    stream.end();
    const st = await got;
    expect(st.trailers['grpc-status']).toBe('0');
    expect(st.trailers['x-stream-bytes']).toBe(String(3 * 10));

    const fail = s.request(grpcHeaders('/grpc.test.Echo/Fail'));
    fail.end(grpcFrame(Buffer.alloc(0)));
    const f = await h2Response(fail);
    expect(f.headers['grpc-status']).toBe('5');
    s.close();
    await pollUntil(() => bed.records.length >= n0 + 3, 'grpc records');
    const recs = bed.records.slice(n0);
    expect(recs.map((r) => [r.requestProtocol, r.protocol, r.grpcStatus])).toEqual([
      ['grpc', 'HTTP/2', 0],
      ['grpc', 'HTTP/2', 0],
      ['grpc', 'HTTP/2', 5],
    ]);
  });

  it('a gRPC local reply is trailers-only with grpc-status UNAVAILABLE', async () => {
    const s = h2Session(await bed.tunnel(`${H2_VIP}:8080`));
    const req = s.request({ ':method': 'POST', ':path': '/grpc.test.Sick/Call', ':authority': 'grpc.echo.svc.cluster.local:8080', 'content-type': 'application/grpc' });
    req.end(grpcFrame(Buffer.from('x')));
    const r = await h2Response(req);
    expect(r.headers[':status']).toBe(200);
    expect(r.headers['grpc-status']).toBe('14');
    expect(r.headers['grpc-message']).toBe('no healthy upstream');
    expect(r.body.length).toBe(0);
    s.close();
  });

  it('oversized request headers on h2c → 431 on that stream only', async () => {
    const s = h2Session(await bed.tunnel(`${H2_VIP}:8080`));
    // Once the waypoint's SETTINGS arrived, the client knows the advertised header-list limit.
    expect((await h2Response(s.request({ ':method': 'GET', ':path': '/first', ':authority': 'grpc' }))).headers[':status']).toBe(200);
    const big = await h2Response(s.request({ ':method': 'GET', ':path': '/big-headers', ':authority': 'grpc', 'x-big': 'a'.repeat(62 * 1024) }));
    expect(big.headers[':status']).toBe(431);
    const ok = await h2Response(s.request({ ':method': 'GET', ':path': '/after', ':authority': 'grpc' }));
    expect(ok.headers[':status']).toBe(200);
    s.close();
  });

  it('reconnects upstream after the app sends GOAWAY', async () => {
    const s = h2Session(await bed.tunnel(`${H2_VIP}:8080`));
    const get = (p: string) => h2Response(s.request({ ':method': 'GET', ':path': p, ':authority': 'grpc' }));
    expect((await get('/before-goaway')).headers[':status']).toBe(200);
    const sessions = bed.apps.h2.sessions;
    for (const sess of bed.apps.h2.live) sess.close();
    await pollUntil(() => bed.apps.h2.live.size === 0, 'app sessions closed');
    expect((await get('/after-goaway')).headers[':status']).toBe(200);
    expect(bed.apps.h2.sessions).toBe(sessions + 1);
    s.close();
  });

  it('10 MiB both ways over h2c', async () => {
    const s = h2Session(await bed.tunnel(`${H2_VIP}:8080`));
    const big = pattern(10 * 1024 * 1024, 11);
    const req = s.request({ ':method': 'POST', ':path': '/grpc.test.Echo/Stream', ':authority': 'grpc.echo.svc.cluster.local:8080', 'content-type': 'application/grpc' });
    req.end(big);
    const r = await h2Response(req);
    expect(r.body.length).toBe(big.length);
    expect(sha256(r.body)).toBe(sha256(big));
    s.close();
  });
});

describe('TCP and sniffed chains', () => {
  it('a TCP chain proxies bytes with half-close and records the connection', async () => {
    const n0 = bed.records.length;
    const t = await bed.tunnel(`${TCP_VIP}:9000`);
    t.end('ping over tcp');
    expect((await readAll(t)).toString()).toBe('ping over tcp');
    await pollUntil(() => bed.records.slice(n0).some((r) => r.kind === 'tcp'), 'tcp record');
    const r = bed.records.slice(n0).find((x) => x.kind === 'tcp')!;
    expect(r).toMatchObject({ kind: 'tcp', requestProtocol: 'tcp', bytesReceived: 13, bytesSent: 13, upstreamCluster: 'inbound-vip|9000|tcp|tcp-echo.echo.svc.cluster.local', sourcePrincipal: SOURCE_ID, responseFlags: [] });
  });

  it('an undeclared port sniffs HTTP/1.1 to the HTTP chain and anything else to TCP', async () => {
    const t1 = await bed.tunnel(`${SNIFF_VIP}:7000`);
    const res = await h1Request(t1, { path: '/sniffed' });
    expect(res.status).toBe(200);
    expect(JSON.parse(res.body.toString()).headers['x-request-id']).toBeDefined();
    t1.destroy();
    const t2 = await bed.tunnel(`${SNIFF_VIP}:7000`);
    t2.end('\x00\x01binary');
    expect((await readAll(t2)).toString()).toBe('\x00\x01binary');
  });

  it('the TCP idle timeout closes a quiet connection', async () => {
    const { testConfig } = await import('./test-fixtures.ts');
    const c = testConfig(bed.apps, 'idle');
    bed.setConfig({ ...c, chains: c.chains.map((ch) => (ch.kind === 'tcp' && ch.name.startsWith('inbound-vip') ? { ...ch, idleTimeoutMs: 100 } : ch)) });
    try {
      const t = await bed.tunnel(`${TCP_VIP}:9000`);
      t.on('error', () => undefined);
      t.write('hi');
      const started = Date.now();
      await new Promise<void>((r) => t.once('close', () => r()));
      expect(Date.now() - started).toBeGreaterThanOrEqual(90);
    } finally {
      bed.setConfig(testConfig(bed.apps));
    }
  });

  it('an undeclared port sniffs h2c', async () => {
    const s = h2Session(await bed.tunnel(`${SNIFF_VIP}:7000`));
    const r = await h2Response(s.request({ ':method': 'GET', ':path': '/h2-sniffed', ':authority': 'echo' }));
    expect(r.headers[':status']).toBe(200);
    expect(JSON.parse(r.body.toString()).httpVersion).toBe('1.1'); // h1 upstream cluster
    s.close();
  });
});

describe('config hot swap', () => {
  it('new requests use the new routes', async () => {
    const { testConfig } = await import('./test-fixtures.ts');
    const t = await bed.tunnel(`${ECHO_VIP}:80`);
    expect((await h1Request(t, { path: '/nc' })).status).toBe(503);
    const c = testConfig(bed.apps, 'v2');
    const table = c.routes.get(ECHO)!;
    const swapped = { ...c, routes: new Map([...c.routes, [ECHO, { ...table, virtualHosts: [{ ...table.virtualHosts[0]!, routes: table.virtualHosts[0]!.routes.filter((r) => r.name !== 'nc') }] }]]) };
    bed.setConfig(swapped);
    try {
      expect((await h1Request(t, { path: '/nc' })).status).toBe(200);
    } finally {
      bed.setConfig(testConfig(bed.apps));
      t.destroy();
    }
  });
});
