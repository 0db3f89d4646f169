// SANs come from the certificate's DER; the peer identity is its one SPIFFE URI SAN, and certificates
// with none, several, or a non-SPIFFE one are refused. Every case uses a real signed certificate.
import { X509Certificate } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import { createSelfSignedRoot, type CaMaterial } from './ca.ts';
import { peerIdentity, peerSpiffeIdentity, spiffeIdentityStrings, subjectAltNames, uriSans } from './san.ts';
import { forgeWorkloadCertificate, type TestSan } from './test-certificates.ts';

const ONE = 'spiffe://td/ns/n/sa/one';
const TWO = 'spiffe://td/ns/n/sa/two';
let root: CaMaterial;
beforeAll(async () => {
  root = await createSelfSignedRoot({ trustDomain: 'td' });
});

async function leaf(sans: TestSan[]): Promise<X509Certificate> {
  return new X509Certificate((await forgeWorkloadCertificate(root, ONE, sans)).certChainPem[0]!);
}

describe('subject alternative names from the DER', () => {
  it('lists every SAN in certificate order, with values Node would quote kept verbatim', async () => {
    const comma = 'spiffe://td/ns/a,b/sa/s';
    const cert = await leaf([{ type: 'dns', value: 'a.example' }, { type: 'url', value: comma }, { type: 'ip', value: '10.0.0.1' }]);
    expect(subjectAltNames(cert)).toEqual([
      { type: 'dns', value: 'a.example' },
      { type: 'url', value: comma },
      { type: 'ip', value: '10.0.0.1' },
    ]);
    expect(uriSans(cert)).toEqual([comma]);
    // The same from the raw bytes.
    expect(uriSans(new Uint8Array(cert.raw))).toEqual([comma]);
  });

  it('does not mistake text inside a DNS name for a URI SAN', async () => {
    // Node renders this as `DNS:x, URI:spiffe://td/ns/n/sa/one`: a text parser would see a URI SAN.
    const cert = await leaf([{ type: 'dns', value: `x, URI:${ONE}` }]);
    expect(uriSans(cert)).toEqual([]);
    expect(peerSpiffeIdentity(cert)).toEqual({ kind: 'reject', reason: expect.stringContaining('carries no URI SAN') });
  });
});

describe('peerSpiffeIdentity', () => {
  it('accepts exactly one SPIFFE URI SAN (other SAN types do not count)', async () => {
    const cert = await leaf([{ type: 'dns', value: 'x.example' }, { type: 'url', value: ONE }]);
    expect(peerSpiffeIdentity(cert)).toEqual({ kind: 'ok', identity: { trustDomain: 'td', namespace: 'n', serviceAccount: 'one' } });
    expect(peerIdentity(cert)).toEqual({ trustDomain: 'td', namespace: 'n', serviceAccount: 'one' });
  });

  it('refuses several URI SANs, even when each is a valid SPIFFE id', async () => {
    const cert = await leaf([{ type: 'url', value: ONE }, { type: 'url', value: TWO }]);
    expect(spiffeIdentityStrings(cert)).toEqual([ONE, TWO]);
    const r = peerSpiffeIdentity(cert);
    expect(r).toEqual({ kind: 'reject', reason: `the peer certificate carries 2 URI SANs [${ONE}, ${TWO}]; an Istio workload certificate carries exactly one SPIFFE URI SAN` });
    expect(peerIdentity(cert)).toBeUndefined();
  });

  it('refuses a certificate without SANs, a non-SPIFFE URI, no certificate, and bytes that are no certificate', async () => {
    expect(peerSpiffeIdentity(await leaf([])).kind).toBe('reject');
    expect(peerSpiffeIdentity(await leaf([{ type: 'url', value: 'https://not-spiffe' }]))).toEqual({
      kind: 'reject',
      reason: expect.stringContaining('URI SAN https://not-spiffe is not a SPIFFE workload id'),
    });
    expect(peerSpiffeIdentity(undefined)).toEqual({ kind: 'reject', reason: 'the peer presented no certificate' });
    expect(peerSpiffeIdentity(new Uint8Array([0x30, 0x03, 0x02, 0x01]))).toEqual({ kind: 'reject', reason: expect.stringContaining('cannot be parsed') });
  });
});
