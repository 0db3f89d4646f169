// The CA client against a real grpc-js IstioCertificateService on loopback, signing with a real
// lib/identity CertificateAuthority; plus the pure request/address/status helpers.
import { X509Certificate, createPrivateKey } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Server, ServerCredentials, status, type sendUnaryData, type ServerUnaryCall } from '@grpc/grpc-js';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Registry } from '../metrics/registry.ts';
import {
  IMPERSONATED_IDENTITY,
  istioCertificateServiceDefinition,
  structToJson,
  type IstioCertificateRequest,
  type IstioCertificateResponse,
} from '../proto/index.ts';
import {
  CaClientError,
  buildCertificateRequest,
  classifyStatus,
  createCaIssuer,
  parseCaAddress,
  type CaClient,
  type CaClientOptions,
} from './ca-client.ts';
import { CaError, CertificateAuthority, createCsr, createSelfSignedRoot } from './index.ts';
import { SecretManager } from './secret-manager.ts';
import { RootBundleFile } from './root-bundle-file.ts';
import { certificateToPem, generateP256KeyPair, privateKeyToPem, signingAlgorithmFor, x509 } from './x509.ts';

const ID = 'spiffe://cluster.local/ns/default/sa/echo';
const OTHER = 'spiffe://cluster.local/ns/default/sa/other';

interface SeenCall {
  request: IstioCertificateRequest;
  metadata: Record<string, string>;
}

type Reply = { certChain: string[] } | { error: { code: status; details: string } };

/** What the test CA does with one call; the default is istiod's: sign for the impersonated identity. */
type Handler = (call: SeenCall, ca: CertificateAuthority) => Promise<Reply>;

interface TestCa {
  ca: CertificateAuthority;
  port: number;
  calls: SeenCall[];
  handler: Handler;
  close(): void;
}

const signImpersonated: Handler = async ({ request }, ca) => {
  const identity = structToJson(request.metadata)[IMPERSONATED_IDENTITY];
  try {
    // Without impersonation istiod signs for the caller's own identity; the test caller is ID.
    return { certChain: await ca.sign({ csrPem: request.csr, identity: typeof identity === 'string' ? identity : ID, ttlSeconds: request.validityDuration }) };
  } catch (err) {
    if (err instanceof CaError) return { error: { code: status.INVALID_ARGUMENT, details: err.message } };
    throw err;
  }
};

async function startTestCa(opts: { tls?: { certPem: string; keyPem: string }; ca?: CertificateAuthority } = {}): Promise<TestCa> {
  const ca = opts.ca ?? (await CertificateAuthority.create({ signer: await createSelfSignedRoot() }));
  const server = new Server();
  const state: TestCa = { ca, port: 0, calls: [], handler: signImpersonated, close: () => server.forceShutdown() };
  server.addService(istioCertificateServiceDefinition, {
    CreateCertificate: (call: ServerUnaryCall<IstioCertificateRequest, IstioCertificateResponse>, cb: sendUnaryData<IstioCertificateResponse>) => {
      const metadata: Record<string, string> = {};
      for (const [k, v] of Object.entries(call.metadata.getMap())) metadata[k] = String(v);
      const seen = { request: call.request, metadata };
      state.calls.push(seen);
      state.handler(seen, ca).then(
        (r) => ('error' in r ? cb(r.error, null) : cb(null, { certChain: r.certChain })),
        (err: Error) => cb({ code: status.INTERNAL, details: err.message }, null),
      );
    },
  });
  const creds = opts.tls
    ? ServerCredentials.createSsl(null, [{ cert_chain: Buffer.from(opts.tls.certPem), private_key: Buffer.from(opts.tls.keyPem) }], false)
    : ServerCredentials.createInsecure();
  state.port = await new Promise<number>((resolve, reject) => server.bindAsync('127.0.0.1:0', creds, (err, port) => (err ? reject(err) : resolve(port))));
  return state;
}

/** A self-signed TLS server certificate for the CA endpoint (its own trust anchor). */
async function serverCertificate(names: Array<{ type: 'dns' | 'ip'; value: string }>, cn = 'test-istiod'): Promise<{ certPem: string; keyPem: string }> {
  const keys = await generateP256KeyPair();
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    name: `CN=${cn}`,
    keys,
    notBefore: new Date(Date.now() - 60_000),
    notAfter: new Date(Date.now() + 3600_000),
    signingAlgorithm: signingAlgorithmFor(keys.privateKey),
    extensions: [new x509.SubjectAlternativeNameExtension(names)],
  });
  return { certPem: certificateToPem(cert), keyPem: await privateKeyToPem(keys.privateKey) };
}

async function eventually(cond: () => boolean | Promise<boolean>, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

async function fetchError(p: Promise<unknown>): Promise<CaClientError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(CaClientError);
  return err as CaClientError;
}

let dir: string;
let tokenPath: string;
const clients: CaClient[] = [];
const servers: TestCa[] = [];

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'ca-client-'));
  tokenPath = join(dir, 'istio-token');
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));
afterEach(() => {
  for (const c of clients.splice(0)) c.close();
  for (const s of servers.splice(0)) s.close();
});

async function ca(opts?: Parameters<typeof startTestCa>[0]): Promise<TestCa> {
  const s = await startTestCa(opts);
  servers.push(s);
  return s;
}

function client(opts: CaClientOptions): CaClient {
  const c = createCaIssuer(opts);
  clients.push(c);
  return c;
}

describe('createCaIssuer over plaintext gRPC', () => {
  it('fetches a certificate for the requested identity with impersonation, token, cluster id and TTL', async () => {
    const server = await ca();
    writeFileSync(tokenPath, 'jwt-one\n');
    const registry = new Registry();
    const requests = registry.counter('ca_requests', 'test', ['result']);
    const { issuer } = client({ address: `http://127.0.0.1:${server.port}`, tokenPath, clusterId: 'Kubernetes', headers: { 'x-tenant': 'a' }, ttlSeconds: 3600, requests });
    const before = Date.now();
    const cert = await issuer(ID);

    expect(server.calls).toHaveLength(1);
    const [call] = server.calls;
    expect(call!.metadata).toMatchObject({ authorization: 'Bearer jwt-one', clusterid: 'Kubernetes', 'x-tenant': 'a' });
    expect(call!.request.validityDuration).toBe(3600);
    expect(structToJson(call!.request.metadata)).toEqual({ ImpersonatedIdentity: ID });
    expect(call!.request.csr).toMatch(/^-----BEGIN CERTIFICATE REQUEST-----/);

    expect(cert.identity).toEqual({ trustDomain: 'cluster.local', namespace: 'default', serviceAccount: 'echo' });
    expect(cert.rootsPem).toBe(server.ca.rootsPem);
    expect(cert.certChainPem).toHaveLength(1);
    const leaf = new X509Certificate(cert.certChainPem[0]!);
    expect(leaf.subjectAltName).toBe(`URI:${ID}`);
    expect(leaf.checkPrivateKey(createPrivateKey(cert.keyPem))).toBe(true);
    expect(createPrivateKey(cert.keyPem).asymmetricKeyDetails?.namedCurve).toBe('prime256v1');
    expect(Math.abs(cert.notAfter.getTime() - (before + 3600_000))).toBeLessThan(5_000);
    expect(requests.get({ result: 'ok' })).toBe(1);

    // The token is re-read per call (projected tokens rotate), and every call has its own key.
    writeFileSync(tokenPath, 'jwt-two');
    const again = await issuer(ID);
    expect(server.calls[1]!.metadata.authorization).toBe('Bearer jwt-two');
    expect(again.keyPem).not.toBe(cert.keyPem);
  });

  it('defaults the TTL to 24h and sends no token or impersonation when not configured to', async () => {
    const server = await ca();
    const { issuer } = client({ address: `http://127.0.0.1:${server.port}`, impersonate: false });
    await issuer(ID);
    const [call] = server.calls;
    expect(call!.request.validityDuration).toBe(86400);
    expect(call!.request.metadata).toBeUndefined();
    expect(call!.metadata.authorization).toBeUndefined();
    expect(call!.metadata.clusterid).toBeUndefined();
  });

  it('refuses a leaf for another identity', async () => {
    const server = await ca();
    server.handler = async ({ request }, authority) => {
      const other = await createCsr(OTHER);
      return { certChain: await authority.sign({ csrPem: other.csrPem, identity: OTHER, ttlSeconds: request.validityDuration }) };
    };
    const registry = new Registry();
    const requests = registry.counter('ca_requests', 'test', ['result']);
    const err = await fetchError(client({ address: `http://127.0.0.1:${server.port}`, requests }).issuer(ID));
    expect(err.code).toBe('bad-response');
    expect(err.identity).toBe(ID);
    expect(err.message).toContain(OTHER);
    expect(err.message).toContain(`requested ${ID}`);
    expect(requests.get({ result: 'bad-response' })).toBe(1);
  });

  it('refuses a leaf that does not hold our key', async () => {
    const server = await ca();
    server.handler = async (_call, authority) => ({ certChain: await authority.sign({ csrPem: (await createCsr(ID)).csrPem, identity: ID }) });
    const err = await fetchError(client({ address: `http://127.0.0.1:${server.port}` }).issuer(ID));
    expect(err.code).toBe('bad-response');
    expect(err.message).toMatch(/private key does not match/);
  });

  it('refuses a one-element chain (no root)', async () => {
    const server = await ca();
    server.handler = async (call, authority) => {
      const r = await signImpersonated(call, authority);
      return 'certChain' in r ? { certChain: r.certChain.slice(0, 1) } : r;
    };
    const err = await fetchError(client({ address: `http://127.0.0.1:${server.port}` }).issuer(ID));
    expect(err.code).toBe('bad-response');
    expect(err.message).toMatch(/no root certificate present/);
  });

  it('refuses a chain that does not lead to the root bundle, and garbage elements', async () => {
    const server = await ca();
    const foreign = await createSelfSignedRoot();
    server.handler = async (call, authority) => {
      const r = await signImpersonated(call, authority);
      return 'certChain' in r ? { certChain: [r.certChain[0]!, foreign.certPem] } : r;
    };
    const { issuer } = client({ address: `http://127.0.0.1:${server.port}` });
    const err = await fetchError(issuer(ID));
    expect(err.code).toBe('bad-response');
    expect(err.message).toMatch(/does not lead to any certificate of the root bundle/);

    server.handler = async () => ({ certChain: ['not a certificate', 'neither'] });
    expect((await fetchError(issuer(ID))).code).toBe('bad-response');
  });

  it('accepts an intermediate CA chain and a root bundle with several roots', async () => {
    const root = await createSelfSignedRoot();
    const rootCa = await CertificateAuthority.create({ signer: root });
    const other = await createSelfSignedRoot();
    const intermediate = await CertificateAuthority.create({
      signer: await rootCa.issueIntermediate(),
      rootsPem: `${other.certPem}${root.certPem}`,
    });
    const server = await ca({ ca: intermediate });
    const cert = await client({ address: `http://127.0.0.1:${server.port}` }).issuer(ID);
    expect(cert.certChainPem).toHaveLength(2);
    expect(cert.rootsPem).toBe(`${other.certPem}${root.certPem}`);
  });

  it('reports an error status from the CA as rejected, carrying the status', async () => {
    const server = await ca();
    server.handler = async () => ({ error: { code: status.UNAUTHENTICATED, details: 'authenticate failure' } });
    const err = await fetchError(client({ address: `http://127.0.0.1:${server.port}` }).issuer(ID));
    expect(err.code).toBe('rejected');
    expect(err.grpcCode).toBe(status.UNAUTHENTICATED);
    expect(err.message).toContain('UNAUTHENTICATED: authenticate failure');
    expect(err.message).toContain(ID);
  });

  it('reports an unreachable CA as unavailable', async () => {
    const server = await ca();
    const port = server.port;
    server.close();
    const err = await fetchError(client({ address: `http://127.0.0.1:${port}` }).issuer(ID));
    expect(err.code).toBe('unavailable');
    expect(err.grpcCode).toBe(status.UNAVAILABLE);
  });

  it('reports a CA that does not answer in time as unavailable', async () => {
    const server = await ca();
    server.handler = () => new Promise(() => {});
    const err = await fetchError(client({ address: `http://127.0.0.1:${server.port}`, timeoutMs: 200 }).issuer(ID));
    expect(err.code).toBe('unavailable');
    expect(err.grpcCode).toBe(status.DEADLINE_EXCEEDED);
  });

  it('fails with code token when the token file cannot be read, without calling the CA', async () => {
    const server = await ca();
    const err = await fetchError(client({ address: `http://127.0.0.1:${server.port}`, tokenPath: join(dir, 'missing') }).issuer(ID));
    expect(err.code).toBe('token');
    expect(err.message).toContain(join(dir, 'missing'));
    expect(server.calls).toHaveLength(0);
  });

  it('runs at most 8 fetches at once', async () => {
    const server = await ca();
    let active = 0;
    let maxActive = 0;
    const gates: Array<() => void> = [];
    server.handler = async (call, authority) => {
      active++;
      maxActive = Math.max(maxActive, active);
      await new Promise<void>((r) => gates.push(r));
      active--;
      return signImpersonated(call, authority);
    };
    const { issuer } = client({ address: `http://127.0.0.1:${server.port}` });
    const ids = Array.from({ length: 12 }, (_, i) => `spiffe://cluster.local/ns/n${i}/sa/s`);
    const all = Promise.all(ids.map((id) => issuer(id)));
    await eventually(() => server.calls.length === 8, 'eight calls in flight');
    // Each completion admits exactly one queued fetch.
    gates.splice(0).forEach((open) => open());
    await eventually(() => server.calls.length === 12, 'the queued calls');
    gates.splice(0).forEach((open) => open());
    const certs = await all;
    expect(certs.map((c) => c.identity.namespace)).toEqual(ids.map((_, i) => `n${i}`));
    expect(maxActive).toBe(8);
  });

  it('close() fails fetches in flight with code closed', async () => {
    const server = await ca();
    server.handler = () => new Promise(() => {});
    const c = client({ address: `http://127.0.0.1:${server.port}` });
    const pending = c.issuer(ID);
    await eventually(() => server.calls.length === 1, 'the call to arrive');
    c.close();
    expect((await fetchError(pending)).code).toBe('closed');
    expect((await fetchError(c.issuer(ID))).code).toBe('closed');
  });
});

describe('createCaIssuer over TLS', () => {
  it('verifies the CA against the configured root', async () => {
    const tls = await serverCertificate([{ type: 'ip', value: '127.0.0.1' }]);
    const server = await ca({ tls });
    const cert = await client({ address: `https://127.0.0.1:${server.port}`, rootCaPem: tls.certPem }).issuer(ID);
    expect(cert.identity.serviceAccount).toBe('echo');
  });

  it('checks the alternative host name when one is set (ALT_CA_HOSTNAME)', async () => {
    const tls = await serverCertificate([{ type: 'dns', value: 'istiod.istio-system.svc' }]);
    const server = await ca({ tls });
    const cert = await client({ address: `https://127.0.0.1:${server.port}`, rootCaPem: tls.certPem, serverName: 'istiod.istio-system.svc' }).issuer(ID);
    expect(cert.identity.serviceAccount).toBe('echo');
  });

  it('with a root bundle file, a rotated root reaches new connections without a new client', async () => {
    const tls = await serverCertificate([{ type: 'ip', value: '127.0.0.1' }]);
    // Another subject: these test certificates carry no key identifiers, so OpenSSL picks the trust anchor by name.
    const other = await serverCertificate([{ type: 'ip', value: '127.0.0.1' }], 'old-root');
    const server = await ca({ tls });
    const path = join(dir, 'rotating-root.pem');
    writeFileSync(path, other.certPem);
    const roots = new RootBundleFile(path, { pollMs: 60_000 });
    try {
      const c = client({ address: `https://127.0.0.1:${server.port}`, rootCa: roots, timeoutMs: 2000 });
      expect((await fetchError(c.issuer(ID))).code).toBe('unavailable');
      // The mounted ConfigMap now carries both roots (a rotation's overlap).
      writeFileSync(path, `${other.certPem}${tls.certPem}`);
      expect(roots.reload()).toBe(true);
      await eventually(async () => (await c.issuer(ID).then(() => true, () => false)), 'a fetch verified against the new bundle');
    } finally {
      roots.close();
    }
  });

  it('treats a server certificate from another root as unavailable', async () => {
    const tls = await serverCertificate([{ type: 'ip', value: '127.0.0.1' }]);
    const wrong = await serverCertificate([{ type: 'ip', value: '127.0.0.1' }]);
    const server = await ca({ tls });
    const err = await fetchError(client({ address: `https://127.0.0.1:${server.port}`, rootCaPem: wrong.certPem }).issuer(ID));
    expect(err.code).toBe('unavailable');
    expect(server.calls).toHaveLength(0);
  });
});

describe('SecretManager with the CA client', () => {
  it('refreshes at half-life and keeps serving the valid certificate when a refresh fails', async () => {
    const server = await ca();
    // CA leaves are backdated a minute, so with a 5 s TTL half-life is already past: SecretManager
    // refreshes after its 1 s floor while the certificate stays valid for 5 s.
    const { issuer } = client({ address: `http://127.0.0.1:${server.port}`, ttlSeconds: 5 });
    const errors: CaClientError[] = [];
    const sm = new SecretManager(issuer, (_id, err) => errors.push(err as CaClientError));
    try {
      const first = await sm.get(ID);
      await eventually(async () => (await sm.get(ID)) !== first, 'a refreshed certificate');
      const second = await sm.get(ID);
      expect(server.calls.length).toBe(2);
      expect(second.notAfter.getTime()).toBeGreaterThan(first.notAfter.getTime());

      server.handler = async () => ({ error: { code: status.UNAVAILABLE, details: 'istiod restarting' } });
      await eventually(() => errors.length > 0, 'a failed refresh');
      expect(errors[0]!.code).toBe('unavailable');
      expect(second.notAfter.getTime()).toBeGreaterThan(Date.now());
      expect(await sm.get(ID)).toBe(second);
      expect(sm.dump()[0]).toMatchObject({ identity: ID, state: 'Available' });
    } finally {
      sm.close();
    }
  });
});

describe('CA client helpers', () => {
  it.each([
    ['https://istiod.istio-system.svc:15012', { target: 'istiod.istio-system.svc:15012', tls: true }],
    ['http://127.0.0.1:15010', { target: '127.0.0.1:15010', tls: false }],
    ['istiod.istio-system.svc:15012', { target: 'istiod.istio-system.svc:15012', tls: true }],
    ['https://[::1]:15012', { target: '[::1]:15012', tls: true }],
    ['https://ca.example', { target: 'ca.example:443', tls: true }],
  ])('parseCaAddress(%s)', (address, want) => {
    expect(parseCaAddress(address)).toEqual(want);
  });

  it('parseCaAddress refuses other schemes', () => {
    expect(() => parseCaAddress('unix:///tmp/ca.sock')).toThrow(/http or https/);
  });

  it('classifies statuses: transport trouble is unavailable, the rest is the CA saying no', () => {
    expect(classifyStatus(status.UNAVAILABLE)).toBe('unavailable');
    expect(classifyStatus(status.DEADLINE_EXCEEDED)).toBe('unavailable');
    expect(classifyStatus(status.UNAUTHENTICATED)).toBe('rejected');
    expect(classifyStatus(status.PERMISSION_DENIED)).toBe('rejected');
    expect(classifyStatus(status.INVALID_ARGUMENT)).toBe('rejected');
  });

  it('builds the request with or without impersonation', () => {
    expect(buildCertificateRequest(ID, 'CSR', { ttlSeconds: 60, impersonate: false })).toEqual({ csr: 'CSR', validityDuration: 60 });
    const r = buildCertificateRequest(ID, 'CSR', { ttlSeconds: 60, impersonate: true });
    expect(structToJson(r.metadata)).toEqual({ ImpersonatedIdentity: ID });
  });
});
