// Taking an accepted, redirected connection: errors on it are handled by its path (never thrown at
// the process), and its original destination is read once; a socket without one is dropped.
import type net from 'node:net';

export type OriginalDst = (socket: net.Socket) => { ip: string; port: number };

export function acceptRedirected(downstream: net.Socket, originalDst: OriginalDst): { ip: string; port: number } | undefined {
  downstream.on('error', () => {});
  try {
    return originalDst(downstream);
  } catch {
    downstream.destroy();
    return undefined;
  }
}
