// Loads the native addon (native/build/Release/netns.node) once and types its raw surface. Only the
// modules of lib/netns call it; everyone else uses their typed wrappers.
import { createRequire } from 'node:module';
import { NetnsError } from './errors.ts';

/** The option bag createTcpSocket expects, fully normalised (no undefined) by socket.ts. */
export interface NativeTcpOptions {
  netns: string | number | null;
  family: 4 | 6;
  mark: number | null;
  reuseAddr: boolean;
  reusePort: boolean;
  transparent: boolean;
  freebind: boolean;
  v6Only: boolean | null;
  bindAddress: string | null;
  bindPort: number;
  backlog: number | null;
}

export interface NativeAddress {
  address: string;
  port: number;
  family: 4 | 6;
}

/** The option bag createUdpSocket expects, normalised by udp.ts. */
export interface NativeUdpOptions {
  netns: string | number | null;
  family: 4 | 6;
  mark: number | null;
  reusePort: boolean;
  bindAddress: string;
  bindPort: number;
}

export interface NativeDatagram extends NativeAddress {
  data: Buffer;
  /** The datagram was longer than the receive buffer (64 KiB); `data` holds its start. */
  truncated: boolean;
}

export interface NativeMessage {
  data: Buffer;
  fds: number[];
  eof: boolean;
}

/** SO_PEERCRED of a unix socket: the peer process as it was at connect() time. */
export interface NativePeerCred {
  pid: number;
  uid: number;
  gid: number;
}

/** Opaque uv_poll handle. */
export interface NativePoller {
  readonly __poller: unique symbol;
}

export const POLL_READABLE = 1;
export const POLL_WRITABLE = 2;

export interface NativeBinding {
  init(errorClass: typeof NetnsError): void;
  enterNetns(netns: string | number): number;
  leaveNetns(savedFd: number): void;
  openNetns(path: string): number;
  isNetns(fd: number): boolean;
  closeFd(fd: number): void;
  dupFd(fd: number): number;
  createTcpSocket(opts: NativeTcpOptions): number;
  getOriginalDst(fd: number): NativeAddress;
  getSocketMark(fd: number): number;
  seqpacketListen(path: string, backlog: number): number;
  seqpacketConnect(path: string): number;
  seqpacketPair(): [number, number];
  seqpacketAccept(fd: number): number;
  seqpacketSend(fd: number, data: Buffer, fds: readonly number[]): boolean;
  seqpacketRecv(fd: number, maxBytes: number, maxFds: number): NativeMessage | null;
  createUdpSocket(opts: NativeUdpOptions): number;
  udpSend(fd: number, data: Buffer, port: number, address: string): boolean;
  udpRecv(fd: number): NativeDatagram | null;
  getLocalAddress(fd: number): NativeAddress;
  pollCreate(fd: number, onReady: (status: number, events: number) => void): NativePoller;
  pollSet(poller: NativePoller, events: number): void;
  pollRef(poller: NativePoller, ref: boolean): void;
  pollClose(poller: NativePoller): void;
  getPeerCred(fd: number): NativePeerCred;
  mallocTrim(): boolean;
}

let binding: NativeBinding | undefined;

/** Lazy, so that importing lib/netns never fails on a machine where only pure code is used. */
export function native(): NativeBinding {
  if (binding) return binding;
  const require = createRequire(import.meta.url);
  let loaded: NativeBinding;
  try {
    loaded = require('./native/build/Release/netns.node') as NativeBinding;
  } catch (err) {
    const why = err instanceof Error ? err.message : String(err);
    throw new Error(
      `lib/netns: native addon not built; run \`npm ci\` or \`node-gyp rebuild --directory lib/netns/native\` (${why})`,
      { cause: err },
    );
  }
  loaded.init(NetnsError);
  binding = loaded;
  return loaded;
}
