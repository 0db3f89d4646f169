// NetnsError: the one error type of lib/netns. The native addon throws it directly (native.ts hands
// it the class), so callers branch on `code` the same way for native and TypeScript failures.
import { constants } from 'node:os';
import { getSystemErrorMessage, getSystemErrorName } from 'node:util';

export class NetnsError extends Error {
  /** errno name, e.g. 'EPERM', 'ENOENT', 'EADDRINUSE'. */
  readonly code: string;
  /** Positive OS errno, comparable with os.constants.errno (Node's own errors use -errno). */
  readonly errno: number;
  /** The failing call, e.g. 'setns', 'bind', 'getsockopt(SO_ORIGINAL_DST)'. */
  readonly syscall: string;

  constructor(errno: number, syscall: string, detail?: string) {
    const code = errnoName(errno);
    super(`${syscall} ${code}: ${errnoMessage(errno)}${detail ? ` (${detail})` : ''}`);
    this.name = 'NetnsError';
    this.code = code;
    this.errno = errno;
    this.syscall = syscall;
  }

  /** For failures detected in TypeScript: `NetnsError.of('EPIPE', 'send', 'socket is closed')`. */
  static of(code: keyof typeof constants.errno, syscall: string, detail?: string): NetnsError {
    return new NetnsError(constants.errno[code], syscall, detail);
  }
}

function errnoName(errno: number): string {
  try {
    return getSystemErrorName(-errno);
  } catch {
    return `ERRNO_${errno}`;
  }
}

function errnoMessage(errno: number): string {
  try {
    return getSystemErrorMessage(-errno);
  } catch {
    return 'unknown error';
  }
}
