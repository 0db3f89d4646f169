// The ztunnel executable: refuses a bad environment with a clear message, serves its ops ports,
// is not ready until the node agent's first ZDS snapshot, opens the snapshot's pod in its netns,
// and exits 0 on SIGTERM.
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createSelfSignedRoot } from '../../lib/identity/index.ts';
import { closeFd, openNetns } from '../../lib/netns/index.ts';
import { createThrowawayNetns } from '../../lib/netns/throwaway-netns.ts';
import { ZdsServer } from '../../lib/zds/index.ts';
import { pollUntil } from '../lab/poll.ts';

const MAIN = new URL('../../ztunnel/src/main.ts', import.meta.url).pathname;
const dir = mkdtempSync(join(tmpdir(), 'amt-zt-'));

describe('ztunnel process', () => {
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('exits 2 with a message when the environment is incomplete', () => {
    const r = spawnSync(process.execPath, [MAIN], { env: { PATH: process.env.PATH }, encoding: 'utf8', timeout: 20_000 });
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('NODE_NAME is required');
  });

  it('becomes ready after the node agent snapshot, serves the pod, and drains on SIGTERM', async () => {
    if (process.getuid?.() !== 0) throw new Error('must run as root: creates a network namespace for the pod');
    const pod = createThrowawayNetns();
    const podFd = openNetns(pod.path);
    const sock = join(dir, 'ztunnel.sock');
    let snapshotReady = false;
    const agent = ZdsServer.listen({
      path: sock,
      snapshot: () => (snapshotReady ? [{ uid: 'uid-sleep', info: { name: 'sleep', namespace: 'a', serviceAccount: 'sleep' }, netnsFd: podFd }] : []),
    });
    snapshotReady = true;
    const root = await createSelfSignedRoot();
    writeFileSync(join(dir, 'root.pem'), root.certPem);
    writeFileSync(join(dir, 'key.pem'), root.keyPem);
    writeFileSync(join(dir, 'config.yaml'), 'workloads: []\n');
    const child = spawn(process.execPath, [MAIN], {
      env: {
        PATH: process.env.PATH, NODE_OPTIONS: process.env.NODE_OPTIONS, NODE_NAME: 'node1',
        LOCAL_XDS_PATH: join(dir, 'config.yaml'), CA_ROOT_CERT: join(dir, 'root.pem'), CA_ROOT_KEY: join(dir, 'key.pem'),
        ADMIN_ADDR: '127.0.0.1:0', STATS_ADDR: '127.0.0.1:0', READINESS_ADDR: '127.0.0.1:0', INPOD_UDS: sock,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    try {
      // Port 0 everywhere: the start-up log line says which ports were bound.
      const readyPort = await pollUntil('the start-up log line', () => {
        const line = out.split('\n').find((l) => l.includes('"msg":"ztunnel started"'));
        return line ? (JSON.parse(line) as { readiness: number }).readiness : undefined;
      }, { timeoutMs: 20_000 });
      const res = await pollUntil('readiness endpoint', async () => {
        const r = await fetch(`http://127.0.0.1:${readyPort}/healthz/ready`).catch(() => undefined);
        return r ? { status: r.status, text: await r.text() } : undefined;
      }, { timeoutMs: 20_000 });
      expect(res.status === 200 || res.text === 'not ready: first ZDS snapshot not processed\n').toBe(true);
      await pollUntil('ready after the snapshot', async () => (await fetch(`http://127.0.0.1:${readyPort}/healthz/ready`)).status === 200, { timeoutMs: 20_000 });
      // The pod's listeners are open inside its netns.
      const listening = () => pod.exec(['ss', '-Hltn']);
      await pollUntil('listeners in the pod netns', () => [':15001 ', ':15006 ', ':15008 '].every((p) => listening().includes(p)), { timeoutMs: 10_000 });
      await agent.delWorkload('uid-sleep');
      await pollUntil('listeners closed on delete', () => !listening().includes(':15008 '), { timeoutMs: 10_000 });
      child.kill('SIGTERM');
      const code = await new Promise<number | null>((r) => child.once('exit', (c) => r(c)));
      expect(code).toBe(0);
      expect(out).toContain('"msg":"ztunnel stopped"');
    } finally {
      child.kill('SIGKILL');
      agent.close();
      closeFd(podFd);
      pod.remove();
    }
  });
});
