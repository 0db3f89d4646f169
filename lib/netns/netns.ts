// Entering network namespaces from the JS thread: a synchronous setns window around a callback, and
// opening/closing netns fds (e.g. the one ZDS sends per pod).
import { native } from './native.ts';

/** A network namespace: a path (/run/netns/x, /proc/<pid>/ns/net) or an open fd to one. */
export type NetnsRef = string | number;

/**
 * Runs `fn` with the calling thread inside `netns`, then returns to the netns the thread was in,
 * also when `fn` throws. If returning fails the process aborts: continuing would put every later
 * socket of this thread into the wrong namespace.
 *
 * Only work done synchronously inside `fn` happens in `netns`. Node starts connect(), DNS lookups
 * and listen-by-hostname on later ticks or other threads, so use createTcpSocket/connectTcp/
 * listenTcp (which create the socket inside the window) rather than net.connect here.
 */
export function runInNetns<T>(netns: NetnsRef, fn: () => T): T {
  const n = native();
  const saved = n.enterNetns(netns);
  let result: T;
  try {
    result = fn();
  } finally {
    n.leaveNetns(saved);
  }
  if (isThenable(result)) {
    // Everything after the first await already ran outside the netns: a caller bug, not a runtime
    // condition. The promise is observed so its own rejection does not also surface as unhandled.
    result.then(undefined, () => undefined);
    throw new TypeError('runInNetns: fn returned a promise; work inside a netns must be synchronous');
  }
  return result;
}

/** Opens a netns path (O_CLOEXEC) after checking it really is a network namespace. */
export function openNetns(path: string): number {
  return native().openNetns(path);
}

/** True if `fd` refers to a network namespace (ioctl NS_GET_NSTYPE), e.g. to validate a ZDS fd. */
export function isNetns(fd: number): boolean {
  return native().isNetns(fd);
}

/** Closes any fd handed out by lib/netns (netns fds, received SCM_RIGHTS fds, unwrapped sockets). */
export function closeFd(fd: number): void {
  native().closeFd(fd);
}

function isThenable(v: unknown): v is PromiseLike<unknown> {
  return (
    (typeof v === 'object' || typeof v === 'function') &&
    v !== null &&
    typeof (v as { then?: unknown }).then === 'function'
  );
}
