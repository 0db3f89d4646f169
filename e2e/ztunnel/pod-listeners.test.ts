// ztunnel's per-pod listeners opened inside a pod netns that carries Istio's in-pod rules: the app's
// outbound connection lands on 15001 with its original destination, HBONE reaches 15008 as is, and a
// second ztunnel can open the same listeners (SO_REUSEPORT) while the first still runs.
import type net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { closeFd, connectTcp, getOriginalDst, getSocketMark, openNetns } from '../../lib/netns/index.ts';
import { addTestInterface, createThrowawayNetns, type ThrowawayNetns } from '../../lib/netns/throwaway-netns.ts';
import { applyInpodRules } from '../../lib/redirect/index.ts';
import { INPOD_MARK, openPodListeners, type PodListeners } from '../../ztunnel/src/inpod/pod-listeners.ts';
import { pollUntil } from '../lab/poll.ts';

describe('pod listeners in a captured pod netns (root)', () => {
  let pod: ThrowawayNetns;
  let fd: number;
  const accepted: { kind: string; socket: net.Socket }[] = [];
  const listeners: PodListeners[] = [];
  const open = () => {
    const l = openPodListeners(fd, {
      outbound: (socket) => accepted.push({ kind: 'outbound', socket }),
      inboundPlaintext: (socket) => accepted.push({ kind: 'inbound', socket }),
      hbone: (socket) => accepted.push({ kind: 'hbone', socket }),
    });
    listeners.push(l);
    return l;
  };

  beforeAll(() => {
    if (process.getuid?.() !== 0) throw new Error('must run as root: creates network namespaces and netfilter rules');
    pod = createThrowawayNetns();
    addTestInterface(pod, 'eth0', ['192.0.2.2/24']);
    applyInpodRules({ path: pod.path }, { dnsCapture: false }, 'iptables');
    fd = openNetns(pod.path);
  });

  afterAll(() => {
    for (const l of listeners) l.close();
    for (const a of accepted) a.socket.destroy();
    if (fd !== undefined) closeFd(fd);
    pod?.remove();
  });

  it('captures the app outbound connection on 15001 with the original destination and the in-pod mark', async () => {
    const l = open();
    expect(getSocketMark(l.servers.outbound)).toBe(INPOD_MARK);
    const app = connectTcp({ netns: pod.path, host: '192.0.2.77', port: 80 });
    const got = await pollUntil('outbound accept', () => accepted.find((a) => a.kind === 'outbound'), { timeoutMs: 5000 });
    expect(getOriginalDst(got.socket)).toMatchObject({ address: '192.0.2.77', port: 80, family: 4 });
    app.destroy();
  });

  it('accepts HBONE on 15008 without redirection', async () => {
    // (Inbound capture to 15006 needs a second netns; lib/redirect's e2e covers it.)
    const hbone = connectTcp({ netns: pod.path, host: '192.0.2.2', port: 15008 });
    const got = await pollUntil('hbone accept', () => accepted.find((a) => a.kind === 'hbone'), { timeoutMs: 5000 });
    expect(got.socket.localPort).toBe(15008);
    hbone.destroy();
  });

  it('a second set of listeners can be opened beside the first (restart hand-over)', () => {
    const second = open();
    expect(second.servers.hbone.listening).toBe(true);
    listeners[0]?.close();
  });
});
