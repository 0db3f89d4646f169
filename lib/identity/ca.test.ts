import { X509Certificate } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import { CertificateAuthority, createSelfSignedRoot, leafValidity, type CaMaterial } from './ca.ts';
import { checkCsrSans } from './csr-check.ts';
import { createCsr } from './csr.ts';
import { CaError } from './errors.ts';
import { generateP256KeyPair, signingAlgorithmFor, x509 } from './x509.ts';

const ID = 'spiffe://cluster.local/ns/default/sa/app';

async function csrWithSans(names: { type: 'url' | 'dns'; value: string }[]): Promise<string> {
  const keys = await generateP256KeyPair();
  const csr = await x509.Pkcs10CertificateRequestGenerator.create({
    keys,
    signingAlgorithm: signingAlgorithmFor(keys.privateKey),
    extensions: names.length ? [new x509.SubjectAlternativeNameExtension(names)] : [],
  });
  return csr.toString('pem');
}

async function expectCaError(p: Promise<unknown>, code: CaError['code']): Promise<void> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(CaError);
  expect((err as CaError).code).toBe(code);
}

let root: CaMaterial;
let ca: CertificateAuthority;
beforeAll(async () => {
  root = await createSelfSignedRoot();
  ca = await CertificateAuthority.create({ signer: root });
});

describe('CertificateAuthority.sign', () => {
  it('issues a 24 h leaf with the SPIFFE URI SAN, TLS client+server usage, root last', async () => {
    const { csrPem } = await createCsr(ID);
    const before = Date.now();
    const chain = await ca.sign({ csrPem, identity: ID });
    expect(chain).toHaveLength(2);
    for (const pem of chain) expect(pem.endsWith('\n')).toBe(true);
    const leaf = new X509Certificate(chain[0]!);
    const rootCert = new X509Certificate(chain[1]!);
    expect(chain[1]).toBe(ca.rootsPem);
    expect(leaf.subjectAltName).toBe(`URI:${ID}`);
    expect(leaf.ca).toBe(false);
    expect(leaf.keyUsage).toEqual(expect.arrayContaining(['1.3.6.1.5.5.7.3.1', '1.3.6.1.5.5.7.3.2']));
    expect(leaf.checkIssued(rootCert)).toBe(true);
    expect(leaf.verify(rootCert.publicKey)).toBe(true);
    const ttl = leaf.validToDate.getTime() - before;
    expect(ttl).toBeGreaterThan(24 * 3600_000 - 5_000);
    expect(ttl).toBeLessThanOrEqual(24 * 3600_000 + 1_000);
    expect(rootCert.ca).toBe(true);
    expect(rootCert.subject).toBe('O=cluster.local');
  });

  it('honours a requested TTL', async () => {
    const { csrPem } = await createCsr(ID);
    const now = new Date();
    const leaf = new X509Certificate((await ca.sign({ csrPem, identity: ID, ttlSeconds: 3600, now }))[0]!);
    expect(Math.abs(leaf.validToDate.getTime() - (now.getTime() + 3600_000))).toBeLessThan(1000);
  });

  it('returns leaf, intermediate, root bundle when signing with an intermediate', async () => {
    const inter = await ca.issueIntermediate();
    const ica = await CertificateAuthority.create({ signer: inter, rootsPem: ca.rootsPem });
    const { csrPem } = await createCsr(ID);
    const chain = await ica.sign({ csrPem, identity: ID });
    expect(chain).toHaveLength(3);
    const [leaf, mid, top] = chain.map((p) => new X509Certificate(p));
    expect(leaf!.checkIssued(mid!)).toBe(true);
    expect(mid!.checkIssued(top!)).toBe(true);
    expect(mid!.ca).toBe(true);
    expect(chain[2]).toBe(ca.rootsPem);
  });

  it('hands out a multi-root bundle as one last element (root rotation)', async () => {
    const other = await createSelfSignedRoot();
    const both = root.certPem + other.certPem;
    const rotating = await CertificateAuthority.create({ signer: root, rootsPem: both });
    const { csrPem } = await createCsr(ID);
    const chain = await rotating.sign({ csrPem, identity: ID });
    expect(chain).toHaveLength(2);
    expect(chain[1]).toBe(both);
  });

  it('rejects a malformed CSR', async () => {
    await expectCaError(ca.sign({ csrPem: 'not a csr', identity: ID }), 'CSR_INVALID');
    await expectCaError(ca.sign({ csrPem: '-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----\n', identity: ID }), 'CSR_INVALID');
  });

  it('rejects a CSR whose signature does not verify', async () => {
    const { csrPem } = await createCsr(ID);
    const der = Buffer.from(csrPem.replace(/-----[A-Z ]+-----|\s/g, ''), 'base64');
    der[der.length - 1]! ^= 0x01; // last byte of the ECDSA signature
    const tampered = `-----BEGIN CERTIFICATE REQUEST-----\n${der.toString('base64')}\n-----END CERTIFICATE REQUEST-----\n`;
    await expectCaError(ca.sign({ csrPem: tampered, identity: ID }), 'CSR_INVALID');
  });

  it('rejects a CSR with two SANs, or none', async () => {
    await expectCaError(ca.sign({ csrPem: await csrWithSans([{ type: 'url', value: ID }, { type: 'url', value: 'spiffe://cluster.local/ns/default/sa/other' }]), identity: ID }), 'SAN_COUNT');
    await expectCaError(ca.sign({ csrPem: await csrWithSans([{ type: 'url', value: ID }, { type: 'dns', value: 'app.default.svc' }]), identity: ID }), 'SAN_COUNT');
    await expectCaError(ca.sign({ csrPem: await csrWithSans([]), identity: ID }), 'SAN_COUNT');
  });

  it('rejects a SAN that is not a SPIFFE workload id', async () => {
    await expectCaError(ca.sign({ csrPem: await csrWithSans([{ type: 'dns', value: 'app.default.svc' }]), identity: ID }), 'SAN_NOT_SPIFFE');
    await expectCaError(ca.sign({ csrPem: await csrWithSans([{ type: 'url', value: 'spiffe://cluster.local/app' }]), identity: ID }), 'SAN_NOT_SPIFFE');
  });

  it('rejects a CSR for another identity or trust domain', async () => {
    const { csrPem } = await createCsr('spiffe://cluster.local/ns/default/sa/admin');
    await expectCaError(ca.sign({ csrPem, identity: ID }), 'IDENTITY_MISMATCH');
    const foreign = 'spiffe://other.domain/ns/default/sa/app';
    await expectCaError(ca.sign({ csrPem: (await createCsr(foreign)).csrPem, identity: foreign }), 'TRUST_DOMAIN_MISMATCH');
  });
});

describe('CertificateAuthority.create', () => {
  it('refuses a signer that is not a CA, a key that does not match, or an intermediate without roots', async () => {
    const { csrPem, keyPem } = await createCsr(ID);
    const leafPem = (await ca.sign({ csrPem, identity: ID }))[0]!;
    await expectCaError(CertificateAuthority.create({ signer: { certPem: leafPem, keyPem } }), 'CA_INVALID');
    const other = await createSelfSignedRoot();
    await expectCaError(CertificateAuthority.create({ signer: { certPem: root.certPem, keyPem: other.keyPem } }), 'CA_INVALID');
    await expectCaError(CertificateAuthority.create({ signer: await ca.issueIntermediate() }), 'CA_INVALID');
    await expectCaError(CertificateAuthority.create({ signer: { certPem: 'junk', keyPem: 'junk' } }), 'CA_INVALID');
  });
});

describe('leafValidity', () => {
  const now = new Date('2026-01-01T00:00:00Z');
  const limits = { defaultTtlSeconds: 86400, maxTtlSeconds: 7 * 86400, signerNotAfter: new Date('2027-01-01T00:00:00Z') };
  it.each([
    [undefined, 86400],
    [0, 86400],
    [-5, 86400],
    [3600, 3600],
    [30 * 86400, 7 * 86400],
  ])('requested %s s → %s s', (requested, want) => {
    const v = leafValidity(now, requested, limits);
    expect(v.notAfter.getTime() - now.getTime()).toBe(want * 1000);
    expect(v.notBefore.getTime()).toBeLessThan(now.getTime());
  });

  it('never outlives the signer', () => {
    const v = leafValidity(now, 86400, { ...limits, signerNotAfter: new Date('2026-01-01T01:00:00Z') });
    expect(v.notAfter.toISOString()).toBe('2026-01-01T01:00:00.000Z');
  });
});

describe('checkCsrSans', () => {
  it.each([
    [[{ type: 'url', value: ID }], 'ok'],
    [[], 'SAN_COUNT'],
    [[{ type: 'url', value: ID }, { type: 'url', value: ID }], 'SAN_COUNT'],
    [[{ type: 'ip', value: '10.0.0.1' }], 'SAN_NOT_SPIFFE'],
    [[{ type: 'url', value: 'spiffe://cluster.local/ns/default/sa/other' }], 'IDENTITY_MISMATCH'],
  ])('%j → %s', (sans, want) => {
    const d = checkCsrSans(sans, ID, 'cluster.local');
    expect(d.kind === 'ok' ? 'ok' : d.error.code).toBe(want);
  });
});

describe('serving certificates', () => {
  it('carries the DNS and IP names and the SPIFFE id, and chains to the root', async () => {
    const root = await createSelfSignedRoot();
    const ca = await CertificateAuthority.create({ signer: root });
    const s = await ca.issueServingCertificate({ dnsNames: ['istiod.istio-system.svc'], ipAddresses: ['127.0.0.1'], spiffeId: 'spiffe://cluster.local/ns/istio-system/sa/istiod' });
    const leaf = new X509Certificate(s.certChainPem);
    expect(leaf.subjectAltName).toBe('DNS:istiod.istio-system.svc, IP Address:127.0.0.1, URI:spiffe://cluster.local/ns/istio-system/sa/istiod');
    expect(leaf.checkIssued(new X509Certificate(root.certPem))).toBe(true);
    expect(leaf.ca).toBe(false);
  });
});
