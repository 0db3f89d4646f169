import { beforeAll, describe, expect, it } from 'vitest';
import { CertificateAuthority, createSelfSignedRoot } from './ca.ts';
import { isExpired, needsRefresh, refreshTime, workloadCertificateFromChain } from './certificate.ts';
import { createCsr } from './csr.ts';
import { CertificateError } from './errors.ts';
import { issueWorkloadCertificate } from './local-issuer.ts';

const ID = 'spiffe://cluster.local/ns/ns1/sa/sa1';
let ca: CertificateAuthority;
beforeAll(async () => {
  ca = await CertificateAuthority.create({ signer: await createSelfSignedRoot() });
});

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (e) {
    return e instanceof CertificateError ? e.code : 'not a CertificateError';
  }
  return undefined;
}

describe('workloadCertificateFromChain', () => {
  it('splits leaf+intermediates from the root bundle and reads validity', async () => {
    const { keyPem, csrPem } = await createCsr(ID);
    const chain = await ca.sign({ csrPem, identity: ID, ttlSeconds: 7200 });
    const b = workloadCertificateFromChain(ID, keyPem, chain);
    expect(b.identity).toEqual({ trustDomain: 'cluster.local', namespace: 'ns1', serviceAccount: 'sa1' });
    expect(b.certChainPem).toEqual([chain[0]]);
    expect(b.rootsPem).toBe(ca.rootsPem);
    expect(b.notAfter.getTime() - b.notBefore.getTime()).toBeGreaterThan(7200_000);
  });

  it('refuses a one-element chain (no root), a foreign identity and a foreign key', async () => {
    const { keyPem, csrPem } = await createCsr(ID);
    const chain = await ca.sign({ csrPem, identity: ID });
    expect(codeOf(() => workloadCertificateFromChain(ID, keyPem, chain.slice(0, 1)))).toBe('NO_ROOT');
    expect(codeOf(() => workloadCertificateFromChain('spiffe://cluster.local/ns/ns1/sa/other', keyPem, chain))).toBe('IDENTITY_MISMATCH');
    const other = await createCsr(ID);
    expect(codeOf(() => workloadCertificateFromChain(ID, other.keyPem, chain))).toBe('KEY_MISMATCH');
    expect(codeOf(() => workloadCertificateFromChain(ID, keyPem, ['junk', chain[1]!]))).toBe('PEM_INVALID');
  });

  it('issueWorkloadCertificate does CSR, signing and checks in one call', async () => {
    const b = await issueWorkloadCertificate(ca, ID);
    expect(b.certChainPem).toHaveLength(1);
  });
});

describe('refresh timing', () => {
  const cert = { notBefore: new Date('2026-01-01T00:00:00Z'), notAfter: new Date('2026-01-02T00:00:00Z') };
  it('refreshes at half-life', () => {
    expect(refreshTime(cert).toISOString()).toBe('2026-01-01T12:00:00.000Z');
    expect(needsRefresh(cert, new Date('2026-01-01T11:59:59Z'))).toBe(false);
    expect(needsRefresh(cert, new Date('2026-01-01T12:00:00Z'))).toBe(true);
    expect(isExpired(cert, new Date('2026-01-01T23:59:59Z'))).toBe(false);
    expect(isExpired(cert, new Date('2026-01-02T00:00:00Z'))).toBe(true);
  });
});
