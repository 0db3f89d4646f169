// The CA service on a real grpc-js server on loopback, with a real CertificateAuthority; TokenReview
// and the pod lookups are in-memory (the lab suite runs it against the real apiserver).
import { X509Certificate } from 'node:crypto';
import { Server, ServerCredentials, status } from '@grpc/grpc-js';
import { PassThrough } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CertificateAuthority, createCsr, createSelfSignedRoot } from '../../../lib/identity/index.ts';
import { generateP256KeyPair, signingAlgorithmFor, x509 } from '../../../lib/identity/x509.ts';
import { createLogger } from '../../../lib/log/logger.ts';
import { Registry } from '../../../lib/metrics/registry.ts';
import { istioCertificateServiceDefinition } from '../../../lib/proto/index.ts';
import type { PodFacts } from './authorize.ts';
import { createCertificateHandler, type TokenReviewResult } from './service.ts';
import { testCaClient } from './test-client.ts';

const TOKENS: Record<string, TokenReviewResult> = {
  'ztunnel-node1': { authenticated: true, username: 'system:serviceaccount:istio-system:ztunnel', extra: { 'authentication.kubernetes.io/pod-name': ['ztunnel-node1'], 'authentication.kubernetes.io/pod-uid': ['zt1'] } },
  'ztunnel-node2': { authenticated: true, username: 'system:serviceaccount:istio-system:ztunnel', extra: { 'authentication.kubernetes.io/pod-name': ['ztunnel-node2'], 'authentication.kubernetes.io/pod-uid': ['zt2'] } },
  sleep: { authenticated: true, username: 'system:serviceaccount:app:sleep' },
};
const PODS: PodFacts[] = [
  { uid: 'zt1', namespace: 'istio-system', serviceAccount: 'ztunnel', nodeName: 'node1', phase: 'Running' },
  { uid: 'zt2', namespace: 'istio-system', serviceAccount: 'ztunnel', nodeName: 'node2', phase: 'Running' },
  { uid: 's1', namespace: 'app', serviceAccount: 'sleep', nodeName: 'node1', phase: 'Running' },
];
const podNames: Record<string, string> = { zt1: 'ztunnel-node1', zt2: 'ztunnel-node2', s1: 'sleep-1' };

describe('CA service', () => {
  const server = new Server();
  const registry = new Registry();
  let client: ReturnType<typeof testCaClient>;

  beforeAll(async () => {
    const ca = await CertificateAuthority.create({ signer: await createSelfSignedRoot() });
    server.addService(istioCertificateServiceDefinition, {
      CreateCertificate: createCertificateHandler({
        ca: () => ca,
        reviewToken: async (t) => TOKENS[t] ?? { authenticated: false, error: 'unknown token' },
        getPod: (ns, name) => PODS.find((p) => p.namespace === ns && podNames[p.uid] === name),
        podsOnNode: (n) => PODS.filter((p) => p.nodeName === n),
        trustDomain: 'cluster.local',
        trustedNodeAccounts: new Set(['istio-system/ztunnel']),
        log: createLogger({ component: 'test', destination: new PassThrough() }),
        registry,
      }),
    });
    const port = await new Promise<number>((r, j) => server.bindAsync('127.0.0.1:0', ServerCredentials.createInsecure(), (e, p) => (e ? j(e) : r(p))));
    client = testCaClient(`127.0.0.1:${port}`);
  });

  afterAll(() => {
    client?.close();
    server.forceShutdown();
  });

  const ask = (token: string | undefined, csr: string, impersonated?: string) => client.ask(token, csr, impersonated);
  const sanOf = (pem: string) => new X509Certificate(pem).subjectAltName;

  it('signs a caller its own identity, and a node proxy the identity of a pod on its node', async () => {
    const own = await ask('sleep', (await createCsr('spiffe://cluster.local/ns/app/sa/sleep')).csrPem);
    expect(sanOf(own.chain![0]!)).toBe('URI:spiffe://cluster.local/ns/app/sa/sleep');
    const imp = await ask('ztunnel-node1', (await createCsr('spiffe://cluster.local/ns/app/sa/sleep')).csrPem, 'spiffe://cluster.local/ns/app/sa/sleep');
    expect(sanOf(imp.chain![0]!)).toBe('URI:spiffe://cluster.local/ns/app/sa/sleep');
    expect(imp.chain).toHaveLength(2);
  });

  it('refuses another node\'s ztunnel asking for an identity with no pod on its node', async () => {
    const r = await ask('ztunnel-node2', (await createCsr('spiffe://cluster.local/ns/app/sa/sleep')).csrPem, 'spiffe://cluster.local/ns/app/sa/sleep');
    expect(r).toEqual({ code: status.UNAUTHENTICATED, details: 'request refused' });
  });

  it('refuses a service account asking for a different identity', async () => {
    const r = await ask('sleep', (await createCsr('spiffe://cluster.local/ns/app/sa/echo')).csrPem);
    expect(r).toEqual({ code: status.UNAUTHENTICATED, details: 'request refused' });
    const imp = await ask('sleep', (await createCsr('spiffe://cluster.local/ns/app/sa/echo')).csrPem, 'spiffe://cluster.local/ns/app/sa/echo');
    expect(imp.code).toBe(status.UNAUTHENTICATED);
  });

  it('refuses a malformed CSR and a CSR with several SANs', async () => {
    expect(await ask('sleep', '-----BEGIN CERTIFICATE REQUEST-----\nnope\n-----END CERTIFICATE REQUEST-----\n')).toEqual({ code: status.INVALID_ARGUMENT, details: 'invalid certificate request' });
    const keys = await generateP256KeyPair();
    const two = await x509.Pkcs10CertificateRequestGenerator.create({
      keys, signingAlgorithm: signingAlgorithmFor(keys.privateKey),
      extensions: [new x509.SubjectAlternativeNameExtension([{ type: 'url', value: 'spiffe://cluster.local/ns/app/sa/sleep' }, { type: 'url', value: 'spiffe://cluster.local/ns/app/sa/other' }])],
    });
    expect(await ask('sleep', two.toString('pem'))).toEqual({ code: status.INVALID_ARGUMENT, details: 'invalid certificate request' });
  });

  it('refuses missing and unknown tokens, and counts every refusal by reason', async () => {
    const csr = (await createCsr('spiffe://cluster.local/ns/app/sa/sleep')).csrPem;
    expect((await ask(undefined, csr)).code).toBe(status.UNAUTHENTICATED);
    expect((await ask('forged', csr)).code).toBe(status.UNAUTHENTICATED);
    const m = registry.render();
    expect(m).toMatch(/^istio_ca_rejections_total\{reason="no_token"\} 1$/m);
    expect(m).toMatch(/^istio_ca_rejections_total\{reason="token_invalid"\} 1$/m);
    expect(m).toMatch(/^istio_ca_rejections_total\{reason="not_authorized"\} 2$/m);
    expect(m).toMatch(/^istio_ca_rejections_total\{reason="san_count"\} 1$/m);
    expect(m).toMatch(/^citadel_server_success_cert_issuance_count 2$/m);
  });
});
