// TCP sockets for pod netns work: created natively (inside the netns, with SO_MARK, reuse and
// transparent options set before bind/connect/listen) and then handed to Node as net.Server and
// net.Socket, so the data path keeps using Node's own streams.
import net from 'node:net';
import { native, type NativeTcpOptions } from './native.ts';
import { NetnsHandle, resolveNetnsRef, type NetnsRef } from './netns.ts';
import { socketFd, type FdLike } from './socket-fd.ts';

export interface TcpSocketOptions {
  /** Create the socket inside this netns (path, fd or handle); the socket keeps it for life. */
  netns?: NetnsRef;
  family: 4 | 6;
  /** SO_MARK, set before bind/connect so netfilter sees it on the first packet. Needs CAP_NET_ADMIN. */
  mark?: number;
  reuseAddr?: boolean;
  reusePort?: boolean;
  /** IP_TRANSPARENT / IPV6_TRANSPARENT: bind to (and accept for) non-local addresses. */
  transparent?: boolean;
  /** IP_FREEBIND / IPV6_FREEBIND. */
  freebind?: boolean;
  /** IPV6_V6ONLY for family 6; the kernel default (dual-stack) when unset. */
  v6Only?: boolean;
  bind?: { address: string; port: number };
  /** listen(2) with this backlog. */
  listen?: number;
}

/** Creates a non-blocking, close-on-exec TCP socket; the caller owns the returned fd. */
export function createTcpSocket(opts: TcpSocketOptions): number {
  return native().createTcpSocket(normalize(opts));
}

export interface ListenTcpOptions extends Omit<TcpSocketOptions, 'family' | 'bind' | 'listen'> {
  address: string;
  port: number;
  /** Defaults to the family of `address`. */
  family?: 4 | 6;
  backlog?: number;
  /** Options for net.createServer; allowHalfOpen defaults to true (half-close is preserved). */
  server?: net.ServerOpts;
}

/**
 * A listening net.Server on a natively created socket. Socket errors (EADDRINUSE, EPERM for the
 * mark, ...) are thrown synchronously as NetnsError; `server.address()` is valid on return.
 */
export function listenTcp(opts: ListenTcpOptions, onConnection?: (socket: net.Socket) => void): net.Server {
  const family = opts.family ?? ipFamily(opts.address, 'address');
  const backlog = opts.backlog ?? 511;
  const fd = createTcpSocket({ ...opts, family, bind: { address: opts.address, port: opts.port }, listen: backlog });
  const server = net.createServer({ allowHalfOpen: true, ...opts.server });
  if (onConnection) server.on('connection', onConnection);
  try {
    // exclusive: a cluster worker would otherwise ask the primary to listen, outside our netns.
    server.listen({ fd, backlog, exclusive: true });
  } catch (err) {
    native().closeFd(fd);
    throw err;
  }
  return server;
}

export interface ConnectTcpOptions extends Omit<TcpSocketOptions, 'family' | 'listen'> {
  /** A numeric IP: a name lookup would run later, on another thread, in the wrong netns. */
  host: string;
  port: number;
  /** Defaults to the family of `host`; an IPv4 host on a family 6 socket is dialled v4-mapped. */
  family?: 4 | 6;
  /** Defaults to true: half-close is preserved. */
  allowHalfOpen?: boolean;
}

/** Node's Socket accepts this internal option; it is what keeps an fd-socket from reading early. */
interface SocketFromFdOptions extends net.SocketConstructorOpts {
  manualStart: boolean;
}

/**
 * A net.Socket connecting from a natively created socket (so it lives in `netns`, carries `mark`,
 * and may be bound to a spoofed source). Connection failures arrive as the socket's 'error' event,
 * exactly as for net.connect; option and socket-creation errors are thrown synchronously.
 */
export function connectTcp(opts: ConnectTcpOptions, onConnect?: () => void): net.Socket {
  const hostFamily = ipFamily(opts.host, 'host');
  const family = opts.family ?? hostFamily;
  if (family === 4 && hostFamily === 6) {
    throw new TypeError(`connectTcp: IPv6 host ${opts.host} on a family 4 socket`);
  }
  validatePort(opts.port, 'port', 1);
  const host = family === 6 && hostFamily === 4 ? `::ffff:${opts.host}` : opts.host;
  const fd = createTcpSocket({ ...opts, family, listen: undefined });
  let socket: net.Socket;
  try {
    // The fd is not connected yet: without manualStart, Node would start reading it at once. That
    // happens to be harmless (connect() runs on the next tick, before the loop polls) but depends on
    // ordering inside Node; with manualStart the first read starts in Node's own afterConnect.
    const ctorOpts: SocketFromFdOptions = { fd, allowHalfOpen: opts.allowHalfOpen ?? true, manualStart: true };
    socket = new net.Socket(ctorOpts);
  } catch (err) {
    native().closeFd(fd);
    throw err;
  }
  try {
    socket.connect({ port: opts.port, host }, onConnect);
  } catch (err) {
    socket.destroy();
    throw err;
  }
  return socket;
}

/** SO_MARK of a socket (fd, net.Socket or net.Server). */
export function getSocketMark(socket: FdLike): number {
  return native().getSocketMark(socketFd(socket));
}

function normalize(opts: TcpSocketOptions): NativeTcpOptions {
  if (opts.family !== 4 && opts.family !== 6) throw new TypeError(`createTcpSocket: family must be 4 or 6`);
  if (opts.mark !== undefined && !(Number.isInteger(opts.mark) && opts.mark >= 0 && opts.mark <= 0xffffffff)) {
    throw new TypeError(`createTcpSocket: mark must be a 32-bit unsigned integer, got ${opts.mark}`);
  }
  if (opts.bind) {
    const bindFamily = ipFamily(opts.bind.address, 'bind.address');
    if (bindFamily !== opts.family) {
      throw new TypeError(`createTcpSocket: bind.address ${opts.bind.address} is not IPv${opts.family}`);
    }
    validatePort(opts.bind.port, 'bind.port', 0);
  }
  if (opts.listen !== undefined && !(Number.isInteger(opts.listen) && opts.listen >= 0)) {
    throw new TypeError(`createTcpSocket: listen backlog must be a non-negative integer`);
  }
  if (opts.netns !== undefined && typeof opts.netns !== 'string' && !Number.isInteger(opts.netns) && !(opts.netns instanceof NetnsHandle)) {
    throw new TypeError('createTcpSocket: netns must be a path, an fd or a NetnsHandle');
  }
  return {
    // A handle is resolved here, in the same synchronous call that creates the socket.
    netns: opts.netns === undefined ? null : resolveNetnsRef(opts.netns),
    family: opts.family,
    mark: opts.mark ?? null,
    reuseAddr: opts.reuseAddr ?? false,
    reusePort: opts.reusePort ?? false,
    transparent: opts.transparent ?? false,
    freebind: opts.freebind ?? false,
    v6Only: opts.family === 6 && opts.v6Only !== undefined ? opts.v6Only : null,
    bindAddress: opts.bind?.address ?? null,
    bindPort: opts.bind?.port ?? 0,
    backlog: opts.listen ?? null,
  };
}

export function ipFamily(address: string, what: string): 4 | 6 {
  const f = net.isIP(address);
  if (f === 4 || f === 6) return f;
  throw new TypeError(`${what} must be a numeric IP address, got ${JSON.stringify(address)}`);
}

export function validatePort(port: number, what: string, min: number): void {
  if (!Number.isInteger(port) || port < min || port > 65535) {
    throw new TypeError(`${what} must be an integer in ${min}..65535, got ${port}`);
  }
}
