// Natively created TCP sockets handed to Node: connect-from-fd behaves like net.connect (data both
// ways, half-close, errors as events), listeners take reuse/mark options, and options land on the fd.
import { once } from 'node:events';
import net from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { native } from './native.ts';
import { closeFd } from './netns.ts';
import { connectTcp, createTcpSocket, getSocketMark, listenTcp } from './socket.ts';
import { socketFd } from './socket-fd.ts';
import { addTestInterface, createThrowawayNetns, isRoot, ROOT_REASON, type ThrowawayNetns } from './throwaway-netns.ts';

const INPOD_MARK = 0x539;

const cleanups: (() => void)[] = [];
afterEach(() => {
  for (const c of cleanups.splice(0).reverse()) c();
});
function track<T extends net.Server | net.Socket>(s: T): T {
  cleanups.push(() => (s instanceof net.Server ? s.close() : s.destroy()));
  return s;
}
const portOf = (s: net.Server): number => (s.address() as net.AddressInfo).port;

function collect(socket: net.Socket): Promise<string> {
  return new Promise((resolve, reject) => {
    let text = '';
    socket.setEncoding('utf8');
    socket.on('data', (d: string) => (text += d));
    socket.once('end', () => resolve(text));
    socket.once('error', reject);
  });
}

const ipv6Loopback = (() => {
  try {
    closeFd(createTcpSocket({ family: 6, bind: { address: '::1', port: 0 } }));
    return true;
  } catch {
    return false;
  }
})();

describe('connectTcp on loopback', () => {
  it('carries data both ways and keeps half-close', async () => {
    // The server answers only after the client's FIN, so the reply proves the half-open direction.
    const server = track(
      net.createServer({ allowHalfOpen: true }, (s) => {
        collect(s).then((got) => s.end(`got:${got}`), () => s.destroy());
      }),
    );
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');

    const client = track(connectTcp({ host: '127.0.0.1', port: portOf(server) }));
    const reply = collect(client);
    await once(client, 'connect');
    expect(client.remotePort).toBe(portOf(server));
    client.end('ping');
    expect(await reply).toBe('got:ping');
    await once(client, 'close');
  });

  it('buffers writes made before the connection completes', async () => {
    const server = track(net.createServer({ allowHalfOpen: true }, (s) => collect(s).then((got) => s.end(got.toUpperCase()))));
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const client = track(connectTcp({ host: '127.0.0.1', port: portOf(server) }));
    client.write('early ');
    client.end('bytes');
    expect(await collect(client)).toBe('EARLY BYTES');
  });

  it('reports ECONNREFUSED as an error event, not a throw', async () => {
    // A bound, non-listening socket owns the port, so nothing can accept on it during the test.
    const holder = createTcpSocket({ family: 4, bind: { address: '127.0.0.1', port: 0 } });
    cleanups.push(() => closeFd(holder));
    const boundPort = boundPortOf(holder);
    const client = track(connectTcp({ host: '127.0.0.1', port: boundPort }));
    const [err] = (await once(client, 'error')) as [NodeJS.ErrnoException];
    expect(err).toMatchObject({ code: 'ECONNREFUSED', syscall: 'connect' });
    await once(client, 'close');
  });

  it('dials an IPv4 host v4-mapped from a family 6 socket', async () => {
    if (!ipv6Loopback) return expect.soft(ipv6Loopback, 'IPv6 is disabled here').toBe(false);
    const server = track(net.createServer((s) => s.end('hi')));
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const client = track(connectTcp({ host: '127.0.0.1', port: portOf(server), family: 6 }));
    expect(await collect(client)).toBe('hi');
    expect(client.remoteAddress).toBe('::ffff:127.0.0.1');
  });

  it('throws synchronously for a hostname, a bad port, or a family mismatch', () => {
    expect(() => connectTcp({ host: 'localhost', port: 80 })).toThrow(TypeError);
    expect(() => connectTcp({ host: '127.0.0.1', port: 0 })).toThrow(TypeError);
    expect(() => connectTcp({ host: '::1', port: 80, family: 4 })).toThrow(TypeError);
  });
});

describe('socketFd', () => {
  it('returns the fd of a connected socket and EBADF once it is destroyed', async () => {
    const server = track(listenTcp({ address: '127.0.0.1', port: 0 }));
    expect(socketFd(server)).toBeGreaterThan(2);
    const client = track(net.connect(portOf(server), '127.0.0.1'));
    await once(client, 'connect');
    expect(getSocketMark(socketFd(client))).toBe(0);
    client.destroy();
    expect(() => socketFd(client)).toThrow(expect.objectContaining({ code: 'EBADF' }));
  });
});

describe('listenTcp on loopback', () => {
  it('is listening on return and serves Node clients', async () => {
    const server = track(listenTcp({ address: '127.0.0.1', port: 0 }, (s) => s.end('hello')));
    expect(portOf(server)).toBeGreaterThan(0);
    const client = track(net.connect(portOf(server), '127.0.0.1'));
    expect(await collect(client)).toBe('hello');
  });

  it('lets two reusePort listeners share a port, and refuses a plain second bind with EADDRINUSE', () => {
    const a = track(listenTcp({ address: '127.0.0.1', port: 0, reusePort: true }));
    const b = track(listenTcp({ address: '127.0.0.1', port: portOf(a), reusePort: true }));
    expect(portOf(b)).toBe(portOf(a));
    expect(() => listenTcp({ address: '127.0.0.1', port: portOf(a) })).toThrow(
      expect.objectContaining({ name: 'NetnsError', code: 'EADDRINUSE', syscall: 'bind' }),
    );
  });

  it('listens on IPv6 loopback', async () => {
    if (!ipv6Loopback) return expect.soft(ipv6Loopback, 'IPv6 is disabled here').toBe(false);
    const server = track(listenTcp({ address: '::1', port: 0, v6Only: true }, (s) => s.end('v6')));
    const client = track(connectTcp({ host: '::1', port: portOf(server) }));
    expect(await collect(client)).toBe('v6');
  });
});

describe.skipIf(isRoot)('socket options without root (the root-only cases skip)', () => {
  it('refuses SO_MARK with EPERM', () => {
    expect(() => createTcpSocket({ family: 4, mark: INPOD_MARK })).toThrow(
      expect.objectContaining({ code: 'EPERM', syscall: 'setsockopt(SO_MARK)' }),
    );
  });
});

describe.skipIf(!isRoot)(`socket options in a throwaway netns (${ROOT_REASON})`, () => {
  let ns: ThrowawayNetns | undefined;
  beforeAll(() => {
    ns = createThrowawayNetns();
    addTestInterface(ns, 'amt0', ['192.0.2.1/24']);
  });
  afterAll(() => ns?.remove());

  it('sets the mark before listen and before connect', async () => {
    const server = track(listenTcp({ netns: ns!.path, address: '0.0.0.0', port: 15001, mark: INPOD_MARK }));
    expect(getSocketMark(server)).toBe(INPOD_MARK);
    const accepted = once(server, 'connection') as Promise<[net.Socket]>;
    const client = track(connectTcp({ netns: ns!.path, host: '192.0.2.1', port: 15001, mark: INPOD_MARK }));
    await once(client, 'connect');
    expect(getSocketMark(client)).toBe(INPOD_MARK);
    const [peer] = await accepted;
    track(peer);
    expect(peer.remoteAddress).toBe('192.0.2.1');
    // A socket made without a mark has none.
    const plain = createTcpSocket({ netns: ns!.path, family: 4 });
    cleanups.push(() => closeFd(plain));
    expect(getSocketMark(plain)).toBe(0);
  });

  it('creates the socket in the netns: its port is free in ours, and its address is only routable there', async () => {
    const server = track(listenTcp({ netns: ns!.path, address: '192.0.2.1', port: 0 }));
    expect(() => createTcpSocket({ family: 4, bind: { address: '192.0.2.1', port: 0 } })).toThrow(
      expect.objectContaining({ code: 'EADDRNOTAVAIL' }),
    );
    expect(portOf(server)).toBeGreaterThan(0);
  });

  it('binds a non-local address only with freebind or transparent', () => {
    const foreign = { address: '203.0.113.7', port: 0 };
    expect(() => createTcpSocket({ netns: ns!.path, family: 4, bind: foreign })).toThrow(
      expect.objectContaining({ code: 'EADDRNOTAVAIL', syscall: 'bind' }),
    );
    closeFd(createTcpSocket({ netns: ns!.path, family: 4, freebind: true, bind: foreign }));
    closeFd(createTcpSocket({ netns: ns!.path, family: 4, transparent: true, bind: foreign }));
    closeFd(createTcpSocket({ netns: ns!.path, family: 6, transparent: true, freebind: true, bind: { address: '2001:db8::7', port: 0 } }));
  });

  it('connects from a spoofed source with transparent + freebind, as ztunnel delivers inbound', async () => {
    // The local route stands in for istio-cni's table-100 policy route, which brings the server's
    // replies to the foreign address back to the transparent socket.
    ns!.exec(['ip', 'route', 'add', 'local', '203.0.113.7/32', 'dev', 'lo']);
    const server = track(listenTcp({ netns: ns!.path, address: '192.0.2.1', port: 0 }));
    const accepted = once(server, 'connection') as Promise<[net.Socket]>;
    const client = track(
      connectTcp({
        netns: ns!.path,
        host: '192.0.2.1',
        port: portOf(server),
        mark: INPOD_MARK,
        transparent: true,
        freebind: true,
        bind: { address: '203.0.113.7', port: 0 },
      }),
    );
    const [peer] = await accepted;
    track(peer);
    expect(peer.remoteAddress).toBe('203.0.113.7');
    await once(client, 'connect');
    expect(client.localAddress).toBe('203.0.113.7');
  });
});

/** The port of a bound fd, read through a Node socket wrapped around a dup of it. */
function boundPortOf(fd: number): number {
  const dup = native().dupFd(fd);
  const s = new net.Socket({ fd: dup, readable: false, writable: false });
  const port = s.localPort;
  s.destroy();
  if (port === undefined) throw new Error('bound socket has no port');
  return port;
}
