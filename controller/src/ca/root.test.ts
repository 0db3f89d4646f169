import { X509Certificate } from 'node:crypto';
import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { CertificateAuthority, createCsr, createSelfSignedRoot } from '../../../lib/identity/index.ts';
import { createLogger } from '../../../lib/log/logger.ts';
import { loadCa, type SecretStore } from './root.ts';

const log = createLogger({ component: 'test', destination: new PassThrough() });

function memoryStore(initial: Record<string, Record<string, string>> = {}): SecretStore & { secrets: typeof initial; creates: number } {
  const s = {
    secrets: { ...initial },
    creates: 0,
    get: async (ns: string, name: string) => s.secrets[`${ns}/${name}`],
    create: async (ns: string, name: string, data: Record<string, string>) => {
      s.creates++;
      if (s.secrets[`${ns}/${name}`]) return false;
      s.secrets[`${ns}/${name}`] = data;
      return true;
    },
  };
  return s;
}

const sign = async (ca: CertificateAuthority) => ca.sign({ csrPem: (await createCsr('spiffe://cluster.local/ns/a/sa/b')).csrPem, identity: 'spiffe://cluster.local/ns/a/sa/b' });

describe('loadCa', () => {
  it('creates the self-signed root at first start, then reuses it', async () => {
    const store = memoryStore();
    const first = await loadCa(store, { namespace: 'istio-system', trustDomain: 'cluster.local', log });
    expect(first.source).toBe('created');
    expect(store.secrets['istio-system/istio-ca-secret']?.['ca-key.pem']).toContain('PRIVATE KEY');
    const again = await loadCa(store, { namespace: 'istio-system', trustDomain: 'cluster.local', log });
    expect(again.source).toBe('istio-ca-secret');
    expect(again.rootPem).toBe(first.rootPem);
  });

  it('reads the winner when another replica created the root first', async () => {
    const root = await createSelfSignedRoot();
    const store = memoryStore();
    const racing = { ...store, get: async (ns: string, name: string) => (store.creates ? { 'ca-cert.pem': root.certPem, 'ca-key.pem': root.keyPem } : undefined), create: async () => ((store.creates = 1), false) };
    const loaded = await loadCa(racing, { namespace: 'istio-system', trustDomain: 'cluster.local', log });
    expect(loaded.rootPem.trim()).toBe(root.certPem.trim());
  });

  it('prefers a plug-in cacerts Secret: leaves are signed by the intermediate, the chain ends in its root', async () => {
    const root = await createSelfSignedRoot();
    const rootCa = await CertificateAuthority.create({ signer: root });
    const inter = await rootCa.issueIntermediate();
    const store = memoryStore({
      'istio-system/cacerts': { 'ca-cert.pem': inter.certPem, 'ca-key.pem': inter.keyPem, 'root-cert.pem': root.certPem, 'cert-chain.pem': `${inter.certPem}${root.certPem}` },
      'istio-system/istio-ca-secret': { 'ca-cert.pem': 'ignored', 'ca-key.pem': 'ignored' },
    });
    const loaded = await loadCa(store, { namespace: 'istio-system', trustDomain: 'cluster.local', log });
    expect(loaded.source).toBe('cacerts');
    const chain = await sign(loaded.ca);
    expect(chain).toHaveLength(3);
    expect(new X509Certificate(chain[0]!).checkIssued(new X509Certificate(inter.certPem))).toBe(true);
    expect(chain[2]!.trim()).toBe(root.certPem.trim());
  });

  it('names what is missing in a broken cacerts Secret', async () => {
    const store = memoryStore({ 'istio-system/cacerts': { 'ca-cert.pem': 'x' } });
    await expect(loadCa(store, { namespace: 'istio-system', trustDomain: 'cluster.local', log })).rejects.toThrow('Secret cacerts has no root-cert.pem');
  });
});
