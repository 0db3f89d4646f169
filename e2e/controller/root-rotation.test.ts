// Root rotation under load (root, lab): the mesh runs on the controller's self-signed root (R1);
// an operator creates a `cacerts` Secret with another root (R2). Without a restart the controller
// first trusts both (the published istio-ca-root-cert carries both, every chain ends with both)
// while R1 still signs, then switches to R2 (workload and 15012 certificates from R2), then retires
// R1. The ztunnels reload the published bundle from their root file. New connections between two
// pods on different nodes run the whole time, and every one of them gets its reply.
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect as tlsConnect } from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSelfSignedRoot, splitPemCertificates, type CaMaterial } from '../../lib/identity/index.ts';
import { down, kubectlSync, up } from '../lab/lab.ts';
import { pollUntil } from '../lab/poll.ts';
import type { LabState } from '../lab/state.ts';
import { LabMesh } from '../ztunnel/lab-mesh.ts';
import { requireRoot, talk } from '../ztunnel/netns-harness.ts';
import { deploySleepEcho } from '../lab/sleep-echo.ts';

const NS = 'rotate-a';
/** The load's bounds: it stops by itself after this many connections or this long. */
const LOAD_MAX_CONNECTIONS = 5000;
const LOAD_MAX_MS = 150_000;

interface CertDump { certificates: { identity: string; state: string; certChain: { pem: string }[] }[] }

const fingerprints = (bundle: string) => splitPemCertificates(bundle).map((p) => new X509Certificate(p).fingerprint256).sort();
const issuedBy = (pem: string, root: CaMaterial) => {
  const leaf = new X509Certificate(pem);
  const r = new X509Certificate(root.certPem);
  return leaf.checkIssued(r) && leaf.verify(r.publicKey);
};

/** The leaf a fresh TLS handshake to the controller's 15012 is served (PEM). */
function servedLeaf(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = tlsConnect({ host: '127.0.0.1', port, rejectUnauthorized: false, ALPNProtocols: ['h2'] }, () => {
      const cert = s.getPeerX509Certificate();
      s.destroy();
      cert ? resolve(cert.toString()) : reject(new Error('no peer certificate'));
    });
    s.on('error', reject);
  });
}

describe('root rotation without a restart and without a failed connection (root)', () => {
  let lab: LabState;
  let mesh: LabMesh;
  let dir: string;
  let pair: Awaited<ReturnType<typeof deploySleepEcho>>;
  const published = () => kubectlSync(lab, ['get', 'configmap', '-n', NS, 'istio-ca-root-cert', '-o', 'jsonpath={.data.root-cert\\.pem}']).stdout;

  beforeAll(async () => {
    requireRoot('e2e/controller/root-rotation.test.ts');
    dir = mkdtempSync(join(tmpdir(), 'root-rotation-'));
    lab = await up({ nodes: 2 });
    mesh = await LabMesh.start(lab, {
      controller: true,
      controllerEnv: {
        DEFAULT_WORKLOAD_CERT_TTL: '6s',
        MAX_WORKLOAD_CERT_TTL: '6s',
        CA_TRUST_SPREAD_PERIOD: '8s',
        CA_TRUST_RETIRE_PERIOD: '8s',
        CA_SECRET_RELOAD_INTERVAL: '1s',
      },
      // Pooled HBONE connections close 100 ms after their last stream: the paced load below makes a
      // new mTLS handshake (both sides verifying with their current bundle) for each connection.
      ztunnelEnv: { POOL_UNUSED_RELEASE_TIMEOUT: '100ms' },
    });
    pair = await deploySleepEcho(lab, NS);
  }, 240_000);

  afterAll(async () => {
    await mesh?.stop();
    await down();
    if (dir) rmSync(dir, { recursive: true, force: true });
  }, 120_000);

  it('trusts both roots, switches the signer, retires the old root, and every connection meanwhile succeeds', async () => {
    const ctl = mesh.controller();
    const { echoIp, sleepNetns: sleepNs, echoId } = pair;
    expect(await pollUntil('a first reply over HBONE', async () => ((await talk(sleepNs, echoIp, 9000, 'hello')) === 'hello' ? true : undefined), { timeoutMs: 20_000 })).toBe(true);
    const r1 = published();
    expect(fingerprints(r1)).toHaveLength(1);

    // Bounded load until told to stop (or the bounds): connections paced wider than the pool's idle
    // timeout, so each one rides a new HBONE connection, a new mTLS handshake.
    let stop = false;
    const results: { sent: string; got: string }[] = [];
    const started = Date.now();
    const loop = async (tag: string, pauseMs: number) => {
      for (let n = 1; !stop && results.length < LOAD_MAX_CONNECTIONS && Date.now() - started < LOAD_MAX_MS; n++) {
        results.push({ sent: `${tag}${n}`, got: await talk(sleepNs, echoIp, 9000, `${tag}${n}`) });
        if (pauseMs) await new Promise((r) => setTimeout(r, pauseMs));
      }
    };
    const load = loop('m', 200);

    const r2 = await createSelfSignedRoot();
    for (const [f, v] of Object.entries({ 'ca-cert.pem': r2.certPem, 'ca-key.pem': r2.keyPem, 'root-cert.pem': r2.certPem, 'cert-chain.pem': '' })) writeFileSync(join(dir, f), v);
    const sent = results.length;
    kubectlSync(lab, ['create', 'secret', 'generic', 'cacerts', '-n', 'istio-system', ...['ca-cert.pem', 'ca-key.pem', 'root-cert.pem', 'cert-chain.pem'].map((f) => `--from-file=${join(dir, f)}`)]);

    try {
      // 1. Both roots published while R1 still signs.
      const both = fingerprints(`${r1}${r2.certPem}`);
      await pollUntil('the published bundle carrying both roots', () => (JSON.stringify(fingerprints(published())) === JSON.stringify(both) ? true : undefined), { timeoutMs: 30_000, intervalMs: 200 });
      // 2. The echo pod's certificate on node2, and the 15012 certificate, from R2.
      await pollUntil('workload and serving certificates signed by the new root', async () => {
        const dump = JSON.parse(await mesh.admin('node2', '/config_dump')) as CertDump;
        const echo = dump.certificates.find((c) => c.identity === echoId && c.state === 'Available');
        return echo?.certChain[0] && issuedBy(echo.certChain[0].pem, r2) && issuedBy(await servedLeaf(ctl.ports.grpcTls), r2) ? true : undefined;
      }, { timeoutMs: 60_000, intervalMs: 500 });
      // 3. R1 retired: only R2 published.
      await pollUntil('the old root retired from the published bundle', () => (JSON.stringify(fingerprints(published())) === JSON.stringify(fingerprints(r2.certPem)) ? true : undefined), { timeoutMs: 60_000, intervalMs: 500 });
      // A little more traffic on the new root alone.
      const settled = results.length;
      await pollUntil('connections after the rotation', () => (results.length >= settled + 10 ? true : undefined), { timeoutMs: 30_000 });
    } finally {
      stop = true;
      await load;
    }

    // Every connection got its own reply, before, during and after the rotation.
    expect(results.length).toBeGreaterThan(sent + 40);
    expect(results.filter((r) => r.got !== r.sent)).toEqual([]);
    const metrics = await (await fetch(`http://127.0.0.1:${ctl.ports.monitoring}/metrics`)).text();
    expect(metrics).toMatch(/^istio_ca_root_rotation_events_total\{event="signer_switched"\} 1$/m);
    expect(metrics).toMatch(/^istio_ca_root_rotation_events_total\{event="root_retired"\} 1$/m);
    expect(metrics).toMatch(/^istio_ca_trusted_roots 1$/m);
    // Each ztunnel re-read its root file (both roots, then R2 alone).
    for (const node of ['node1', 'node2']) {
      const zt = await mesh.metrics(node);
      expect(Number(/^ztunnel_root_bundle_reloads_total\{result="changed"\} (\d+)$/m.exec(zt)?.[1] ?? 0)).toBeGreaterThanOrEqual(2);
    }
  }, 300_000);
});
