// A whole ztunnel app (standalone: local config file + local CA) serving two captured pods through
// their netns: readiness follows the first snapshot, config_dump and metrics show what happened, a
// policy edited in the file takes effect on the next connection, a broken file is rejected and the
// last good config stays.
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import type net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../lib/log/logger.ts';
import { readAll } from '../../lib/hbone/test-fixtures.ts';
import { connectTcp, openNetns } from '../../lib/netns/index.ts';
import { applyInpodRules } from '../../lib/redirect/index.ts';
import { startZtunnel, type ZtunnelApp } from '../../ztunnel/src/app.ts';
import { pollUntil } from '../lab/poll.ts';
import { echoApp, podTopology, podWorkloads, requireRoot, standaloneZtunnelConfig, talk } from './netns-harness.ts';

const { NS, IP, setup, teardown } = podTopology(`amt-app-${randomBytes(3).toString('hex')}`);

const CONFIG = (extra = '') => `${podWorkloads(IP)}${extra}`;
const DENY_SLEEP = `policies:
- { name: deny-sleep, namespace: b, action: DENY, rules: [[[{ principals: ["cluster.local/ns/a/sa/sleep"] }]]] }`;

describe('ztunnel app, standalone (root)', () => {
  let dir: string;
  let app: ZtunnelApp;
  const servers: net.Server[] = [];
  const get = async (port: number, path: string) => {
    const r = await fetch(`http://127.0.0.1:${port}${path}`);
    return { status: r.status, text: await r.text() };
  };

  beforeAll(async () => {
    requireRoot('e2e/ztunnel/app.test.ts');
    setup();
    for (const k of ['a', 'b'] as const) applyInpodRules({ path: `/run/netns/${NS[k]}` }, { dnsCapture: false }, 'iptables');
    dir = mkdtempSync(join(tmpdir(), 'amt-app-'));
    app = await startZtunnel(await standaloneZtunnelConfig(dir, CONFIG(), 1), { log: createLogger({ component: 'ztunnel', destination: new PassThrough() }), zds: false });
    servers.push(await echoApp(NS.b, 9000, []));
  });

  afterAll(async () => {
    await app?.shutdown();
    for (const s of servers) s.close();
    teardown();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('is not ready until the first snapshot, then ready', async () => {
    expect((await get(app.ports.readiness, '/healthz/ready')).status).toBe(503);
    app.workloads.add({ uid: 'uid-sleep', name: 'sleep', namespace: 'a', serviceAccount: 'sleep' }, openNetns(`/run/netns/${NS.a}`));
    app.workloads.add({ uid: 'uid-echo', name: 'echo', namespace: 'b', serviceAccount: 'echo' }, openNetns(`/run/netns/${NS.b}`));
    app.workloads.reconcile(new Set(['uid-sleep', 'uid-echo']));
    expect(await get(app.ports.readiness, '/healthz/ready')).toEqual({ status: 200, text: 'ready\n' });
  });

  it('carries A → B over HBONE and shows it in config_dump and metrics', async () => {
    expect(await talk(NS.a, IP.b, 9000, 'ping')).toBe('ping');
    const dump = JSON.parse((await get(app.ports.admin, '/config_dump')).text) as { workloads: { name: string }[]; certificates: { identity: string; state: string }[] };
    expect(dump.workloads.map((w) => w.name).sort()).toEqual(['echo', 'sleep']);
    expect(dump.certificates.map((c) => `${c.identity} ${c.state}`).sort()).toEqual([
      'spiffe://cluster.local/ns/a/sa/sleep Available',
      'spiffe://cluster.local/ns/b/sa/echo Available',
    ]);
    const metrics = (await get(app.ports.metrics, '/stats/prometheus')).text;
    expect(metrics).toMatch(/^istio_tcp_sent_bytes_total\{reporter="source",source_workload="sleep",.*destination_workload="echo".*\} 4$/m);
  });

  it('applies a policy written to the config file, and keeps the last good config when the file breaks', async () => {
    writeFileSync(join(dir, 'config.yaml'), CONFIG(DENY_SLEEP));
    await pollUntil('the DENY policy to apply', async () => (await talk(NS.a, IP.b, 9000, 'x')) !== 'x', { timeoutMs: 10_000 });
    writeFileSync(join(dir, 'config.yaml'), 'workloads: [ { name: broken, addresses: [nope] } ]');
    await pollUntil('the rejection to be counted', async () => /^ztunnel_config_rejections_total 1$/m.test((await get(app.ports.metrics, '/metrics')).text), { timeoutMs: 10_000 });
    expect(await talk(NS.a, IP.b, 9000, 'x')).not.toBe('x');
    writeFileSync(join(dir, 'config.yaml'), CONFIG());
    await pollUntil('the policy to be gone', async () => (await talk(NS.a, IP.b, 9000, 'back')) === 'back', { timeoutMs: 10_000 });
  });

  it('keeps a pod proxy and its connections when the pod is re-added in the same netns (ZDS reconnect)', async () => {
    const long = connectTcp({ netns: `/run/netns/${NS.a}`, host: IP.b, port: 9000, allowHalfOpen: true });
    long.write('before;');
    await pollUntil('the connection to be up', () => app.connections.count() >= 2, { timeoutMs: 5000 });
    app.workloads.add({ uid: 'uid-echo', name: 'echo', namespace: 'b', serviceAccount: 'echo' }, openNetns(`/run/netns/${NS.b}`));
    long.end('after');
    expect((await readAll(long)).toString()).toBe('before;after');
  }, 20_000);

  it('changes the log level at run time', async () => {
    const r = await fetch(`http://127.0.0.1:${app.ports.admin}/logging?level=debug`, { method: 'POST' });
    expect(await r.text()).toBe('current log level is debug\n');
    expect((await fetch(`http://127.0.0.1:${app.ports.admin}/logging?level=loud`, { method: 'POST' })).status).toBe(400);
  });
});
