// The listeners ztunnel opens *inside* one pod's network namespace (fact sheet §2.5): 15001 outbound,
// 15006 inbound plaintext and 15008 HBONE on the wildcard address, each with the in-pod mark and
// SO_REUSEPORT so an old and a new ztunnel can share them during a restart.
import type net from 'node:net';
import { writeFileSync } from 'node:fs';
import { listenTcp, NetnsError, runInNetns, type NetnsRef } from '../../../lib/netns/index.ts';

export const INPOD_MARK = 0x539;

export interface PodPorts {
  outbound: number;
  inboundPlaintext: number;
  hbone: number;
}

export const ISTIO_POD_PORTS: PodPorts = { outbound: 15001, inboundPlaintext: 15006, hbone: 15008 };

export interface PodListenerHandlers {
  outbound: (socket: net.Socket) => void;
  inboundPlaintext: (socket: net.Socket) => void;
  hbone: (socket: net.Socket) => void;
}

/** A listener failed to accept (EMFILE, ENFILE, ENOBUFS) or a handler threw; the listener keeps serving. */
export type PodListenerErrorHandler = (listener: keyof PodPorts, kind: 'accept' | 'handler', err: unknown) => void;

export interface PodListeners {
  servers: Record<keyof PodPorts, net.Server>;
  /** Stops accepting; connections already accepted are left to drain. */
  close(): void;
}

/**
 * Opens the three listeners in `netns`. IP_TRANSPARENT is best effort (the
 * inbound path binds to the client's address when it can); a failure to listen is thrown typed.
 */
export function openPodListeners(
  netns: NetnsRef,
  handlers: PodListenerHandlers,
  opts: { ports?: PodPorts; family?: 4 | 6; onError?: PodListenerErrorHandler } = {},
): PodListeners {
  const ports = opts.ports ?? ISTIO_POD_PORTS;
  const family = opts.family ?? 4;
  const address = family === 6 ? '::' : '0.0.0.0';
  const onError = opts.onError ?? (() => undefined);
  const opened: net.Server[] = [];
  enableRequestMigration(netns);
  const open = (name: keyof PodPorts, port: number, handler: (s: net.Socket) => void): net.Server => {
    const base = { netns, address, port, family, mark: INPOD_MARK, reusePort: true, server: { allowHalfOpen: true, pauseOnConnect: false, noDelay: true } };
    // The last line of defence for every pod on the node: an exception in a 'connection' listener
    // would be uncaught and end the process, so it resets that one connection instead.
    const onConnection = (s: net.Socket): void => {
      try {
        handler(s);
      } catch (err) {
        s.on('error', () => undefined);
        if (!s.destroyed) s.resetAndDestroy();
        onError(name, 'handler', err);
      }
    };
    let server: net.Server;
    try {
      server = listenTcp({ ...base, transparent: true }, onConnection);
    } catch (err) {
      if (!(err instanceof NetnsError) || err.code !== 'EPERM') throw err;
      server = listenTcp(base, onConnection);
    }
    // Node reports a failed accept(2) (EMFILE when fds run out) as the server's 'error'; without a
    // listener that is an uncaught exception. The server keeps listening; the connection waits in
    // the backlog (or is dropped by libuv's EMFILE handling) and the client sees a reset.
    server.on('error', (err) => onError(name, 'accept', err));
    opened.push(server);
    return server;
  };
  try {
    const servers = {
      outbound: open('outbound', ports.outbound, handlers.outbound),
      inboundPlaintext: open('inboundPlaintext', ports.inboundPlaintext, handlers.inboundPlaintext),
      hbone: open('hbone', ports.hbone, handlers.hbone),
    };
    return {
      servers,
      close: () => {
        for (const s of opened) s.close();
      },
    };
  } catch (err) {
    for (const s of opened) s.close();
    throw err;
  }
}

/**
 * With several ztunnels sharing a port (SO_REUSEPORT) during a restart, closing the old listener
 * would reset the connections still in its accept queue; tcp_migrate_req (Linux 5.14+, per netns)
 * hands them to the new listener instead. Best effort: older kernels just lack the knob.
 */
function enableRequestMigration(netns: NetnsRef): void {
  try {
    runInNetns(netns, () => writeFileSync('/proc/sys/net/ipv4/tcp_migrate_req', '1'));
  } catch {
    /* not supported here */
  }
}
