// The agent's reaction to ZDS events, against a real ZdsServer and a scripted ztunnel: only pods
// the ztunnel acknowledged in its snapshot are annotated enabled, and a peer of a foreign uid moves
// the refusal counter.
import { chmodSync, chownSync, mkdtempSync, openSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { pollUntil } from '../../lib/hbone/test-fixtures.ts';
import { Registry } from '../../lib/metrics/registry.ts';
import { closeFd, SeqpacketSocket } from '../../lib/netns/index.ts';
import { isRoot } from '../../lib/netns/throwaway-netns.ts';
import { decodeRequest, encodeAck, encodeHello, ZdsServer } from '../../lib/zds/index.ts';
import { connectAs, UID_REASON } from '../../lib/zds/test-peer.ts';
import { MeshDataplane } from './dataplane.ts';
import { fakeDataplaneDeps, quietLog, testPod } from './test-fakes.ts';
import { linkZtunnel } from './ztunnel-link.ts';

const cleanup: (() => void)[] = [];
afterEach(() => {
  for (const c of cleanup.splice(0).reverse()) c();
});

/** A dataplane holding `uids` as pending pods (no ztunnel was there), linked to a fresh server. */
async function setup(uids: string[]) {
  const dir = mkdtempSync(join(tmpdir(), 'amt-ztunnel-link-'));
  cleanup.push(() => rmSync(dir, { recursive: true, force: true }));
  const { deps, calls } = fakeDataplaneDeps();
  const dataplane = new MeshDataplane(deps);
  const zds = ZdsServer.listen({ path: join(dir, 'ztunnel.sock'), snapshot: () => dataplane.snapshot(), log: quietLog() });
  deps.ztunnel = { add: (uid, info, fd) => zds.addWorkload(uid, info, fd), del: (uid) => zds.delWorkload(uid) };
  cleanup.push(() => zds.close(), () => dataplane.close());
  for (const uid of uids) expect(await dataplane.enroll({ ...testPod, uid, name: uid }, openSync('/dev/null', 'r'))).toBe('pending');
  const registry = new Registry();
  linkZtunnel(zds, dataplane, registry, quietLog());
  calls.length = 0;
  return { dir, zds, dataplane, calls, registry };
}

/** Plays ztunnel: hello, then answers each request with `answer(uid)` ('' = ack). */
function fakeZtunnel(path: string, answer: (uid: string) => string) {
  const s = SeqpacketSocket.connect(path);
  s.on('message', (m) => {
    for (const fd of m.fds) closeFd(fd);
    const r = decodeRequest(m.data);
    if (!r.ok) throw r.error;
    s.send(encodeAck(r.value.kind === 'snapshotSent' ? '' : answer(r.value.uid)));
  });
  s.on('error', () => undefined);
  cleanup.push(() => s.close());
  s.send(encodeHello());
  return s;
}

describe('linkZtunnel', () => {
  it('annotates enabled only the pods the ztunnel acknowledged in its snapshot; a NACKed one stays pending', async () => {
    const { zds, dataplane, calls } = await setup(['u1', 'u2']);
    let snapshots = 0;
    zds.on('snapshotSent', () => snapshots++);
    fakeZtunnel(zds.path, (uid) => (uid === 'u2' ? 'failed to start proxy: EADDRINUSE' : ''));
    await pollUntil(() => snapshots === 1 && dataplane.state('u1') === 'enabled', 'u1 confirmed');
    expect(dataplane.state('u2')).toBe('pending');
    expect(calls.filter((c) => c.startsWith('annotate'))).toEqual(['annotate u1=enabled']);
  });

  it.skipIf(!isRoot)(`counts a peer of a foreign uid as refused (${UID_REASON})`, async () => {
    const { dir, zds, registry } = await setup([]);
    chmodSync(dir, 0o711);
    chownSync(zds.path, 65534, 65534);
    expect(await connectAs(65534, zds.path)).toBe('closed 0');
    expect(registry.render()).toContain('istio_cni_ztunnel_connections_refused_total 1');
  });
});
