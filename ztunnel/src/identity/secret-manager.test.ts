import { describe, expect, it } from 'vitest';
import { createTestPki } from '../../../lib/hbone/test-fixtures.ts';
import { issueWorkloadCertificate } from '../../../lib/identity/index.ts';
import { SecretManager } from './secret-manager.ts';

const ID = 'spiffe://cluster.local/ns/a/sa/sleep';

describe('SecretManager', () => {
  it('fetches once for concurrent callers and dumps the chain', async () => {
    const pki = await createTestPki();
    let calls = 0;
    const sm = new SecretManager(async (id) => {
      calls++;
      return issueWorkloadCertificate(pki.ca, id);
    });
    const [a, b] = await Promise.all([sm.get(ID), sm.get(ID)]);
    expect(a).toBe(b);
    expect(calls).toBe(1);
    const dump = sm.dump();
    expect(dump[0]).toMatchObject({ identity: ID, state: 'Available' });
    expect(dump[0]!.certChain.length).toBeGreaterThan(0);
    sm.close();
  });

  it('reports failures and keeps the identity Unavailable', async () => {
    const errors: string[] = [];
    const sm = new SecretManager(() => Promise.reject(new Error('CA down')), (_id, e) => errors.push(e.message));
    await expect(sm.get(ID)).rejects.toThrow('CA down');
    expect(errors).toEqual(['CA down']);
    expect(sm.dump()[0]).toMatchObject({ state: 'Unavailable', certChain: [] });
    sm.close();
  });
});
