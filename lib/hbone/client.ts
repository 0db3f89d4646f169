// One HBONE client connection: TCP (on a socket the caller created, e.g. inside a pod netns with
// the in-pod mark), TLS 1.3 with the source workload's certificate and no SNI, verification of the
// server's SPIFFE identity, then an HTTP/2 session; and CONNECT streams opened on that session.
import http2 from 'node:http2';
import { isIPv6, type Socket as NetSocket } from 'node:net';
import tls from 'node:tls';
import type { WorkloadCertificate } from '../identity/certificate.ts';
import type { SpiffeIdentity } from '../identity/spiffe.ts';
import { buildConnectHeaders, type ConnectHeaders } from './connect-request.ts';
import { asHboneError, HboneError } from './errors.ts';
import { startKeepalive } from './keepalive.ts';
import { checkServerIdentity, peerCertificateIdentity } from './peer-verify.ts';
import {
  ALPN_H2,
  CLIENT_H2_SETTINGS,
  CONNECT_RESPONSE_TIMEOUT_MS,
  CONNECT_TIMEOUT_MS,
  CONNECTION_WINDOW_SIZE,
  DEFAULT_KEEPALIVE,
  HANDSHAKE_TIMEOUT_MS,
  MAX_SESSION_MEMORY_MB,
  POOL_MAX_STREAMS_PER_CONNECTION,
  type KeepaliveOptions,
} from './settings.ts';
import { secureContextFor } from './tls-context.ts';

export interface DialOptions {
  /** Creates the TCP socket and starts connecting it (synchronously, e.g. inside a pod netns). */
  connectSocket: () => NetSocket;
  /** The source workload's bundle: client certificate and trust roots. */
  certificate: WorkloadCertificate;
  /** The server must present one of these SPIFFE ids. */
  expectedIdentities: readonly string[];
  connectTimeoutMs?: number;
  handshakeTimeoutMs?: number;
  keepalive?: KeepaliveOptions | false;
}

export interface HboneClientConnection {
  session: http2.ClientHttp2Session;
  socket: tls.TLSSocket;
  /** The server's verified identity. */
  peerIdentity: SpiffeIdentity;
}

/** Dials TCP, TLS and HTTP/2; every failure is an HboneError with a phase-specific code. */
export async function dialHbone(opts: DialOptions): Promise<HboneClientConnection> {
  const tcp = await connectTcp(opts.connectSocket, opts.connectTimeoutMs ?? CONNECT_TIMEOUT_MS);
  tcp.setNoDelay(true); // small HTTP/2 frames (a request's HEADERS, then DATA) go out at once
  const { socket, peerIdentity } = await handshakeTls(tcp, opts);
  // The URL only names the session; every request carries its own :authority.
  const host = tcp.remoteAddress ?? 'hbone.invalid';
  const session = http2.connect(`https://${isIPv6(host) ? `[${host}]` : host}`, {
    createConnection: () => socket,
    settings: CLIENT_H2_SETTINGS,
    maxSessionMemory: MAX_SESSION_MEMORY_MB,
    // Assumed until the server's SETTINGS arrive; the pool never asks for more than this anyway.
    peerMaxConcurrentStreams: POOL_MAX_STREAMS_PER_CONNECTION,
  });
  session.on('error', () => undefined); // surfaced to streams and through 'close'
  // The sockets under HBONE are half-open capable (tunnels carry half-close inside streams), so a
  // server that goes away without GOAWAY (killed) only shows as the end of the TLS stream; HTTP/2
  // has no half-closed connection, so that is the end of the session, not a wait for PINGs to fail.
  socket.once('end', () => session.destroy());
  session.setLocalWindowSize(CONNECTION_WINDOW_SIZE);
  if (opts.keepalive !== false) startKeepalive(session, opts.keepalive ?? DEFAULT_KEEPALIVE);
  return { session, socket, peerIdentity };
}

function connectTcp(connectSocket: () => NetSocket, timeoutMs: number): Promise<NetSocket> {
  let socket: NetSocket;
  try {
    socket = connectSocket();
  } catch (err) {
    return Promise.reject(asHboneError(err, 'HBONE_CONNECT_FAILED', 'could not create the HBONE socket'));
  }
  if (!socket.connecting && !socket.destroyed && socket.remoteAddress) return Promise.resolve(socket);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      done();
      socket.destroy();
      reject(new HboneError('HBONE_CONNECT_TIMEOUT', `connection timed out after ${timeoutMs} ms, maybe a NetworkPolicy is blocking HBONE port 15008`));
    }, timeoutMs);
    const onConnect = (): void => {
      done();
      resolve(socket);
    };
    const onError = (err: Error): void => {
      done();
      socket.destroy();
      reject(asHboneError(err, 'HBONE_CONNECT_FAILED', 'HBONE connect failed'));
    };
    const onClose = (): void => onError(new Error('socket closed while connecting'));
    const done = (): void => {
      clearTimeout(timer);
      socket.off('connect', onConnect).off('error', onError).off('close', onClose);
    };
    socket.once('connect', onConnect).once('error', onError).once('close', onClose);
  });
}

function handshakeTls(tcp: NetSocket, opts: DialOptions): Promise<{ socket: tls.TLSSocket; peerIdentity: SpiffeIdentity }> {
  const timeoutMs = opts.handshakeTimeoutMs ?? HANDSHAKE_TIMEOUT_MS;
  return new Promise((resolve, reject) => {
    const socket = tls.connect({
      socket: tcp,
      secureContext: secureContextFor(opts.certificate),
      ALPNProtocols: [ALPN_H2],
      // No SNI: an empty servername is never sent, and there is no host for Node to default to.
      servername: '',
      rejectUnauthorized: true,
      // The hostname check does not apply; the SPIFFE identity is checked below instead.
      checkServerIdentity: () => undefined,
    });
    const timer = setTimeout(() => fail(new HboneError('HBONE_TLS_TIMEOUT', `TLS handshake did not complete within ${timeoutMs} ms`)), timeoutMs);
    const fail = (err: HboneError): void => {
      done();
      socket.destroy();
      tcp.destroy();
      reject(err);
    };
    const onSecure = (): void => {
      done();
      if (socket.alpnProtocol !== ALPN_H2) return fail(new HboneError('HBONE_ALPN', `server did not negotiate ALPN h2 (got ${String(socket.alpnProtocol)})`));
      const decision = checkServerIdentity(peerCertificateIdentity(socket.getPeerX509Certificate()), opts.expectedIdentities);
      if (decision.kind === 'reject') return fail(new HboneError('HBONE_SERVER_IDENTITY', decision.reason));
      socket.on('error', () => undefined); // from here on the HTTP/2 session reports failures
      resolve({ socket, peerIdentity: decision.identity });
    };
    const onError = (err: Error): void => fail(asHboneError(err, 'HBONE_TLS_HANDSHAKE', 'HBONE TLS handshake failed'));
    const onClose = (): void => fail(new HboneError('HBONE_TLS_HANDSHAKE', 'connection closed during the TLS handshake'));
    const done = (): void => {
      clearTimeout(timer);
      socket.off('secureConnect', onSecure).off('error', onError).off('close', onClose);
    };
    socket.once('secureConnect', onSecure).once('error', onError).once('close', onClose);
  });
}

export interface OpenedTunnel {
  stream: http2.ClientHttp2Stream;
  responseHeaders: http2.IncomingHttpHeaders;
}

export interface OpenTunnelOptions {
  /** How long to wait for the response headers (default CONNECT_RESPONSE_TIMEOUT_MS). */
  responseTimeoutMs?: number;
}

/**
 * Sends one CONNECT and waits for its response. Resolves on 200 with the stream ready for data;
 * anything else rejects (HBONE_STATUS with `status`, HBONE_STREAM_RESET, or HBONE_RESPONSE_TIMEOUT
 * when no response came in time) and closes the stream.
 */
export function openTunnel(session: http2.ClientHttp2Session, authority: string, headers?: ConnectHeaders, opts: OpenTunnelOptions = {}): Promise<OpenedTunnel> {
  const timeoutMs = opts.responseTimeoutMs ?? CONNECT_RESPONSE_TIMEOUT_MS;
  let stream: http2.ClientHttp2Stream;
  try {
    stream = session.request(buildConnectHeaders(authority, headers), { endStream: false });
  } catch (err) {
    return Promise.reject(asHboneError(err, 'HBONE_SESSION_CLOSED', 'cannot open a stream on this HBONE connection'));
  }
  return new Promise((resolve, reject) => {
    // A server that took the stream and never answers: cancel the stream (its slot and the caller
    // are freed; the connection itself may still be healthy for other streams).
    const timer = setTimeout(() => {
      done();
      stream.on('error', () => undefined);
      stream.close(http2.constants.NGHTTP2_CANCEL);
      reject(new HboneError('HBONE_RESPONSE_TIMEOUT', `HBONE CONNECT to ${authority} got no response within ${timeoutMs} ms`));
    }, timeoutMs);
    timer.unref();
    const onResponse = (h: http2.IncomingHttpHeaders & http2.IncomingHttpStatusHeader): void => {
      done();
      const status = h[':status'] ?? 0;
      if (status === 200) return resolve({ stream, responseHeaders: h });
      stream.on('error', () => undefined);
      stream.close(http2.constants.NGHTTP2_CANCEL);
      reject(new HboneError('HBONE_STATUS', `HBONE CONNECT to ${authority} answered ${status}`, { status }));
    };
    // A stream the server never processed (REFUSED_STREAM, e.g. sent as its GOAWAY crossed on the
    // wire) is marked so the pool can send it on another connection.
    const refused = (): boolean => stream.rstCode === http2.constants.NGHTTP2_REFUSED_STREAM;
    const onError = (err: Error): void => {
      done();
      stream.on('error', () => undefined);
      stream.destroy();
      reject(err instanceof HboneError ? err : new HboneError('HBONE_STREAM_RESET', `HBONE CONNECT to ${authority} failed: ${(err as NodeJS.ErrnoException).code ?? err.message}`, { cause: err, refused: refused() }));
    };
    const onClose = (): void => {
      done();
      reject(new HboneError('HBONE_STREAM_RESET', `HBONE CONNECT to ${authority} was reset before a response (code ${stream.rstCode ?? '?'})`, { refused: refused() }));
    };
    const done = (): void => {
      clearTimeout(timer);
      stream.off('response', onResponse).off('error', onError).off('close', onClose);
    };
    stream.once('response', onResponse).once('error', onError).once('close', onClose);
  });
}
