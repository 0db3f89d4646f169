// The HTTP side of the kubelet's streaming endpoints: the stream-protocol handshake
// (X-Stream-Protocol-Version, as k8s.io/apimachinery's httpstream.Handshake negotiates it), the
// SPDY upgrade response, and plain responses written to a raw socket (Node hands upgrade requests
// over without a ServerResponse).
import type { IncomingHttpHeaders, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { SPDY_PROTOCOL } from './spdy.ts';

export const PROTOCOL_HEADER = 'x-stream-protocol-version';

export type Negotiation =
  | { kind: 'ok'; protocol: string }
  | { kind: 'error'; status: number; message: string; headers?: Record<string, string[]> };

/** Header values as Node gives them, split at commas, trimmed, empties dropped. Pure. */
export function headerList(v: string | string[] | undefined): string[] {
  const all = v === undefined ? [] : Array.isArray(v) ? v : [v];
  return all.flatMap((x) => x.split(',')).map((x) => x.trim()).filter(Boolean);
}

/** The first of the client's protocols that the server supports (the client's order wins). Pure. */
export function negotiate(clientHeader: string | string[] | undefined, server: readonly string[]): Negotiation {
  if (clientHeader === undefined) return { kind: 'error', status: 400, message: 'unable to upgrade: header X-Stream-Protocol-Version does not exist in request' };
  const client = headerList(clientHeader);
  if (!client.length) return { kind: 'error', status: 400, message: `unable to upgrade: header X-Stream-Protocol-Version contains ${JSON.stringify(clientHeader)}, but no valid protocols` };
  const chosen = client.find((c) => server.includes(c));
  if (!chosen) {
    return {
      kind: 'error', status: 403,
      message: `unable to upgrade: unable to negotiate protocol: client supports [${client.join(' ')}], server accepts [${server.join(' ')}]`,
      headers: { 'X-Accepted-Stream-Protocol-Versions': [...server] },
    };
  }
  return { kind: 'ok', protocol: chosen };
}

export function isWebSocketUpgrade(h: IncomingHttpHeaders): boolean {
  return headerList(h.connection).some((c) => c.toLowerCase() === 'upgrade') && String(h.upgrade ?? '').toLowerCase() === 'websocket';
}

export function isSpdyUpgrade(h: IncomingHttpHeaders): boolean {
  return headerList(h.connection).some((c) => c.toLowerCase() === 'upgrade') && String(h.upgrade ?? '').toLowerCase() === SPDY_PROTOCOL.toLowerCase();
}

/** Where a handler's plain (non-upgraded) answer goes: a ServerResponse, or the raw socket of an upgrade request. */
export interface Reply {
  error(status: number, message: string, headers?: Record<string, string | string[]>): void;
}

const REASONS: Record<number, string> = {
  400: 'Bad Request', 401: 'Unauthorized', 403: 'Forbidden', 404: 'Not Found', 405: 'Method Not Allowed',
  422: 'Unprocessable Entity', 500: 'Internal Server Error',
};

export function socketReply(socket: Duplex): Reply {
  return {
    error(status, message, headers = {}) {
      if (socket.destroyed) return;
      const body = `${message}\n`;
      const lines = [`HTTP/1.1 ${status} ${REASONS[status] ?? 'Error'}`, 'Content-Type: text/plain; charset=utf-8',
        `Content-Length: ${Buffer.byteLength(body)}`, 'Connection: close'];
      for (const [k, v] of Object.entries(headers)) for (const x of Array.isArray(v) ? v : [v]) lines.push(`${k}: ${x}`);
      socket.end(`${lines.join('\r\n')}\r\n\r\n${body}`);
    },
  };
}

export function responseReply(res: ServerResponse): Reply {
  return {
    error(status, message, headers = {}) {
      if (res.headersSent) {
        res.end();
        return;
      }
      res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', 'x-content-type-options': 'nosniff', ...headers });
      res.end(`${message}\n`);
    },
  };
}

/** The 101 that switches the socket to SPDY with the negotiated stream protocol. */
export function writeSpdySwitch(socket: Duplex, protocol: string): void {
  socket.write(['HTTP/1.1 101 Switching Protocols', 'Connection: Upgrade', `Upgrade: ${SPDY_PROTOCOL}`,
    `X-Stream-Protocol-Version: ${protocol}`, '', ''].join('\r\n'));
}
