// SO_ORIGINAL_DST through a real nat REDIRECT, as in a pod: the rule sends TCP for 192.0.2.10:80 to
// the outbound listener unless the packet carries ztunnel's mark, which must go straight through.
import { once } from 'node:events';
import type net from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { getOriginalDst } from './original-dst.ts';
import { connectTcp, getSocketMark, listenTcp } from './socket.ts';
import { addTestInterface, createThrowawayNetns, isRoot, ROOT_REASON, type ThrowawayNetns } from './throwaway-netns.ts';

const MARK = 0x539;
const SERVICE_V4 = '192.0.2.10';
const SERVICE_V6 = '2001:db8::10';
const OUTBOUND_PORT = 15001;
const DUALSTACK_PORT = 15002;

function redirect(ns: ThrowawayNetns, tool: 'iptables' | 'ip6tables', dst: string, dport: number, toPort: number): string[] {
  return [tool, '-w', '-t', 'nat', '-A', 'OUTPUT', '-p', 'tcp', '-d', dst, '--dport', String(dport),
    '-m', 'mark', '!', '--mark', `${MARK}/0xfff`, '-j', 'REDIRECT', '--to-ports', String(toPort)];
}

describe.skipIf(!isRoot)(`getOriginalDst behind nat REDIRECT (${ROOT_REASON})`, () => {
  let ns: ThrowawayNetns | undefined;
  let ip6tablesNat = false;
  const servers: net.Server[] = [];
  const sockets: net.Socket[] = [];

  beforeAll(() => {
    ns = createThrowawayNetns();
    addTestInterface(ns, 'amt0', [`${SERVICE_V4}/24`, `${SERVICE_V6}/64`]);
    // All rules live inside the throwaway netns and go away with it.
    ns.exec(redirect(ns, 'iptables', SERVICE_V4, 80, OUTBOUND_PORT));
    ns.exec(redirect(ns, 'iptables', SERVICE_V4, 81, DUALSTACK_PORT));
    ip6tablesNat = ns.tryExec(redirect(ns, 'ip6tables', SERVICE_V6, 80, OUTBOUND_PORT));
  });
  afterEach(() => {
    for (const s of sockets.splice(0)) s.destroy();
    for (const s of servers.splice(0)) s.close();
  });
  afterAll(() => ns?.remove());

  function listen(opts: Parameters<typeof listenTcp>[0]): { server: net.Server; accepted: () => Promise<net.Socket>; count: () => number } {
    const server = listenTcp({ netns: ns!.path, ...opts });
    servers.push(server);
    let n = 0;
    server.on('connection', (s) => {
      n++;
      sockets.push(s);
    });
    return {
      server,
      accepted: async () => ((await once(server, 'connection')) as [net.Socket])[0],
      count: () => n,
    };
  }

  function dial(host: string, port: number, mark?: number): net.Socket {
    const s = connectTcp({ netns: ns!.path, host, port, mark });
    sockets.push(s);
    return s;
  }

  it('reports the pre-NAT destination of a redirected IPv4 connection', async () => {
    const outbound = listen({ address: '0.0.0.0', port: OUTBOUND_PORT, mark: MARK, reusePort: true });
    const app = listen({ address: SERVICE_V4, port: 80 });
    const accepted = outbound.accepted();
    dial(SERVICE_V4, 80);
    const peer = await accepted;
    expect(getOriginalDst(peer)).toEqual({ address: SERVICE_V4, port: 80, family: 4 });
    expect(peer.localPort).toBe(OUTBOUND_PORT);
    expect(app.count()).toBe(0);
    // The listener's mark is inherited by what it accepts.
    expect(getSocketMark(peer)).toBe(MARK);
  });

  it('does not redirect a connection carrying the mark', async () => {
    const outbound = listen({ address: '0.0.0.0', port: OUTBOUND_PORT, mark: MARK });
    const app = listen({ address: SERVICE_V4, port: 80 });
    const accepted = app.accepted();
    const client = dial(SERVICE_V4, 80, MARK);
    const peer = await accepted;
    await once(client, 'connect');
    expect(getSocketMark(client)).toBe(MARK);
    expect(outbound.count()).toBe(0);
    // Not NATed, but tracked: conntrack answers with the real destination.
    expect(getOriginalDst(peer)).toEqual({ address: SERVICE_V4, port: 80, family: 4 });
  });

  it('answers with family 4 for an IPv4 connection on a dual-stack [::] listener', async () => {
    const dual = listen({ address: '::', port: DUALSTACK_PORT, v6Only: false, mark: MARK });
    const accepted = dual.accepted();
    dial(SERVICE_V4, 81);
    const peer = await accepted;
    expect(peer.remoteAddress).toBe(`::ffff:${SERVICE_V4}`);
    expect(getOriginalDst(peer)).toEqual({ address: SERVICE_V4, port: 81, family: 4 });
  });

  it('reports the pre-NAT destination of a redirected IPv6 connection', async (ctx) => {
    if (!ip6tablesNat) ctx.skip('ip6tables nat is not available in this kernel');
    const outbound6 = listen({ address: '::', port: OUTBOUND_PORT, v6Only: true, mark: MARK });
    const accepted = outbound6.accepted();
    dial(SERVICE_V6, 80);
    const peer = await accepted;
    expect(getOriginalDst(peer)).toEqual({ address: SERVICE_V6, port: 80, family: 6 });
  });
});
