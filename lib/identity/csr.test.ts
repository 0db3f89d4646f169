import { createPrivateKey } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { createCsr } from './csr.ts';
import { parseCsr } from './csr-check.ts';

describe('createCsr', () => {
  it('makes a P-256 PKCS#8 key and a signed CSR with exactly the one URI SAN', async () => {
    const { keyPem, csrPem } = await createCsr('spiffe://cluster.local/ns/a/sa/b');
    expect(keyPem).toMatch(/^-----BEGIN PRIVATE KEY-----\n[\s\S]+-----END PRIVATE KEY-----\n$/);
    const key = createPrivateKey(keyPem);
    expect(key.asymmetricKeyType).toBe('ec');
    expect(key.asymmetricKeyDetails?.namedCurve).toBe('prime256v1');
    expect(csrPem).toMatch(/^-----BEGIN CERTIFICATE REQUEST-----\n/);
    const parsed = await parseCsr(csrPem);
    expect(parsed.sans).toEqual([{ type: 'url', value: 'spiffe://cluster.local/ns/a/sa/b' }]);
  });

  it('refuses a malformed identity (caller bug)', async () => {
    await expect(createCsr('spiffe://cluster.local/a/b')).rejects.toThrow(TypeError);
  });
});
