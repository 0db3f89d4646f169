// Natively created UDP sockets: datagrams both ways with the sender's address, v4 on a dual-stack
// socket, options landing on the fd (mark, reuse-port), the netns the socket is made in, and typed
// errors for bad input.
import dgram from 'node:dgram';
import { once } from 'node:events';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { getSocketMark } from './socket.ts';
import { createThrowawayNetns, isRoot, ROOT_REASON, addTestInterface, type ThrowawayNetns } from './throwaway-netns.ts';
import { UdpSocket, type UdpRemoteInfo } from './udp.ts';

const INPOD_MARK = 0x539;

const cleanups: (() => void)[] = [];
afterEach(() => {
  for (const c of cleanups.splice(0).reverse()) c();
});
function track(s: UdpSocket): UdpSocket {
  cleanups.push(() => s.close());
  return s;
}
function nextMessage(s: UdpSocket): Promise<[Buffer, UdpRemoteInfo]> {
  return once(s, 'message') as Promise<[Buffer, UdpRemoteInfo]>;
}

const ipv6Loopback = (() => {
  try {
    UdpSocket.open({ address: '::1' }).close();
    return true;
  } catch {
    return false;
  }
})();

describe('UdpSocket on loopback', () => {
  it('exchanges datagrams with a Node dgram socket, reporting the sender', async () => {
    const ours = track(UdpSocket.open({ address: '127.0.0.1' }));
    const theirs = dgram.createSocket('udp4');
    cleanups.push(() => theirs.close());
    theirs.on('message', (msg, rinfo) => theirs.send(Buffer.concat([Buffer.from('echo:'), msg]), rinfo.port, rinfo.address));
    theirs.bind(0, '127.0.0.1');
    await once(theirs, 'listening');

    const local = ours.address();
    expect(local).toMatchObject({ address: '127.0.0.1', family: 4 });
    expect(local.port).toBeGreaterThan(0);
    const got = nextMessage(ours);
    expect(ours.send(Buffer.from('ping'), theirs.address().port, '127.0.0.1')).toBe(true);
    const [data, rinfo] = await got;
    expect(data.toString()).toBe('echo:ping');
    expect(rinfo).toEqual({ address: '127.0.0.1', port: theirs.address().port, family: 4, size: 9, truncated: false });
  });

  it('keeps datagram boundaries, including empty datagrams', async () => {
    const a = track(UdpSocket.open({ address: '127.0.0.1' }));
    const b = track(UdpSocket.open({ address: '127.0.0.1' }));
    const sizes: number[] = [];
    const all = new Promise<void>((resolve) => {
      b.on('message', (d) => {
        sizes.push(d.length);
        if (sizes.length === 3) resolve();
      });
    });
    const port = b.address().port;
    a.send(Buffer.from('one'), port, '127.0.0.1');
    a.send(Buffer.alloc(0), port, '127.0.0.1');
    a.send(Buffer.alloc(4000, 1), port, '127.0.0.1');
    await all;
    expect(sizes).toEqual([3, 0, 4000]);
  });

  it('sends to IPv4 peers from a dual-stack socket and reports them as IPv4', async () => {
    if (!ipv6Loopback) return expect.soft(ipv6Loopback, 'IPv6 is disabled here').toBe(false);
    const dual = track(UdpSocket.open({ family: 6 }));
    const v4 = track(UdpSocket.open({ address: '127.0.0.1' }));
    const got = nextMessage(v4);
    dual.send(Buffer.from('x'), v4.address().port, '127.0.0.1');
    const [, rinfo] = await got;
    expect(rinfo.family).toBe(4);
    const back = nextMessage(dual);
    v4.send(Buffer.from('y'), rinfo.port, rinfo.address);
    const [, from] = await back;
    expect(from).toMatchObject({ address: '127.0.0.1', family: 4 });
  });

  it('shares a port with SO_REUSEPORT and refuses it without', () => {
    const first = track(UdpSocket.open({ address: '127.0.0.1', reusePort: true }));
    const port = first.address().port;
    track(UdpSocket.open({ address: '127.0.0.1', port, reusePort: true }));
    expect(() => UdpSocket.open({ address: '127.0.0.1', port })).toThrow(expect.objectContaining({ name: 'NetnsError', code: 'EADDRINUSE', syscall: 'bind' }));
  });

  it('rejects bad input with typed errors and refuses to send once closed', async () => {
    expect(() => UdpSocket.open({ address: 'localhost' })).toThrow(TypeError);
    expect(() => UdpSocket.open({ address: '::1', family: 4 })).toThrow(TypeError);
    expect(() => UdpSocket.open({ port: 70000 })).toThrow(TypeError);
    const s = UdpSocket.open({ address: '127.0.0.1' });
    expect(() => s.send(Buffer.from('x'), 53, 'example.com')).toThrow(TypeError);
    expect(() => s.send(Buffer.from('x'), 53, '::1')).toThrow(TypeError);
    expect(() => s.send(Buffer.from('x'), 0, '127.0.0.1')).toThrow(TypeError);
    const closed = once(s, 'close');
    s.close();
    s.close();
    await closed;
    expect(s.closed).toBe(true);
    expect(() => s.send(Buffer.from('x'), 53, '127.0.0.1')).toThrow(expect.objectContaining({ code: 'EPIPE' }));
  });
});

describe.skipIf(isRoot)('UdpSocket options without root (the root-only cases skip)', () => {
  it('refuses SO_MARK with EPERM', () => {
    expect(() => UdpSocket.open({ mark: INPOD_MARK })).toThrow(expect.objectContaining({ code: 'EPERM', syscall: 'setsockopt(SO_MARK)' }));
  });
});

describe.skipIf(!isRoot)(`UdpSocket in a throwaway netns (${ROOT_REASON})`, () => {
  let ns: ThrowawayNetns | undefined;
  beforeAll(() => {
    ns = createThrowawayNetns();
    addTestInterface(ns, 'amt0', ['192.0.2.1/24']);
  });
  afterAll(() => ns?.remove());

  it('is created in the netns with the mark: its address is only bindable there', async () => {
    const server = track(UdpSocket.open({ netns: ns!.path, address: '192.0.2.1', port: 15053, mark: INPOD_MARK, reusePort: true }));
    expect(getSocketMark(server.fd)).toBe(INPOD_MARK);
    expect(() => UdpSocket.open({ address: '192.0.2.1' })).toThrow(expect.objectContaining({ code: 'EADDRNOTAVAIL' }));
    const client = track(UdpSocket.open({ netns: ns!.path }));
    const got = nextMessage(server);
    client.send(Buffer.from('q'), 15053, '192.0.2.1');
    const [data, rinfo] = await got;
    expect(data.toString()).toBe('q');
    expect(rinfo.address).toBe('192.0.2.1');
  });
});
