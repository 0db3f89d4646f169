// runInNetns, openNetns and isNetns: the setns window always closes, whatever fn does.
import { closeSync, fstatSync, openSync, readdirSync, readlinkSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NetnsError } from './errors.ts';
import { releaseFreeNativeMemory } from './memory.ts';
import { closeFd, isNetns, NetnsHandle, openNetns, runInNetns } from './netns.ts';
import { createThrowawayNetns, isRoot, ROOT_REASON, type ThrowawayNetns } from './throwaway-netns.ts';

const currentNetns = (): string => readlinkSync('/proc/thread-self/ns/net');
const netnsLink = (path: string): string => `net:[${fstatSync(openAndKeep(path)).ino}]`;

const opened: number[] = [];
function openAndKeep(path: string): number {
  const fd = openSync(path, 'r');
  opened.push(fd);
  return fd;
}
afterAll(() => opened.forEach((fd) => closeSync(fd)));

describe('openNetns / isNetns', () => {
  it('opens a netns path and recognises it as one', () => {
    const fd = openNetns('/proc/self/ns/net');
    try {
      expect(isNetns(fd)).toBe(true);
      expect(readlinkSync(`/proc/self/fd/${fd}`)).toBe(currentNetns());
    } finally {
      closeFd(fd);
    }
  });

  it('refuses a missing path with ENOENT and a non-netns file with EINVAL', () => {
    expect(() => openNetns('/nonexistent/amt-netns')).toThrow(expect.objectContaining({ code: 'ENOENT', syscall: 'open' }));
    const err = (() => {
      try {
        openNetns(import.meta.filename);
      } catch (e) {
        return e;
      }
      return undefined;
    })();
    expect(err).toBeInstanceOf(NetnsError);
    expect(err).toMatchObject({ code: 'EINVAL' });
  });

  it('says a regular file fd is not a netns, and rejects a closed fd with EBADF', () => {
    const fd = openSync(import.meta.filename, 'r');
    expect(isNetns(fd)).toBe(false);
    closeSync(fd);
    expect(() => isNetns(fd)).toThrow(expect.objectContaining({ code: 'EBADF' }));
  });
});

describe.skipIf(isRoot)('runInNetns without root (the root-only cases skip)', () => {
  it('fails with EPERM before running fn and leaves the thread where it was', () => {
    const before = currentNetns();
    let ran = false;
    expect(() => runInNetns('/proc/self/ns/net', () => (ran = true))).toThrow(expect.objectContaining({ code: 'EPERM', syscall: 'setns' }));
    expect(ran).toBe(false);
    expect(currentNetns()).toBe(before);
  });
});

describe.skipIf(!isRoot)(`runInNetns (${ROOT_REASON})`, () => {
  let ns: ThrowawayNetns | undefined;
  let other: ThrowawayNetns | undefined;
  beforeAll(() => {
    ns = createThrowawayNetns();
    other = createThrowawayNetns();
  });
  afterAll(() => {
    ns?.remove();
    other?.remove();
  });

  it('runs fn inside the netns and returns its value', () => {
    const before = currentNetns();
    const inside = runInNetns(ns!.path, () => currentNetns());
    expect(inside).toBe(netnsLink(ns!.path));
    expect(inside).not.toBe(before);
    expect(currentNetns()).toBe(before);
  });

  it('returns to the original netns when fn throws, and rethrows', () => {
    const before = currentNetns();
    const boom = new Error('boom');
    expect(() =>
      runInNetns(ns!.path, () => {
        throw boom;
      }),
    ).toThrow(boom);
    expect(currentNetns()).toBe(before);
  });

  it('accepts an open fd and nests, each level returning to its caller', () => {
    const before = currentNetns();
    const fd = openNetns(other!.path);
    try {
      const seen = runInNetns(ns!.path, () => {
        const inner = runInNetns(fd, () => currentNetns());
        return { inner, afterInner: currentNetns() };
      });
      expect(seen.inner).toBe(netnsLink(other!.path));
      expect(seen.afterInner).toBe(netnsLink(ns!.path));
      expect(currentNetns()).toBe(before);
    } finally {
      closeFd(fd);
    }
  });

  it('keeps no fd from a window: the thread\'s own netns is opened once, not per window', () => {
    const fds = () => readdirSync('/proc/self/fd').length;
    runInNetns(ns!.path, () => undefined); // the first window of this thread opens its home netns fd
    const before = fds();
    for (let i = 0; i < 200; i++) runInNetns(ns!.path, () => runInNetns(other!.path, () => undefined));
    expect(fds()).toBe(before);
  });

  it('rejects a promise-returning fn (async work would escape the netns) after returning', () => {
    const before = currentNetns();
    expect(() => runInNetns(ns!.path, async () => 1)).toThrow(/must be synchronous/);
    expect(currentNetns()).toBe(before);
  });

  it('fails cleanly for a path that is not a netns', () => {
    const before = currentNetns();
    expect(() => runInNetns('/nonexistent/amt-netns', () => 1)).toThrow(expect.objectContaining({ code: 'ENOENT' }));
    expect(() => runInNetns(import.meta.filename, () => 1)).toThrow(expect.objectContaining({ code: 'EINVAL', syscall: 'setns' }));
    expect(currentNetns()).toBe(before);
  });
});

describe('NetnsHandle', () => {
  it('counts its users, closes the fd with the last release, and refuses any use after that', () => {
    const h = NetnsHandle.open('/proc/self/ns/net');
    const fd = h.fd;
    expect(isNetns(fd)).toBe(true);
    h.retain();
    h.release();
    expect(h.released).toBe(false);
    expect(isNetns(h.fd)).toBe(true); // still open: one user left
    h.release();
    expect(h.released).toBe(true);
    expect(() => h.fd).toThrow(NetnsError);
    expect(() => h.fd).toThrow(/EBADF.*released/);
    expect(() => h.retain()).toThrow(NetnsError);
    expect(() => runInNetns(h, () => 1)).toThrow(/EBADF/);
    // The number is free again: the next open may take it, and the handle never reaches it.
    const other = openNetns('/proc/self/ns/net');
    try {
      expect(other).toBe(fd);
      expect(() => h.fd).toThrow(NetnsError);
    } finally {
      closeFd(other);
    }
    h.release(); // extra releases are ignored (no double close of a reused number)
  });

  it('adopts a received fd and refuses what is not one', () => {
    const h = NetnsHandle.adopt(openNetns('/proc/self/ns/net'));
    expect(runInNetns(h, () => currentNetns())).toBe(currentNetns());
    h.release();
    expect(() => NetnsHandle.adopt(-1)).toThrow(TypeError);
  });
});

describe('releaseFreeNativeMemory', () => {
  it('returns whether malloc_trim gave memory back, and never throws', () => {
    expect(typeof releaseFreeNativeMemory()).toBe('boolean');
  });
});
