// istio.v1.auth CA messages: csr 1, validity_duration 3 (int64 seconds), metadata 4 (Struct),
// cert_chain 1.
import { describe, expect, it } from 'vitest';
import { IMPERSONATED_IDENTITY, istioCertificateRequestCodec, istioCertificateResponseCodec, structFromJson, structToJson } from './index.ts';
import { cat, hex, lenField, varintField } from './test-wire.ts';

describe('istio.v1.auth', () => {
  it('round-trips a request with impersonation metadata', () => {
    const req = { csr: '-----BEGIN CERTIFICATE REQUEST-----\n…', validityDuration: 86400, metadata: structFromJson({ [IMPERSONATED_IDENTITY]: 'spiffe://cluster.local/ns/default/sa/echo' }) };
    const r = istioCertificateRequestCodec.decode(istioCertificateRequestCodec.encode(req));
    expect(r.ok && r.value).toEqual(req);
    expect(r.ok && structToJson(r.value.metadata)).toEqual({ ImpersonatedIdentity: 'spiffe://cluster.local/ns/default/sa/echo' });
  });

  it('puts csr in 1 and validity_duration in 3 as a varint', () => {
    expect(hex(istioCertificateRequestCodec.encode({ csr: 'C', validityDuration: 86400 }))).toBe(hex(cat(lenField(1, 'C'), varintField(3, 86400))));
  });

  it('decodes an int64 lifetime beyond 32 bits as a number', () => {
    const r = istioCertificateRequestCodec.decode(varintField(3, 2 ** 40));
    expect(r.ok && r.value.validityDuration).toBe(2 ** 40);
  });

  it('cert_chain is repeated string 1, order kept (root last)', () => {
    const bytes = cat(lenField(1, 'leaf'), lenField(1, 'intermediate'), lenField(1, 'root'));
    expect(istioCertificateResponseCodec.decode(bytes)).toEqual({ ok: true, value: { certChain: ['leaf', 'intermediate', 'root'] } });
    expect(hex(istioCertificateResponseCodec.encode({ certChain: ['leaf', 'intermediate', 'root'] }))).toBe(hex(bytes));
  });
});
