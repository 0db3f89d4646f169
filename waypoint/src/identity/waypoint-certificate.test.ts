import { PassThrough } from 'node:stream';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { createTestPki } from '../../../lib/hbone/test-fixtures.ts';
import { issueWorkloadCertificate, type WorkloadCertificate } from '../../../lib/identity/index.ts';
import { createLogger } from '../../../lib/log/logger.ts';
import { Registry } from '../../../lib/metrics/registry.ts';
import { startWaypointCertificate, waypointCaClient } from './waypoint-certificate.ts';

const ID = 'spiffe://cluster.local/ns/bookinfo/sa/waypoint';

function quietLog() {
  const out = new PassThrough();
  const lines: string[] = [];
  out.on('data', (b: Buffer) => lines.push(...b.toString().split('\n').filter(Boolean)));
  return { log: createLogger({ component: 'waypoint', destination: out }), lines };
}

describe('startWaypointCertificate', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('retries with backoff until the CA answers, then serves the certificate', async () => {
    const pki = await createTestPki();
    const real = await issueWorkloadCertificate(pki.ca, ID);
    vi.useFakeTimers({ now: new Date() });
    const asked: string[] = [];
    const replies: Array<() => Promise<WorkloadCertificate>> = [() => Promise.reject(new Error('CA down')), () => Promise.reject(new Error('CA down')), async () => real];
    const { log, lines } = quietLog();
    const wc = startWaypointCertificate({ identity: ID, log, issuer: (id) => (asked.push(id), replies.shift()!()) });
    let got: WorkloadCertificate | undefined;
    void wc.first().then((c) => (got = c));
    await vi.advanceTimersByTimeAsync(0);
    expect(wc.current()).toBeUndefined();
    expect(wc.dump()).toMatchObject([{ identity: ID, state: 'Unavailable' }]);
    await vi.advanceTimersByTimeAsync(2000);
    expect(got).toBeUndefined();
    await vi.advanceTimersByTimeAsync(4000);
    expect(got).toBe(real);
    expect(wc.current()).toBe(real);
    expect(asked).toEqual([ID, ID, ID]);
    expect(lines.filter((l) => l.includes('certificate fetch failed'))).toHaveLength(2);
    expect(lines.some((l) => JSON.parse(l).msg === 'certificate issued')).toBe(true);
    wc.close();
  });

  it('close() before a certificate rejects first()', async () => {
    const { log } = quietLog();
    const wc = startWaypointCertificate({ identity: ID, log, issuer: () => new Promise(() => {}) });
    wc.close();
    await expect(wc.first()).rejects.toThrow(/closed/);
  });
});

describe('waypointCaClient', () => {
  it('names the missing root bundle of an https CA', () => {
    expect(() =>
      waypointCaClient({ caAddress: 'https://istiod:15012', caRootCaPath: '/nonexistent/root-cert.pem', authTokenPath: '/t', clusterId: 'Kubernetes', secretTtlS: 60 }, new Registry()),
    ).toThrow(/CA_ROOT_CA \/nonexistent\/root-cert.pem/);
  });

  it('needs no root bundle for a plaintext CA', () => {
    const c = waypointCaClient({ caAddress: 'http://127.0.0.1:1', caRootCaPath: '/nonexistent', authTokenPath: '/t', clusterId: 'Kubernetes', secretTtlS: 60 }, new Registry());
    c.close();
  });
});
