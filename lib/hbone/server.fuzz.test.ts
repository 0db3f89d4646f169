// Fuzzing the HBONE server on 15008 past the TLS handshake: a real in-process server on loopback,
// a client with a valid mesh certificate that completes mTLS and ALPN h2, then sends random bytes,
// random HTTP/2 frames, or real captured client byte streams (node:http2's CONNECTs) with bytes
// flipped, inserted, deleted or cut. Each fuzzed connection may only cost itself: the server never
// throws, never leaks the connection, counts every refused request, and a well-formed CONNECT
// (on a pooled connection and on a fresh one) is still tunnelled afterwards.
import http2 from 'node:http2';
import net from 'node:net';
import { Duplex } from 'node:stream';
import tls from 'node:tls';
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import type { WorkloadCertificate } from '../identity/certificate.ts';
import { fuzzBudget, fuzzParams, mutatedFrom } from '../fuzz/fuzz.ts';
import type { HbonePool } from './pool.ts';
import { CLIENT_ID, SERVER_ID, hboneTestBed, pollUntil, readAll, type HboneFixture } from './test-fixtures.ts';

const bed = hboneTestBed();
const budget = fuzzBudget(0.3);
/** A fuzzed connection that neither side closed by then is closed by the client. */
const LINGER_MS = 150;
/** The server's drain grace period here: a connection stuck closing is torn down after it. */
const DRAIN_MS = 200;

let clientCert: WorkloadCertificate;
let captured: Buffer[] = [];

/** The bytes node:http2's client writes for `requests` (preface, SETTINGS, HEADERS, DATA…). */
async function captureClientBytes(requests: { headers: http2.OutgoingHttpHeaders; data?: string; end?: boolean; rst?: boolean }[]): Promise<Buffer> {
  const chunks: Buffer[] = [];
  const wire = new Duplex({
    read() {},
    write(chunk: Buffer, _enc, cb) {
      chunks.push(Buffer.from(chunk));
      cb();
    },
  });
  const session = http2.connect('https://hbone.invalid', { createConnection: () => wire });
  session.on('error', () => undefined);
  for (const r of requests) {
    const s = session.request(r.headers, { endStream: false });
    s.on('error', () => undefined);
    if (r.data !== undefined) s.write(r.data);
    if (r.end) s.end();
    if (r.rst) s.close(http2.constants.NGHTTP2_CANCEL);
  }
  session.ping(Buffer.alloc(8), () => undefined);
  // Frames are written from nghttp2's send loop: poll until the writes stop growing.
  let last = -1;
  while (chunks.length !== last) {
    last = chunks.length;
    await new Promise((r) => setTimeout(r, 10));
  }
  session.destroy();
  // Ends with the GOAWAY destroy() writes: the fuzzer cuts and mutates around it too.
  return Buffer.concat(chunks);
}

const GOAWAY = 7;

const PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1');
const tp = `00-${'a'.repeat(32)}-${'b'.repeat(16)}-00`;

beforeAll(async () => {
  clientCert = await bed.pki.cert(CLIENT_ID);
  const connect = (authority: string): http2.OutgoingHttpHeaders => ({ ':method': 'CONNECT', ':authority': authority, traceparent: tp, baggage: 'k8s.namespace.name=client-ns' });
  const echo = `127.0.0.1:${bed.echoApp.port}`;
  captured = await Promise.all([
    captureClientBytes([{ headers: connect(echo), data: 'hello' }]),
    captureClientBytes([{ headers: connect(echo), data: 'bye', end: true }, { headers: connect(echo), rst: true }]),
    captureClientBytes([{ headers: connect('[::1]:1') }, { headers: connect('999.1.1.1:80') }]),
    captureClientBytes([{ headers: { ':method': 'GET', ':path': '/', ':authority': echo, ':scheme': 'https' }, end: true }]),
    // Not a valid authority for nghttp2 either: reset by it before our validation sees the stream.
    captureClientBytes([{ headers: connect('not an authority') }]),
  ]);
});

/** One HTTP/2 frame with any type, flags, stream id and payload (the length field may lie). */
const frame = fc
  .record({
    type: fc.oneof(fc.integer({ min: 0, max: 9 }), fc.integer({ min: 10, max: 255 })),
    flags: fc.integer({ min: 0, max: 255 }),
    stream: fc.oneof(fc.constantFrom(0, 1, 3, 5, 2, 0x7fffffff), fc.integer({ min: 0, max: 0xffffffff })),
    payload: fc.uint8Array({ maxLength: 64 }),
    lengthDelta: fc.oneof({ weight: 4, arbitrary: fc.constant(0) }, { weight: 1, arbitrary: fc.integer({ min: -8, max: 0xffffff }) }),
  })
  .map(({ type, flags, stream, payload, lengthDelta }) => {
    const header = Buffer.alloc(9);
    header.writeUIntBE(Math.max(0, Math.min(0xffffff, payload.length + lengthDelta)), 0, 3);
    header[3] = type;
    header[4] = flags;
    header.writeUInt32BE(stream >>> 0, 5);
    return Buffer.concat([header, payload]);
  });

/** What a fuzzed client writes after the TLS handshake, as one or more writes. */
const clientStream = (): fc.Arbitrary<Buffer[]> =>
  fc.oneof(
    fc.array(fc.uint8Array({ minLength: 1, maxLength: 512 }).map((b) => Buffer.from(b)), { minLength: 1, maxLength: 4 }),
    fc.array(frame, { minLength: 1, maxLength: 8 }).map((frames) => [PREFACE, ...frames]),
    // Settings first, so the frames after them reach the stream layer rather than dying on the preface.
    fc.array(frame, { maxLength: 6 }).map((frames) => [captured[0]!.subarray(0, PREFACE.length + 9 + captured[0]!.readUIntBE(PREFACE.length, 3)), ...frames]),
    mutatedFrom(captured, 6).map((b) => [b]),
    // A real stream cut into pieces at random points, some pieces mutated.
    fc.tuple(fc.constantFrom(0, 1, 2, 3, 4), fc.array(fc.nat(), { maxLength: 4 }), mutatedFrom(captured, 2)).map(([i, cuts, tail]) => {
      const whole = captured[i]!;
      const points = [...new Set(cuts.map((c) => c % whole.length))].sort((a, b) => a - b);
      const parts = points.map((p, j) => whole.subarray(points[j - 1] ?? 0, p));
      return [...parts, whole.subarray(points.at(-1) ?? 0), tail];
    }),
  );

/** Connects with the mesh client certificate, writes `writes` after the handshake; resolves once closed. */
function fuzzConnection(f: HboneFixture, writes: Buffer[], endAfter: boolean): Promise<{ secure: boolean }> {
  return new Promise((resolve) => {
    let secure = false;
    const s = tls.connect({
      port: f.port,
      host: f.host,
      ALPNProtocols: ['h2'],
      ca: clientCert.rootsPem,
      cert: clientCert.certChainPem.join(''),
      key: clientCert.keyPem,
      servername: '',
      checkServerIdentity: () => undefined,
    });
    const linger = setTimeout(() => s.destroy(), LINGER_MS);
    s.on('error', () => undefined);
    s.on('data', () => undefined);
    s.on('close', () => {
      clearTimeout(linger);
      resolve({ secure });
    });
    s.on('secureConnect', () => {
      secure = true;
      for (const w of writes) if (!s.destroyed) s.write(w);
      if (endAfter && !s.destroyed) s.end();
    });
  });
}

async function echoThrough(p: HbonePool, f: HboneFixture, payload: string): Promise<string> {
  const t = await p.open({
    key: { srcIdentity: CLIENT_ID, dstIdentities: [SERVER_ID], dstAddress: `${f.host}:${f.port}` },
    authority: `127.0.0.1:${bed.echoApp.port}`,
    connectSocket: () => net.connect(f.port, f.host),
  });
  const got = readAll(t.stream);
  t.stream.end(payload);
  return (await got).toString();
}

describe('HBONE server under fuzzed HTTP/2 after the TLS handshake', () => {
  it('survives random and mutated client byte streams and keeps serving well-formed CONNECTs', async () => {
    // A fuzzed connection left closing (e.g. GOAWAY, then garbage) is torn down after the drain period.
    const f = await bed.serverFixture({ drainTimeoutMs: DRAIN_MS });
    const healthy = bed.pool();
    // The pooled connection exists before the fuzzing starts and must outlive it.
    expect(await echoThrough(healthy, f, 'before')).toBe('before');
    let runs = 0;
    await fc.assert(
      fc.asyncProperty(clientStream(), fc.boolean(), async (writes, endAfter) => {
        runs++;
        const tunnelsBefore = f.tunnels.length;
        const r = await fuzzConnection(f, writes, endAfter);
        expect(r.secure).toBe(true);
        // The fuzzed connection is gone from the server too: nothing leaks per bad peer.
        await pollUntil(() => f.server.connectionCount <= 1, 'the fuzzed connection to be released', 5000);
        // Every request the server refused was counted, each with a 400 and a reason.
        for (const e of f.events) {
          if (e.kind === 'stream-rejected' && e.by === 'protocol') expect(e).toMatchObject({ status: 400, reason: expect.any(String) });
        }
        // And the pooled healthy connection still tunnels.
        expect(await echoThrough(healthy, f, `after ${runs}`)).toBe(`after ${runs}`);
        expect(f.tunnels.length).toBeGreaterThan(tunnelsBefore);
      }),
      fuzzParams(budget, { hangMs: 10_000 }),
    );
    expect(runs).toBeGreaterThan(0);
    // A fresh connection (new TLS handshake, new HTTP/2 session) is served as well.
    const fresh = bed.pool();
    expect(await echoThrough(fresh, f, 'fresh')).toBe('fresh');
    expect(f.events.filter((e) => e.kind === 'connection-rejected' && e.error.code !== 'HBONE_SESSION_CLOSED')).toEqual([]);
  }, budget.testTimeoutMs + 30_000);

  it('counts each malformed CONNECT as a 400 stream rejection', async () => {
    const f = await bed.serverFixture();
    const bad = captured[2]!; // CONNECT [::1]:1 (valid, nothing listens there) and CONNECT 999.1.1.1:80
    const r = await fuzzConnection(f, [bad], false);
    expect(r.secure).toBe(true);
    await pollUntil(() => f.events.filter((e) => e.kind === 'stream-rejected').length === 2, 'both answers');
    // The one that parsed was refused by the handler (its dial failed): counted apart, as a 503.
    expect(f.events.filter((e) => e.kind === 'stream-rejected' && e.by === 'protocol')).toEqual([
      expect.objectContaining({ status: 400, reason: expect.stringContaining('999.1.1.1:80') }),
    ]);
  });

  it('counts a connection that breaks HTTP/2 after the handshake as a refused connection', async () => {
    const f = await bed.serverFixture();
    const frames = Buffer.concat([PREFACE, Buffer.from([0, 0, 3, 4, 0, 0, 0, 0, 1, 1, 2, 3])]); // SETTINGS of 3 bytes
    for (const writes of [[Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n')], [frames]]) {
      const before = f.events.length;
      expect((await fuzzConnection(f, writes, false)).secure).toBe(true);
      await pollUntil(() => f.events.length > before, 'the rejection event');
      expect(f.events.slice(before)).toEqual([expect.objectContaining({ kind: 'connection-rejected', error: expect.objectContaining({ code: 'HBONE_SESSION_CLOSED' }) })]);
    }
  });

  // Found by the property above: after a peer's GOAWAY (node:http2 starts a graceful close) a
  // malformed frame makes nghttp2 end the session without node destroying it; node stops reading
  // the socket, so the peer's close is never seen, and keepalive cannot help (node cancels PINGs on
  // a closing session). The server's drain deadline tears it down with the tunnel's app socket.
  it('releases a connection whose peer sent GOAWAY, then a malformed frame, during a tunnel', async () => {
    const f = await bed.serverFixture({ drainTimeoutMs: DRAIN_MS });
    const appSockets = bed.echoApp.sockets.length;
    const goaway = Buffer.from([0, 0, 8, GOAWAY, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
    // The fuzzer's case: the same client stream again with its first byte changed, read as a frame
    // header of 5 MiB > SETTINGS_MAX_FRAME_SIZE.
    const again = Buffer.from(captured[0]!);
    again[0] = 0x51;
    expect((await fuzzConnection(f, [Buffer.concat([captured[0]!, goaway]), again], false)).secure).toBe(true);
    await pollUntil(() => f.server.connectionCount === 0, 'the connection to be released');
    expect(f.server.forcedCloseCount).toBe(1);
    // The tunnel reached the app, and its app socket was released with the connection.
    expect(f.tunnels).toHaveLength(1);
    const app = bed.echoApp.sockets.slice(appSockets);
    expect(app).toHaveLength(1);
    await pollUntil(() => app[0]!.destroyed, 'the app socket to be closed');
  });
});
