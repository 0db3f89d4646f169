// Restarting ztunnel under a steady client load: a new ztunnel opens the same pod listeners beside
// the old one (SO_REUSEPORT), then the old one drains; not one new connection may fail.
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import type net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../lib/log/logger.ts';
import { openNetns } from '../../lib/netns/index.ts';
import { applyInpodRules } from '../../lib/redirect/index.ts';
import { startZtunnel, type ZtunnelApp } from '../../ztunnel/src/app.ts';
import { pollUntil } from '../lab/poll.ts';
import type { ZtunnelConfig } from '../../ztunnel/src/config.ts';
import { echoApp, podTopology, podWorkloads, requireRoot, standaloneZtunnelConfig, talk } from './netns-harness.ts';

const { NS, IP, setup, teardown } = podTopology(`amt-rs-${randomBytes(3).toString('hex')}`);

describe('ztunnel restart hand-over (root)', () => {
  let dir: string;
  const apps: ZtunnelApp[] = [];
  const servers: net.Server[] = [];
  const logs: string[] = [];
  let config: ZtunnelConfig;

  const start = async (): Promise<ZtunnelApp> => {
    const out = new PassThrough();
    out.on('data', (d: Buffer) => logs.push(...d.toString().split('\n').filter((l) => l.includes('"error"') || l.includes('"level":"warn"') || l.includes('"level":"error"'))));
    const app = await startZtunnel(config, { log: createLogger({ component: `ztunnel-${apps.length}`, destination: out }), zds: false });
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
    config = await standaloneZtunnelConfig(dir, podWorkloads(IP), 2);
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
    // Failed connections count in `done` too, so this deadline only trips when the load is stuck.
    await pollUntil('the load to be running (60 connections through the first ztunnel)', () => done >= 60, { timeoutMs: 20_000, intervalMs: 10 });
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
