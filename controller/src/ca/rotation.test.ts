import { X509Certificate } from 'node:crypto';
import { PassThrough } from 'node:stream';
import { beforeAll, describe, expect, it } from 'vitest';
import { CertificateAuthority, createCsr, createSelfSignedRoot, splitPemCertificates, type CaMaterial } from '../../../lib/identity/index.ts';
import { createLogger } from '../../../lib/log/logger.ts';
import { Registry } from '../../../lib/metrics/registry.ts';
import type { LoadedCa } from './root.ts';
import { CaRotation, type RotationChange } from './rotation.ts';

const log = createLogger({ component: 'test', destination: new PassThrough() });
const ID = 'spiffe://cluster.local/ns/a/sa/b';
const SPREAD = 60_000;
const RETIRE = 120_000;

async function loaded(signer: CaMaterial, rootPem = signer.certPem, intermediatesPem: string[] = []): Promise<LoadedCa> {
  const material = { signer, rootsPem: rootPem, intermediatesPem, trustDomain: 'cluster.local' };
  const ca = await CertificateAuthority.create(material);
  return { ca, source: 'cacerts', rootPem: ca.rootsPem, material };
}

const fp = (pem: string) => new X509Certificate(pem).fingerprint256;
const bundleFps = (r: CaRotation) => splitPemCertificates(r.bundlePem).map(fp);
/** The leaf of a freshly signed chain (30 s, well inside RETIRE) and the bundle it ends with. */
async function issue(r: CaRotation): Promise<{ leaf: X509Certificate; roots: string[] }> {
  const chain = await r.sign({ csrPem: (await createCsr(ID)).csrPem, identity: ID, ttlSeconds: 30 });
  return { leaf: new X509Certificate(chain[0]!), roots: splitPemCertificates(chain[chain.length - 1]!).map(fp) };
}
const signedBy = (leaf: X509Certificate, root: CaMaterial) => leaf.checkIssued(new X509Certificate(root.certPem)) && leaf.verify(new X509Certificate(root.certPem).publicKey);

describe('CaRotation', () => {
  let r1: CaMaterial;
  let r2: CaMaterial;
  beforeAll(async () => {
    [r1, r2] = await Promise.all([createSelfSignedRoot(), createSelfSignedRoot()]);
  });

  function start(initial: LoadedCa, published?: string) {
    // The fake clock starts at the real time: leaves get real validity windows.
    let now = Date.now();
    const changes: RotationChange[] = [];
    const registry = new Registry();
    return CaRotation.create(initial, { spreadMs: SPREAD, retireMs: RETIRE, log, registry, now: () => now }, published).then((r) => {
      r.onChange((c) => changes.push(c));
      return { r, changes, registry, advance: (ms: number) => (now += ms) };
    });
  }

  it('trusts a new signer\'s root first, switches after the spread, retires the old root after its leaves', async () => {
    const { r, changes, registry, advance } = await start(await loaded(r1));
    expect(bundleFps(r)).toEqual([fp(r1.certPem)]);

    expect(await r.offer(await loaded(r2))).toBe('spreading');
    expect(r.phase).toBe('spreading');
    // Both roots trusted and handed out, the old signer still signs.
    expect(new Set(bundleFps(r))).toEqual(new Set([fp(r1.certPem), fp(r2.certPem)]));
    let cert = await issue(r);
    expect(signedBy(cert.leaf, r1)).toBe(true);
    expect(new Set(cert.roots)).toEqual(new Set([fp(r1.certPem), fp(r2.certPem)]));
    expect(changes.at(-1)).toEqual({ bundleChanged: true, signerChanged: false });

    advance(SPREAD - 1);
    await r.tick();
    expect(r.phase).toBe('spreading');
    advance(1);
    await r.tick();
    expect(r.phase).toBe('steady');
    expect(changes.at(-1)).toEqual({ bundleChanged: true, signerChanged: true });
    cert = await issue(r);
    expect(signedBy(cert.leaf, r2)).toBe(true);
    // The new root leads the bundle; the old one stays while r1's leaves can be alive.
    expect(bundleFps(r)).toEqual([fp(r2.certPem), fp(r1.certPem)]);

    advance(RETIRE - 1);
    await r.tick();
    expect(bundleFps(r)).toHaveLength(2);
    advance(1);
    await r.tick();
    expect(bundleFps(r)).toEqual([fp(r2.certPem)]);
    const metrics = registry.render();
    expect(metrics).toMatch(/^istio_ca_root_rotation_events_total\{event="signer_switched"\} 1$/m);
    expect(metrics).toMatch(/^istio_ca_root_rotation_events_total\{event="root_retired"\} 1$/m);
    expect(metrics).toMatch(/^istio_ca_trusted_roots 1$/m);
  });

  it('keeps an old root until the last leaf its signer issued has expired, when that is later than the retire period', async () => {
    const { r, advance } = await start(await loaded(r1));
    await r.sign({ csrPem: (await createCsr(ID)).csrPem, identity: ID, ttlSeconds: 24 * 3600 });
    await r.offer(await loaded(r2));
    advance(SPREAD);
    await r.tick();
    advance(RETIRE);
    await r.tick();
    // The 24 h leaf signed by r1 is still valid (the fake clock is far behind its notAfter).
    expect(bundleFps(r)).toContain(fp(r1.certPem));
  });

  it('switches at once to a signer whose root has been trusted for the spread (Istio\'s manual steps)', async () => {
    const { r, advance } = await start(await loaded(r1));
    // Step 1: the old signer with a bundle holding both roots.
    expect(await r.offer(await loaded(r1, `${r1.certPem}${r2.certPem}`))).toBe('roots-changed');
    expect(new Set(bundleFps(r))).toEqual(new Set([fp(r1.certPem), fp(r2.certPem)]));
    advance(SPREAD);
    // Step 2: an intermediate of the new root signs, the bundle still both.
    const inter = await (await CertificateAuthority.create({ signer: r2 })).issueIntermediate();
    expect(await r.offer(await loaded(inter, `${r1.certPem}${r2.certPem}`, []))).toBe('switched');
    const cert = await issue(r);
    expect(cert.leaf.checkIssued(new X509Certificate(inter.certPem))).toBe(true);
  });

  it('withdrawing new material before it signs keeps the old signer and drops the new root', async () => {
    const { r } = await start(await loaded(r1));
    await r.offer(await loaded(r2));
    expect(await r.offer(await loaded(r1))).toBe('roots-changed');
    expect(r.phase).toBe('steady');
    expect(bundleFps(r)).toEqual([fp(r1.certPem)]);
    expect(signedBy((await issue(r)).leaf, r1)).toBe(true);
  });

  it('after a restart, roots of the published bundle the material lacks stay trusted until retired', async () => {
    const { r, advance } = await start(await loaded(r2), `${r1.certPem}${r2.certPem}`);
    expect(bundleFps(r)).toEqual([fp(r2.certPem), fp(r1.certPem)]);
    advance(RETIRE);
    await r.tick();
    expect(bundleFps(r)).toEqual([fp(r2.certPem)]);
  });

  it('reports an unchanged offer as unchanged', async () => {
    const first = await loaded(r1);
    const { r, changes } = await start(first);
    expect(await r.offer(await loaded(r1))).toBe('unchanged');
    expect(changes).toEqual([]);
  });
});
