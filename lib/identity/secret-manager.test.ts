import { afterEach, describe, expect, it, vi } from 'vitest';
import { createTestPki } from '../hbone/test-fixtures.ts';
import { issueWorkloadCertificate, type WorkloadCertificate } from './index.ts';
import { MAX_RETRY_BACKOFF_MS, SecretManager } from './secret-manager.ts';

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

  it('current() returns the certificate in hand without fetching, and nothing once it expired', async () => {
    const pki = await createTestPki();
    let calls = 0;
    const sm = new SecretManager(async (id) => {
      calls++;
      return issueWorkloadCertificate(pki.ca, id);
    });
    expect(sm.current(ID)).toBeUndefined();
    expect(calls).toBe(0);
    const cert = await sm.get(ID);
    expect(sm.current(ID)).toBe(cert);
    sm.close();
    const expired = new SecretManager(async () => ({ ...cert, notAfter: new Date(Date.now() - 1) }));
    await expired.get(ID);
    expect(expired.current(ID)).toBeUndefined();
    expired.close();
  });

  describe('with fake timers', () => {
    afterEach(() => {
      vi.useRealTimers();
    });

    it('keeps serving the still-valid certificate while refreshes fail, then takes the next one', async () => {
      const pki = await createTestPki();
      const real = await issueWorkloadCertificate(pki.ca, ID);
      vi.useFakeTimers({ now: new Date('2030-01-01T00:00:00Z') });
      // Valid for another hour, half-life already reached: the refresh is due at once (1 s floor).
      const aged = (c: WorkloadCertificate): WorkloadCertificate => ({ ...c, notBefore: new Date(Date.now() - 3600_000), notAfter: new Date(Date.now() + 3600_000) });
      const replies: Array<() => Promise<WorkloadCertificate>> = [
        async () => aged(real),
        () => Promise.reject(new Error('CA down')),
        () => Promise.reject(new Error('CA still down')),
        async () => ({ ...real, notBefore: new Date(Date.now()), notAfter: new Date(Date.now() + 3600_000) }),
      ];
      const errors: string[] = [];
      const sm = new SecretManager(() => replies.shift()!(), (_id, e) => errors.push(e.message));
      const first = await sm.get(ID);
      await vi.advanceTimersByTimeAsync(1000);
      expect(errors).toEqual(['CA down']);
      expect(await sm.get(ID)).toBe(first);
      await vi.advanceTimersByTimeAsync(2000);
      expect(errors).toEqual(['CA down', 'CA still down']);
      expect(await sm.get(ID)).toBe(first);
      await vi.advanceTimersByTimeAsync(4000);
      const next = await sm.get(ID);
      expect(next).not.toBe(first);
      expect(replies).toHaveLength(0);
      sm.close();
    });

    it('backs off exponentially up to 150 s', async () => {
      vi.useFakeTimers({ now: new Date('2030-01-01T00:00:00Z') });
      const at: number[] = [];
      const sm = new SecretManager(() => {
        at.push(Date.now());
        return Promise.reject(new Error('CA down'));
      });
      sm.prefetch(ID);
      await vi.advanceTimersByTimeAsync(20 * 60_000);
      const gaps = at.slice(1).map((t, i) => (t - at[i]!) / 1000);
      expect(gaps.slice(0, 9)).toEqual([2, 4, 8, 16, 32, 64, 128, 150, 150]);
      expect(Math.max(...gaps)).toBe(MAX_RETRY_BACKOFF_MS / 1000);
      sm.close();
    });
  });
});
