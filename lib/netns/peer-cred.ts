// The credentials of the process on the other end of a unix socket (SO_PEERCRED), as the kernel
// recorded them when it connected: what a listener checks before trusting a peer (the ZDS server
// hands pod network namespaces only to root or to ztunnel's configured uid).
import { native } from './native.ts';

export interface PeerCredentials {
  pid: number;
  uid: number;
  gid: number;
}

/** Throws NetnsError (EBADF, ENOTSOCK, ENOTCONN…) when `fd` is not a connected unix socket. */
export function getPeerCredentials(fd: number): PeerCredentials {
  return native().getPeerCred(fd);
}
