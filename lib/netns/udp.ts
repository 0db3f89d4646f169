// UDP sockets for pod netns work (ztunnel's DNS proxy and its upstream queries). Node's dgram can
// neither adopt an fd nor create its socket synchronously, so the socket is made natively inside the
// netns (marked, SO_REUSEPORT, bound) and driven by uv_poll on Node's own loop, like seqpacket.ts.
import { EventEmitter } from 'node:events';
import { NetnsError } from './errors.ts';
import { native, POLL_READABLE, POLL_WRITABLE, type NativeAddress, type NativePoller } from './native.ts';
import { NetnsHandle, resolveNetnsRef, type NetnsRef } from './netns.ts';
import { ipFamily, validatePort } from './socket.ts';

/** Datagrams read per readiness callback, so one busy peer cannot starve the event loop. */
const BATCH = 64;
/** Datagrams held while the socket buffer is full; beyond this, new ones are dropped (UDP may lose them). */
const MAX_QUEUED = 256;

export interface UdpSocketOptions {
  /** Create the socket inside this netns (path or fd); the socket keeps it for life. */
  netns?: NetnsRef;
  /** Numeric IP to bind; defaults to the wildcard address of `family`. */
  address?: string;
  /** Defaults to 0 (an ephemeral port). */
  port?: number;
  /** Defaults to the family of `address`, else 4. */
  family?: 4 | 6;
  /** SO_MARK, set before bind so netfilter sees it on the first datagram. Needs CAP_NET_ADMIN. */
  mark?: number;
  reusePort?: boolean;
}

export interface UdpRemoteInfo {
  address: string;
  port: number;
  family: 4 | 6;
  /** Bytes received (at most 64 KiB; see `truncated`). */
  size: number;
  /** The datagram was longer than 64 KiB and was cut. */
  truncated: boolean;
}

export type UdpAddress = NativeAddress;

type UdpEvents = {
  message: [Buffer, UdpRemoteInfo];
  /** A receive failed or a queued send failed; the socket stays open. */
  error: [NetnsError];
  close: [];
};

interface Queued {
  data: Buffer;
  port: number;
  address: string;
}

export class UdpSocket extends EventEmitter<UdpEvents> {
  /**
   * A bound UDP socket. Socket errors (EADDRINUSE, EPERM for the mark, ...) are thrown synchronously
   * as NetnsError, so the socket is in its netns and bound when this returns.
   */
  static open(opts: UdpSocketOptions = {}, onMessage?: (data: Buffer, rinfo: UdpRemoteInfo) => void): UdpSocket {
    const addressFamily = opts.address === undefined ? undefined : ipFamily(opts.address, 'address');
    const family = opts.family ?? addressFamily ?? 4;
    if (family !== 4 && family !== 6) throw new TypeError('UdpSocket: family must be 4 or 6');
    if (addressFamily !== undefined && addressFamily !== family) {
      throw new TypeError(`UdpSocket: address ${opts.address} is not IPv${family}`);
    }
    const port = opts.port ?? 0;
    validatePort(port, 'port', 0);
    if (opts.mark !== undefined && !(Number.isInteger(opts.mark) && opts.mark >= 0 && opts.mark <= 0xffffffff)) {
      throw new TypeError(`UdpSocket: mark must be a 32-bit unsigned integer, got ${opts.mark}`);
    }
    if (opts.netns !== undefined && typeof opts.netns !== 'string' && !Number.isInteger(opts.netns) && !(opts.netns instanceof NetnsHandle)) {
      throw new TypeError('UdpSocket: netns must be a path, an fd or a NetnsHandle');
    }
    const fd = native().createUdpSocket({
      netns: opts.netns === undefined ? null : resolveNetnsRef(opts.netns),
      family,
      mark: opts.mark ?? null,
      reusePort: opts.reusePort ?? false,
      bindAddress: opts.address ?? (family === 6 ? '::' : '0.0.0.0'),
      bindPort: port,
    });
    const socket = new UdpSocket(fd, family);
    if (onMessage) socket.on('message', onMessage);
    return socket;
  }

  readonly family: 4 | 6;
  readonly #fd: number;
  readonly #poller: NativePoller;
  #closed = false;
  #queue: Queued[] = [];
  #dropped = 0;

  private constructor(fd: number, family: 4 | 6) {
    super();
    this.family = family;
    this.#fd = fd;
    try {
      this.#poller = native().pollCreate(fd, (status, events) => this.#onReady(status, events));
      native().pollSet(this.#poller, POLL_READABLE);
    } catch (err) {
      native().closeFd(fd);
      throw err;
    }
  }

  /** The socket's fd, for getsockopt-style checks (getSocketMark); still owned by this socket. */
  get fd(): number {
    return this.#fd;
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Datagrams dropped because the send queue was full. */
  get dropped(): number {
    return this.#dropped;
  }

  /** The bound local address (getsockname). */
  address(): UdpAddress {
    if (this.#closed) throw NetnsError.of('EBADF', 'getsockname', 'socket is closed');
    return native().getLocalAddress(this.#fd);
  }

  /**
   * Sends one datagram to a numeric address (an IPv4 address on a family-6 socket goes v4-mapped).
   * Returns true if sent now; false if the socket buffer was full and the datagram was queued (or,
   * with the queue full, dropped). A failure of this send (EPERM from netfilter, ENETUNREACH) is
   * thrown; a failure of a queued one arrives as 'error'. `data` is not copied.
   */
  send(data: Buffer, port: number, address: string): boolean {
    if (this.#closed) throw NetnsError.of('EPIPE', 'sendto', 'socket is closed');
    validatePort(port, 'port', 1);
    const to = this.#target(address);
    if (this.#queue.length === 0 && native().udpSend(this.#fd, data, port, to)) return true;
    if (this.#queue.length >= MAX_QUEUED) {
      this.#dropped++;
      return false;
    }
    this.#queue.push({ data, port, address: to });
    native().pollSet(this.#poller, POLL_READABLE | POLL_WRITABLE);
    return false;
  }

  ref(): this {
    if (!this.#closed) native().pollRef(this.#poller, true);
    return this;
  }

  /** Lets the process exit while this socket is open, as dgram.Socket#unref. */
  unref(): this {
    if (!this.#closed) native().pollRef(this.#poller, false);
    return this;
  }

  /** Closes now, dropping queued datagrams; 'close' is emitted on the next tick. Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    const n = native();
    // The poller must stop watching before the fd number can be reused.
    n.pollClose(this.#poller);
    n.closeFd(this.#fd);
    this.#queue = [];
    process.nextTick(() => this.emit('close'));
  }

  #target(address: string): string {
    const f = ipFamily(address, 'address');
    if (f === this.family) return address;
    if (this.family === 6) return `::ffff:${address}`;
    throw new TypeError(`UdpSocket: cannot send to IPv6 ${address} from an IPv4 socket`);
  }

  #onReady(status: number, events: number): void {
    if (this.#closed) return;
    if (status < 0) {
      this.emit('error', new NetnsError(-status, 'poll'));
      return;
    }
    if (events & POLL_WRITABLE) this.#flush();
    if (events & POLL_READABLE) this.#readSome();
  }

  #readSome(): void {
    const n = native();
    for (let i = 0; i < BATCH && !this.#closed; i++) {
      let d;
      try {
        d = n.udpRecv(this.#fd);
      } catch (err) {
        // A pending socket error (e.g. an ICMP report) is consumed by the failed read.
        this.emit('error', asNetnsError(err));
        return;
      }
      if (d === null) return;
      this.emit('message', d.data, { address: d.address, port: d.port, family: d.family, size: d.data.length, truncated: d.truncated });
    }
  }

  #flush(): void {
    const n = native();
    while (this.#queue.length > 0 && !this.#closed) {
      const head = this.#queue[0]!;
      let sent: boolean;
      try {
        sent = n.udpSend(this.#fd, head.data, head.port, head.address);
      } catch (err) {
        this.#queue.shift();
        this.emit('error', asNetnsError(err));
        continue;
      }
      if (!sent) return;
      this.#queue.shift();
    }
    if (!this.#closed) n.pollSet(this.#poller, POLL_READABLE);
  }
}


function asNetnsError(err: unknown): NetnsError {
  if (err instanceof NetnsError) return err;
  throw err;
}
