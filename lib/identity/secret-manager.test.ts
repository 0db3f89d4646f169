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

    it('refreshAll re-fetches every certificate in hand at once, serving the current ones meanwhile', async () => {
      const pki = await createTestPki();
      const real = await issueWorkloadCertificate(pki.ca, ID);
      vi.useFakeTimers({ now: new Date('2030-01-01T00:00:00Z') });
      const fresh = (): WorkloadCertificate => ({ ...real, notBefore: new Date(Date.now()), notAfter: new Date(Date.now() + 3600_000) });
      let calls = 0;
      const sm = new SecretManager(async () => (calls++, fresh()));
      const first = await sm.get(ID);
      expect(calls).toBe(1);
      // Half-life is 30 minutes away; the trust bundle changed now.
      sm.refreshAll();
      expect(sm.current(ID)).toBe(first);
      await vi.advanceTimersByTimeAsync(0);
      expect(calls).toBe(2);
      expect(sm.current(ID)).not.toBe(first);
      sm.close();
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

    it('stops asking the CA once the last holder of an identity lets go, and drops its certificate', async () => {
      vi.useFakeTimers({ now: new Date('2030-01-01T00:00:00Z') });
      let calls = 0;
      const dropped: string[] = [];
      const sm = new SecretManager(
        () => {
          calls++;
          return Promise.reject(new Error('PermissionDenied: no pod of this identity on the node'));
        },
        () => {},
        { onDropped: (id) => dropped.push(id) },
      );
      const releaseA = sm.hold(ID);
      const releaseB = sm.hold(ID);
      sm.prefetch(ID);
      await vi.advanceTimersByTimeAsync(10_000);
      const whileHeld = calls;
      expect(whileHeld).toBeGreaterThan(1); // retried while a pod of the identity is on the node
      releaseA();
      releaseA(); // idempotent: B still holds it
      expect(sm.holders(ID)).toBe(1);
      await vi.advanceTimersByTimeAsync(10_000);
      expect(calls).toBeGreaterThan(whileHeld);
      releaseB();
      expect(dropped).toEqual([ID]);
      expect(sm.dump()).toEqual([]);
      const atRelease = calls;
      await vi.advanceTimersByTimeAsync(30 * 60_000);
      expect(calls).toBe(atRelease);
      sm.close();
    });

    it('keeps nothing of a fetch that completes after the last release', async () => {
      const pki = await createTestPki();
      const real = await issueWorkloadCertificate(pki.ca, ID);
      vi.useFakeTimers({ now: new Date() });
      let answer!: (c: WorkloadCertificate) => void;
      let calls = 0;
      const sm = new SecretManager(() => {
        calls++;
        return new Promise((r) => (answer = r));
      });
      const release = sm.hold(ID);
      const got = sm.get(ID);
      release();
      answer(real);
      expect(await got).toBe(real); // the waiting caller still gets it
      expect(sm.dump()).toEqual([]);
      await vi.advanceTimersByTimeAsync(48 * 3600_000);
      expect(calls).toBe(1);
      sm.close();
    });

    it('with heldOnly, drops an identity fetched without a hold when its refresh comes due', async () => {
      const pki = await createTestPki();
      const real = await issueWorkloadCertificate(pki.ca, ID);
      vi.useFakeTimers({ now: new Date() });
      let calls = 0;
      const dropped: string[] = [];
      const sm = new SecretManager(
        async () => {
          calls++;
          return { ...real, notBefore: new Date(Date.now()), notAfter: new Date(Date.now() + 3600_000) };
        },
        () => {},
        { heldOnly: true, onDropped: (id) => dropped.push(id) },
      );
      await sm.get(ID); // e.g. a connection racing its pod's removal
      const held = 'spiffe://cluster.local/ns/b/sa/echo';
      sm.hold(held);
      await sm.get(held);
      await vi.advanceTimersByTimeAsync(31 * 60_000); // past half-life of both
      expect(dropped).toEqual([ID]);
      expect(sm.dump().map((d) => d.identity)).toEqual([held]);
      expect(calls).toBe(3); // ID once, the held one twice (fetch + refresh)
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
