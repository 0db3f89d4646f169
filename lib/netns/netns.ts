// Entering network namespaces from the JS thread: a synchronous setns window around a callback, and
// opening/closing netns fds (e.g. the one ZDS sends per pod).
import { NetnsError } from './errors.ts';
import { native } from './native.ts';

/**
 * An open netns fd with an explicit lifetime. A raw fd number outlives its close: the number is
 * reused by the next open (another pod's netns from ZDS), so a socket created later "in" it would
 * land in the wrong pod. A handle is counted instead: `retain()` per user, `release()` when done,
 * the fd closes with the last release, and every use after that fails (`fd` throws EBADF) rather
 * than reaching whatever reuses the number. Socket creation reads `fd` synchronously, inside the
 * call that creates the socket, so a released handle can never be half-used.
 */
export class NetnsHandle {
  #fd: number;
  #refs = 1;

  private constructor(fd: number) {
    this.#fd = fd;
  }

  /** Takes ownership of `fd` (e.g. received over ZDS); the one reference is the caller's. */
  static adopt(fd: number): NetnsHandle {
    if (!Number.isInteger(fd) || fd < 0) throw new TypeError(`NetnsHandle: not an fd: ${fd}`);
    return new NetnsHandle(fd);
  }

  /** Opens a netns path (checked to be a network namespace). */
  static open(path: string): NetnsHandle {
    return new NetnsHandle(openNetns(path));
  }

  /** The fd, for a synchronous use right now; throws once the last reference is gone. */
  get fd(): number {
    if (this.#refs === 0) throw NetnsError.of('EBADF', 'netns', 'the netns handle was released (its pod is gone)');
    return this.#fd;
  }

  get released(): boolean {
    return this.#refs === 0;
  }

  /** One more user; each retain needs its own release. */
  retain(): this {
    if (this.#refs === 0) throw NetnsError.of('EBADF', 'netns', 'cannot retain a released netns handle');
    this.#refs++;
    return this;
  }

  /** Drops one reference; the last one closes the fd. Extra releases are ignored. */
  release(): void {
    if (this.#refs === 0) return;
    this.#refs--;
    if (this.#refs === 0) {
      const fd = this.#fd;
      this.#fd = -1;
      native().closeFd(fd);
    }
  }
}

/** A network namespace: a path (/run/netns/x, /proc/<pid>/ns/net), an open fd to one, or a handle. */
export type NetnsRef = string | number | NetnsHandle;

/** What the native calls take: a handle resolved to its fd now (throws if released). */
export function resolveNetnsRef(ref: NetnsRef): string | number {
  return ref instanceof NetnsHandle ? ref.fd : ref;
}

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
  const saved = n.enterNetns(resolveNetnsRef(netns));
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
