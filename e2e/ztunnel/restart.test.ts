// Restarting ztunnel under a steady client load: a new ztunnel opens the same pod listeners beside
// the old one (SO_REUSEPORT), then the old one drains; not one new connection may fail.
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import type net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSelfSignedRoot } from '../../lib/identity/index.ts';
import { createLogger } from '../../lib/log/logger.ts';
import { openNetns } from '../../lib/netns/index.ts';
import { applyInpodRules } from '../../lib/redirect/index.ts';
import { startZtunnel, type ZtunnelApp } from '../../ztunnel/src/app.ts';
import { configFromEnv } from '../../ztunnel/src/config.ts';
import { echoApp, podTopology, requireRoot, talk } from './netns-harness.ts';

const { NS, IP, setup, teardown } = podTopology(`amt-rs-${randomBytes(3).toString('hex')}`);

describe('ztunnel restart hand-over (root)', () => {
  let dir: string;
  const apps: ZtunnelApp[] = [];
  const servers: net.Server[] = [];
  const logs: string[] = [];

  const start = async (): Promise<ZtunnelApp> => {
    const cfg = configFromEnv({
      NODE_NAME: 'node1', LOCAL_XDS_PATH: join(dir, 'config.yaml'), CA_ROOT_CERT: join(dir, 'root.pem'), CA_ROOT_KEY: join(dir, 'key.pem'),
      ADMIN_ADDR: '127.0.0.1:0', STATS_ADDR: '127.0.0.1:0', READINESS_ADDR: '127.0.0.1:0', CONNECTION_TERMINATION_DEADLINE: '2',
    });
    if (!cfg.ok) throw new Error(cfg.errors.join('; '));
    const out = new PassThrough();
    out.on('data', (d: Buffer) => logs.push(...d.toString().split('\n').filter((l) => l.includes('"error"') || l.includes('"level":"warn"') || l.includes('"level":"error"'))));
    const app = await startZtunnel(cfg.config, { log: createLogger({ component: `ztunnel-${apps.length}`, destination: out }), zds: false });
    app.workloads.add({ uid: 'uid-sleep', name: 'sleep', namespace: 'a', serviceAccount: 'sleep' }, openNetns(`/run/netns/${NS.a}`));
    app.workloads.add({ uid: 'uid-echo', name: 'echo', namespace: 'b', serviceAccount: 'echo' }, openNetns(`/run/netns/${NS.b}`));
    app.workloads.reconcile(new Set(['uid-sleep', 'uid-echo']));
    apps.push(app);
    return app;
  };

  beforeAll(async () => {
    requireRoot('e2e/ztunnel/restart.test.ts');
    setup();
    for (const k of ['a', 'b'] as const) applyInpodRules({ path: `/run/netns/${NS[k]}` }, { dnsCapture: false }, 'iptables');
    dir = mkdtempSync(join(tmpdir(), 'amt-rs-'));
    const root = await createSelfSignedRoot();
    writeFileSync(join(dir, 'root.pem'), root.certPem);
    writeFileSync(join(dir, 'key.pem'), root.keyPem);
    writeFileSync(join(dir, 'config.yaml'), `workloads:
- { name: sleep, namespace: a, serviceAccount: sleep, addresses: [${IP.a}], node: node1 }
- { name: echo, namespace: b, serviceAccount: echo, addresses: [${IP.b}], node: node1 }
`);
    servers.push(await echoApp(NS.b, 9000, []));
  });

  afterAll(async () => {
    for (const a of apps) await a.shutdown();
    for (const s of servers) s.close();
    teardown();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('refuses no connection while the old ztunnel hands over to the new one', async () => {
    const old = await start();
    const failures: string[] = [];
    let done = 0;
    let handedOver = false;
    // Bounded load: 4 clients in parallel, 300 connections in all, at most 30 s.
    const deadline = Date.now() + 30_000;
    const client = async (id: number) => {
      for (let i = 0; done < 300 && Date.now() < deadline; i++) {
        const payload = `c${id}-${i}`;
        const got = await talk(NS.a, IP.b, 9000, payload);
        if (got !== payload) failures.push(`${payload}: ${got}`);
        done++;
      }
    };
    const load = Promise.all([0, 1, 2, 3].map(client));
    while (done < 60) await new Promise((r) => setTimeout(r, 10));
    await start();
    await old.shutdown();
    apps.splice(apps.indexOf(old), 1);
    handedOver = true;
    await load;
    expect(handedOver).toBe(true);
    expect(done).toBeGreaterThanOrEqual(300);
    if (failures.length) console.log(logs.join('\n'));
    expect(failures).toEqual([]);
  });
});
