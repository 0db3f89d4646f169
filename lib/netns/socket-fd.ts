// The fd behind a Node socket or server, for the socket options Node has no API for.
import type { Server, Socket } from 'node:net';
import { NetnsError } from './errors.ts';

/** A raw fd, or a Node socket/server whose fd should be used. */
export type FdLike = number | Socket | Server;

/**
 * The fd of a connected (or accepted) net.Socket or a listening net.Server. Node does not document
 * `_handle.fd`, so its absence (closed, still connecting, or a non-fd handle) is an EBADF here rather
 * than an undefined passed to a syscall.
 */
export function socketFd(target: FdLike): number {
  if (typeof target === 'number') return target;
  const handle = (target as unknown as { _handle?: { fd?: unknown } | null })._handle;
  const fd = handle?.fd;
  if (typeof fd !== 'number' || !Number.isInteger(fd) || fd < 0) {
    throw NetnsError.of('EBADF', 'socketFd', 'socket has no open fd (closed, or not yet created)');
  }
  return fd;
}
