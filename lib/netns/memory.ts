// The C heap's free memory back to the kernel (glibc malloc_trim), for the idle collector: after a
// burst, freed TLS and HTTP/2 state stays resident in malloc's arenas until trimmed.
import { native } from './native.ts';

/** True when memory was returned. */
export function releaseFreeNativeMemory(): boolean {
  return native().mallocTrim();
}
