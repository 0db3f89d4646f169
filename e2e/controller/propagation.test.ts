// Policy changes reach the ztunnels promptly however long the controller's watches sat idle: over
// about three minutes, AuthorizationPolicies are created, changed and deleted at random
// moments, each change must show in the ztunnel's /config_dump within 2 s (the poll's deadline per
// change); the worst latency is printed, not asserted. Every other gap is drawn from just over 30 s:
// the client library's idle cut-off, after which the old informer backed off (doubling) with no
// watch running, so the later changes fell into seconds-long holes.
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { down, kubectlSync, up } from '../lab/lab.ts';
import { pollUntil } from '../lab/poll.ts';
import type { LabState } from '../lab/state.ts';
import { requireRoot } from '../ztunnel/netns-harness.ts';
import { HelmMesh } from '../lab/mesh-helm.ts';

const NS = 'prop-e2e';
const TOTAL_MS = 175_000;
/** Idle gap before change `n`: alternately one just past 30 s (30.3-32.5 s) and a short one (1-5 s). */
const gapMs = (n: number) => (n % 2 === 1 ? 30_300 + Math.random() * 2200 : 1000 + Math.random() * 4000);

interface Dump { policies: { name: string; namespace: string }[] }

const policy = (name: string, token: string) => `
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: { name: ${name}, namespace: ${NS} }
spec:
  action: ALLOW
  rules: [{ from: [{ source: { principals: ["cluster.local/ns/${NS}/sa/${token}"] } }] }]
`;

describe('informer → xDS propagation under idle watches (root)', () => {
  let lab: LabState;
  let mesh: HelmMesh;
  const dump = async () => JSON.stringify((JSON.parse(await mesh.admin('node1', '/config_dump')) as Dump).policies);

  beforeAll(async () => {
    requireRoot('e2e/controller/propagation.test.ts');
    lab = await up({ nodes: 1 });
    kubectlSync(lab, ['create', 'namespace', NS]);
    kubectlSync(lab, ['label', 'ns', NS, 'istio.io/dataplane-mode=ambient']);
    mesh = await HelmMesh.install(lab);
  }, 240_000);

  afterAll(async () => {
    await down();
  }, 120_000);

  it('every change applied at a random moment reaches the ztunnel within 2 s', async () => {
    const started = Date.now();
    const latencies: { change: string; ms: number }[] = [];
    const live = new Set<string>();
    let n = 0;
    while (Date.now() - started < TOTAL_MS) {
      n++;
      const gap = gapMs(n);
      if (Date.now() - started + gap > TOTAL_MS) break;
      // The watches sit without events for the gap.
      await new Promise((r) => setTimeout(r, gap));
      const token = `t${n}-${randomBytes(3).toString('hex')}`;
      const victim = [...live][0];
      let change: string;
      let seen: (d: string) => boolean;
      if (victim && n % 3 === 0) {
        change = `delete ${victim}`;
        kubectlSync(lab, ['delete', 'authorizationpolicy', '-n', NS, victim]);
        live.delete(victim);
        seen = (d) => !d.includes(`"name":"${victim}"`);
      } else {
        const name = victim && n % 3 === 1 ? victim : `ap-${n}`;
        change = `${live.has(name) ? 'update' : 'create'} ${name}`;
        kubectlSync(lab, ['apply', '-f', '-'], policy(name, token));
        live.add(name);
        seen = (d) => d.includes(token);
      }
      const applied = Date.now();
      await pollUntil(`${change} to reach the ztunnel`, async () => seen(await dump()), { timeoutMs: 2000, intervalMs: 50 });
      latencies.push({ change, ms: Date.now() - applied });
    }
    const worst = Math.max(...latencies.map((l) => l.ms));
    console.log(`propagation: ${latencies.length} changes, worst ${worst} ms: ${latencies.map((l) => `${l.change} ${l.ms}ms`).join(', ')}`);
    expect(latencies.length).toBeGreaterThanOrEqual(5);
  }, TOTAL_MS + 60_000);
});
