// The bearer token of an xDS (or CA) stream, read from a file at every stream start so a rotated
// projected service-account token is picked up on the next reconnect.
import { readFileSync } from 'node:fs';

/** Reads the token file on each call; a missing file means no token (a lab control plane may not ask for one). */
export function tokenFileReader(path: string): () => string | undefined {
  return () => {
    try {
      return readFileSync(path, 'utf8').trim() || undefined;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw err;
    }
  };
}
