// lib/netns: everything ztunnel and the CNI agent do below Node's socket API. Entering pod network
// namespaces, making TCP and UDP sockets there (marked, transparent, reuse-port), reading the
// pre-NAT destination, and the SOCK_SEQPACKET + SCM_RIGHTS transport of ZDS (and malloc_trim for
// the idle collector). Linux only; needs the native addon in ./native (built by `npm ci`).
export { NetnsError } from './errors.ts';
export { closeFd, isNetns, NetnsHandle, openNetns, resolveNetnsRef, runInNetns, type NetnsRef } from './netns.ts';
export {
  connectTcp,
  createTcpSocket,
  getSocketMark,
  listenTcp,
  type ConnectTcpOptions,
  type ListenTcpOptions,
  type TcpSocketOptions,
} from './socket.ts';
export { socketFd, type FdLike } from './socket-fd.ts';
export { UdpSocket, type UdpAddress, type UdpRemoteInfo, type UdpSocketOptions } from './udp.ts';
export { getOriginalDst, type SocketAddress } from './original-dst.ts';
export { getPeerCredentials, type PeerCredentials } from './peer-cred.ts';
export { releaseFreeNativeMemory } from './memory.ts';
export {
  MAX_MESSAGE_BYTES,
  MAX_MESSAGE_FDS,
  SeqpacketServer,
  SeqpacketSocket,
  type SeqpacketMessage,
  type SeqpacketServerOptions,
  type SeqpacketSocketOptions,
} from './seqpacket.ts';
