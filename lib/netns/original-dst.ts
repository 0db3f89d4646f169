// The destination a connection had before nat REDIRECT sent it to our listener (SO_ORIGINAL_DST),
// which is how the outbound (15001) and inbound plaintext (15006) listeners learn the real target.
import { native } from './native.ts';
import { socketFd, type FdLike } from './socket-fd.ts';

export interface SocketAddress {
  address: string;
  port: number;
  family: 4 | 6;
}

/**
 * Asks conntrack for the pre-NAT destination of an accepted TCP socket: IPv4 first (this also
 * answers for IPv4 peers of a dual-stack [::] listener, reported as family 4), then IPv6.
 * A tracked connection that was not NATed answers with its real destination. NetnsError ENOENT
 * means conntrack has no entry (nothing in that netns uses it); ztunnel then uses the local address.
 */
export function getOriginalDst(socket: FdLike): SocketAddress {
  return native().getOriginalDst(socketFd(socket));
}
