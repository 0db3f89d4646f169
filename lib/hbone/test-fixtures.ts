// Test-only helpers for lib/hbone tests: a CA with workload certificates, an HBONE server on
// loopback in front of TCP apps, and small stream utilities. Not used by production code.
import { createHash } from 'node:crypto';
import net from 'node:net';
import type { Duplex } from 'node:stream';
import { CertificateAuthority, createSelfSignedRoot, type CaMaterial } from '../identity/ca.ts';
import type { WorkloadCertificate } from '../identity/certificate.ts';
import { issueWorkloadCertificate } from '../identity/local-issuer.ts';
import { afterEach, beforeAll } from 'vitest';
import { HbonePool, type HbonePoolOptions } from './pool.ts';
import { HboneServer, type HboneServerOptions, type ServerEvent, type TunnelDecision, type TunnelRequest } from './server.ts';

export const CLIENT_ID = 'spiffe://cluster.local/ns/client-ns/sa/client';
export const SERVER_ID = 'spiffe://cluster.local/ns/server-ns/sa/server';

export interface TestPki {
  ca: CertificateAuthority;
  /** The root's certificate and key, to forge odd certificates under it (test-certificates.ts). */
  root: CaMaterial;
  cert(identity: string): Promise<WorkloadCertificate>;
}

export async function createTestPki(trustDomain = 'cluster.local'): Promise<TestPki> {
  const root = await createSelfSignedRoot({ trustDomain });
  const ca = await CertificateAuthority.create({ signer: root, trustDomain });
  const cache = new Map<string, Promise<WorkloadCertificate>>();
  return {
    ca,
    root,
    cert(identity) {
      let c = cache.get(identity);
      if (!c) {
        c = issueWorkloadCertificate(ca, identity);
        cache.set(identity, c);
      }
      return c;
    },
  };
}

/** Dials the tunnel target on loopback like ztunnel's inbound would; a failed dial is a 503. */
export async function dialLoopbackUpstream(req: TunnelRequest): Promise<TunnelDecision> {
  if (req.authority.kind !== 'ip') return { kind: 'reject', status: 400, reason: 'hostname' };
  const upstream = net.connect({ host: req.authority.ip, port: req.authority.port, allowHalfOpen: true });
  try {
    await new Promise<void>((resolve, reject) => {
      upstream.once('connect', resolve);
      upstream.once('error', reject);
    });
  } catch (err) {
    return { kind: 'reject', status: 503, reason: `upstream connect failed: ${(err as Error).message}` };
  }
  return { kind: 'accept', upstream };
}

export interface HboneFixture {
  server: HboneServer;
  listener: net.Server;
  port: number;
  host: string;
  /** TCP connections the listener accepted. */
  accepted(): number;
  events: ServerEvent[];
  tunnels: TunnelRequest[];
  close(): Promise<void>;
}

export async function startHboneServer(
  opts: Partial<HboneServerOptions> & { getCertificate: HboneServerOptions['getCertificate']; host?: string; onSocket?: (s: net.Socket, server: HboneServer) => void },
): Promise<HboneFixture> {
  const events: ServerEvent[] = [];
  const tunnels: TunnelRequest[] = [];
  const onTunnel = opts.onTunnel ?? dialLoopbackUpstream;
  const server = new HboneServer({
    ...opts,
    onTunnel: (req) => {
      tunnels.push(req);
      return onTunnel(req);
    },
    onEvent: (e) => events.push(e),
  });
  let accepted = 0;
  const listener = net.createServer();
  listener.on('connection', () => accepted++);
  const onSocket = opts.onSocket;
  if (onSocket) listener.on('connection', (s: net.Socket) => onSocket(s, server));
  else server.attach(listener);
  const host = opts.host ?? '127.0.0.1';
  await new Promise<void>((r) => listener.listen(0, host, r));
  return {
    server,
    listener,
    port: (listener.address() as net.AddressInfo).port,
    host,
    accepted: () => accepted,
    events,
    tunnels,
    async close() {
      server.destroy();
      await new Promise<void>((r) => listener.close(() => r()));
    },
  };
}

export interface TcpApp {
  port: number;
  sockets: net.Socket[];
  close(): Promise<void>;
}

/** A loopback TCP app with half-open sockets; `onSocket` decides what it does. */
export async function startTcpApp(onSocket: (s: net.Socket) => void, host = '127.0.0.1'): Promise<TcpApp> {
  const sockets: net.Socket[] = [];
  const server = net.createServer({ allowHalfOpen: true }, (s) => {
    sockets.push(s);
    s.on('error', () => undefined);
    onSocket(s);
  });
  await new Promise<void>((r) => server.listen(0, host, r));
  return {
    port: (server.address() as net.AddressInfo).port,
    sockets,
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}

/** Reads a stream to its end. */
export function readAll(s: Duplex): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    s.on('data', (c: Buffer) => chunks.push(c));
    s.once('end', () => resolve(Buffer.concat(chunks)));
    s.once('error', reject);
    s.once('close', () => reject(new Error('closed before end')));
  });
}

/** Polls `cond` until true or the deadline passes. */
export async function pollUntil(cond: () => boolean, what: string, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

export function sha256(b: Buffer): string {
  return createHash('sha256').update(b).digest('hex');
}

/** Settles with the error a promise rejects with (fails the test if it resolves). */
export async function rejectionOf(p: Promise<unknown>): Promise<Error & { code?: string; status?: number }> {
  try {
    await p;
  } catch (e) {
    return e as Error & { code?: string };
  }
  throw new Error('expected a rejection');
}

export interface HboneTestBed {
  /** Set by the suite's beforeAll. */
  readonly pki: TestPki;
  readonly serverCert: WorkloadCertificate;
  /** A loopback echo app the tunnels can target. */
  readonly echoApp: TcpApp;
  /** Runs `fn` after the current test (last registered first). */
  defer(fn: () => Promise<void> | void): void;
  /** An HBONE server serving SERVER_ID on loopback, keepalive off, closed after the test. */
  serverFixture(opts?: Partial<Parameters<typeof startHboneServer>[0]>): Promise<HboneFixture>;
  /** A pool with the test PKI, keepalive off, closed after the test. */
  pool(opts?: Partial<HbonePoolOptions>): HbonePool;
}

/** The common setup of the pool and server suites; call once at the top of a test file. */
export function hboneTestBed(): HboneTestBed {
  const cleanups: (() => Promise<void> | void)[] = [];
  const state = {} as { pki: TestPki; serverCert: WorkloadCertificate; echoApp: TcpApp };
  beforeAll(async () => {
    state.pki = await createTestPki();
    state.serverCert = await state.pki.cert(SERVER_ID);
    state.echoApp = await startTcpApp((s) => void s.pipe(s));
    return () => state.echoApp.close();
  });
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  });
  return {
    get pki() {
      return state.pki;
    },
    get serverCert() {
      return state.serverCert;
    },
    get echoApp() {
      return state.echoApp;
    },
    defer: (fn) => void cleanups.push(fn),
    serverFixture: async (opts = {}) => {
      const f = await startHboneServer({ getCertificate: () => state.serverCert, keepalive: false, ...opts });
      cleanups.push(() => f.close());
      return f;
    },
    pool: (opts = {}) => {
      const p = new HbonePool({ getCertificate: (id) => state.pki.cert(id), keepalive: false, ...opts });
      cleanups.push(() => p.close());
      return p;
    },
  };
}
