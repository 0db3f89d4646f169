// The DNS proxy's listeners inside one pod netns (fact sheet §2.5): UDP and TCP on 127.0.0.1:15053,
// where the pod's rules redirect port 53. Both are marked and SO_REUSEPORT, like every ztunnel socket
// in a pod. TCP carries DNS messages with a 2-byte length prefix (RFC 1035 §4.2.2; RFC 7766 allows
// several queries per connection, answered as they complete).
import type net from 'node:net';
import type { Logger } from '../../../lib/log/logger.ts';
import { listenTcp, UdpSocket, type NetnsRef } from '../../../lib/netns/index.ts';
import type { DnsHandler } from './handler.ts';

export const DNS_PROXY_PORT = 15053;

/** A TCP client idle this long (nothing asked, nothing pending) is closed (RFC 7766 suggests seconds). */
const TCP_IDLE_TIMEOUT_MS = 10_000;
/** Queries one TCP connection may have outstanding before we stop reading from it. */
const TCP_MAX_PENDING = 32;

export interface DnsServerOptions {
  netns?: NetnsRef;
  address: string;
  port: number;
  mark?: number;
  reusePort?: boolean;
  handle: DnsHandler;
  log: Logger;
  tcpIdleTimeoutMs?: number;
}

export interface DnsServer {
  udp: UdpSocket;
  tcp: net.Server;
  /** Stops both listeners and closes open TCP clients. */
  close(): void;
}

/** Opens both listeners synchronously (inside the netns); a bind failure is thrown as NetnsError. */
export function startDnsServer(opts: DnsServerOptions): DnsServer {
  if (opts.port !== 0) return openDnsServer(opts);
  // Port 0 (tests): UDP picks a free port and TCP joins it, which another socket may hold.
  for (let attempt = 1; ; attempt++) {
    try {
      return openDnsServer(opts);
    } catch (err) {
      if ((err as { code?: string }).code !== 'EADDRINUSE' || attempt >= 10) throw err;
    }
  }
}

function openDnsServer(opts: DnsServerOptions): DnsServer {
  const base = { ...(opts.netns !== undefined ? { netns: opts.netns } : {}), ...(opts.mark !== undefined ? { mark: opts.mark } : {}), reusePort: opts.reusePort ?? true };
  const log = opts.log;
  const udp = UdpSocket.open({ ...base, address: opts.address, port: opts.port });
  udp.on('error', (err) => log.warn({ err: err.message }, 'dns udp socket error'));
  udp.on('message', (data, rinfo) => {
    opts.handle(data, 'udp').then(
      (response) => {
        if (!response || udp.closed) return;
        try {
          udp.send(response, rinfo.port, rinfo.address);
        } catch (err) {
          log.debug({ client: `${rinfo.address}:${rinfo.port}`, err: (err as Error).message }, 'dns reply not sent');
        }
      },
      (err: unknown) => log.error({ err: (err as Error).message }, 'dns handler failed'),
    );
  });

  const clients = new Set<net.Socket>();
  let tcp: net.Server;
  try {
    // Port 0 (tests): TCP takes the port UDP was given, so one port serves both as on 15053.
    tcp = listenTcp({ ...base, address: opts.address, port: opts.port || udp.address().port }, (socket) => {
      clients.add(socket);
      socket.on('close', () => clients.delete(socket));
      serveTcpClient(socket, opts.handle, log, opts.tcpIdleTimeoutMs ?? TCP_IDLE_TIMEOUT_MS);
    });
  } catch (err) {
    udp.close();
    throw err;
  }
  tcp.on('error', (err) => log.warn({ err: err.message }, 'dns tcp listener error'));
  return {
    udp,
    tcp,
    close: () => {
      udp.close();
      tcp.close();
      for (const c of clients) c.destroy();
      clients.clear();
    },
  };
}

function serveTcpClient(socket: net.Socket, handle: DnsHandler, log: Logger, idleMs: number): void {
  let buffered: Buffer = Buffer.alloc(0);
  let pending = 0;
  let ended = false;
  socket.setNoDelay(true);
  socket.setTimeout(idleMs, () => {
    if (pending === 0) socket.destroy();
  });
  socket.on('error', (err) => log.debug({ err: err.message }, 'dns tcp client error'));
  const finishIfDone = (): void => {
    if (ended && pending === 0 && !socket.destroyed) socket.end();
  };
  socket.on('end', () => {
    ended = true;
    finishIfDone();
  });
  socket.on('data', (chunk: Buffer) => {
    buffered = buffered.length ? Buffer.concat([buffered, chunk]) : chunk;
    while (buffered.length >= 2) {
      const len = buffered.readUInt16BE(0);
      if (buffered.length < 2 + len) break;
      const message = Buffer.from(buffered.subarray(2, 2 + len));
      buffered = buffered.subarray(2 + len);
      pending++;
      if (pending >= TCP_MAX_PENDING) socket.pause();
      handle(message, 'tcp').then(
        (response) => {
          if (response && response.length > 0xffff) {
            log.warn({ bytes: response.length }, 'dns reply too long for tcp framing');
            socket.destroy();
          } else if (response && !socket.destroyed && socket.writable) {
            const frame = Buffer.alloc(2 + response.length);
            frame.writeUInt16BE(response.length, 0);
            response.copy(frame, 2);
            socket.write(frame);
          } else if (!response) {
            // A message we cannot even answer FORMERR to: the stream cannot be trusted further.
            socket.destroy();
          }
        },
        (err: unknown) => {
          log.error({ err: (err as Error).message }, 'dns handler failed');
          socket.destroy();
        },
      ).finally(() => {
        pending--;
        if (pending < TCP_MAX_PENDING && socket.isPaused()) socket.resume();
        finishIfDone();
      });
    }
  });
}
