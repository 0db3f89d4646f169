// The 15012 serving certificate renewed under a real grpc-js TLS server on loopback: new handshakes
// get a new serial, a connection opened before the renewals is still usable after them.
import { X509Certificate } from 'node:crypto';
import { connect as h2connect, type ClientHttp2Session } from 'node:http2';
import { PassThrough } from 'node:stream';
import { connect as tlsConnect } from 'node:tls';
import { Server, experimental } from '@grpc/grpc-js';
import { afterEach, describe, expect, it } from 'vitest';
import { CertificateAuthority, createSelfSignedRoot } from '../../../lib/identity/index.ts';
import { createLogger } from '../../../lib/log/logger.ts';
import { Registry } from '../../../lib/metrics/registry.ts';
import { istioCertificateServiceDefinition } from '../../../lib/proto/index.ts';
import { renewalDelayMs, ServingCertificateProvider } from './serving-cert.ts';

const log = createLogger({ component: 'test', destination: new PassThrough() });

async function pollUntil<T>(what: string, f: () => T | undefined | Promise<T | undefined>, deadlineMs = 15_000): Promise<T> {
  const end = Date.now() + deadlineMs;
  for (;;) {
    const v = await f();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Serial of the certificate a fresh TLS handshake to 127.0.0.1:port is served. */
function servedSerial(port: number, rootPem: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = tlsConnect({ host: '127.0.0.1', port, ca: rootPem, servername: 'istiod.istio-system.svc', ALPNProtocols: ['h2'] }, () => {
      const serial = s.getPeerX509Certificate()?.serialNumber;
      s.destroy();
      serial ? resolve(serial) : reject(new Error('no peer certificate'));
    });
    s.on('error', reject);
  });
}

/** pilot_serving_cert_renewals_total{result} as /metrics shows it. */
function renewals(registry: Registry, result: string): number {
  const m = new RegExp(`^pilot_serving_cert_renewals_total\\{result="${result}"\\} (\\d+)$`, 'm').exec(registry.render());
  return m ? Number(m[1]) : 0;
}

const cleanups: Array<() => void> = [];
afterEach(() => {
  while (cleanups.length) cleanups.pop()!();
});

describe('serving certificate renewal', () => {
  it('renews at 80% of the lifetime, counts it, and keeps a connection opened before the renewals', async () => {
    const root = await createSelfSignedRoot();
    const ca = await CertificateAuthority.create({ signer: root });
    const registry = new Registry();
    const provider = await ServingCertificateProvider.start({
      issue: () => ca.issueServingCertificate({ dnsNames: ['istiod.istio-system.svc'], ipAddresses: ['127.0.0.1'], ttlSeconds: 2 }),
      log,
      registry,
    });
    cleanups.push(() => provider.stop());
    const server = new Server();
    // A service is needed for grpc-js to answer; an unknown method is enough to prove the session works.
    server.addService(istioCertificateServiceDefinition, { CreateCertificate: (_c: unknown, cb: (e: Error) => void) => cb(new Error('unused')) });
    const port = await new Promise<number>((resolve, reject) =>
      server.bindAsync('127.0.0.1:0', experimental.createCertificateProviderServerCredentials(provider, null, false), (err, p) => (err ? reject(err) : resolve(p))),
    );
    cleanups.push(() => server.forceShutdown());

    const first = await servedSerial(port, root.certPem);
    expect(first).toBe(new X509Certificate(provider.certChainPem).serialNumber);
    // An HTTP/2 session opened on the first certificate.
    const session: ClientHttp2Session = h2connect(`https://127.0.0.1:${port}`, { ca: root.certPem, servername: 'istiod.istio-system.svc' });
    cleanups.push(() => session.destroy());
    await new Promise<void>((resolve, reject) => session.once('connect', () => resolve()).once('error', reject));

    const seen = new Set([first]);
    await pollUntil('three renewals seen by new handshakes', async () => {
      seen.add(await servedSerial(port, root.certPem));
      return seen.size >= 4 ? true : undefined;
    });
    expect(renewals(registry, 'success')).toBeGreaterThanOrEqual(3);

    // The old session is still up and answers a gRPC call (UNIMPLEMENTED for an unknown method).
    expect(session.closed || session.destroyed).toBe(false);
    const grpcStatus = await new Promise<string | undefined>((resolve, reject) => {
      const req = session.request({ ':method': 'POST', ':path': '/no.Such/Method', 'content-type': 'application/grpc', te: 'trailers' });
      let st: string | undefined;
      req.on('response', (h) => (st = (h['grpc-status'] as string | undefined) ?? st));
      req.on('trailers', (t) => (st = (t['grpc-status'] as string | undefined) ?? st));
      req.on('close', () => resolve(st));
      req.on('error', reject);
      req.end(Buffer.from([0, 0, 0, 0, 0]));
    });
    expect(grpcStatus).toBe('12');
  });

  it('schedules renewal at 80% of what is left, never a tight loop', async () => {
    const root = await createSelfSignedRoot();
    const ca = await CertificateAuthority.create({ signer: root });
    const now = Date.now();
    const s = await ca.issueServingCertificate({ dnsNames: ['x'], ttlSeconds: 100, now: new Date(now) });
    const notAfter = Date.parse(new X509Certificate(s.certChainPem).validTo);
    const d = renewalDelayMs(notAfter, 0.8, now);
    expect(d).toBeGreaterThan(79_000);
    expect(d).toBeLessThanOrEqual(80_000);
    expect(renewalDelayMs(notAfter, 0.8, now + 200_000)).toBe(250);
  });

  it('counts a failed renewal and keeps serving the current certificate', async () => {
    const root = await createSelfSignedRoot();
    const ca = await CertificateAuthority.create({ signer: root });
    const registry = new Registry();
    let calls = 0;
    const provider = await ServingCertificateProvider.start({
      issue: async () => {
        calls++;
        if (calls > 1) throw new Error('signer unavailable');
        return ca.issueServingCertificate({ dnsNames: ['x'], ttlSeconds: 1 });
      },
      log,
      registry,
      retryMs: 100,
    });
    cleanups.push(() => provider.stop());
    const before = provider.certChainPem;
    await pollUntil('a counted failure', () => (renewals(registry, 'failure') >= 1 ? true : undefined));
    expect(provider.certChainPem).toBe(before);
  });
});
