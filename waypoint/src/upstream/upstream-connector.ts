// Opens the transport to one endpoint: an HBONE tunnel to `<podIP>:15008` (authority
// `<podIP>:<port>`, the waypoint's own certificate, the endpoint identity as the required server
// SAN) through the shared HbonePool, or a plain TCP socket for endpoints outside the mesh.
import type net from 'node:net';
import type { Duplex } from 'node:stream';
import { HboneError, HBONE_PORT, type HbonePool } from '../../../lib/hbone/index.ts';
import type { Endpoint } from '../config/types.ts';
import { endpointKey } from './load-balancer.ts';
import { UpstreamError } from './upstream-request.ts';

export interface UpstreamConnectorDeps {
  readonly pool: HbonePool;
  /** The waypoint's own SPIFFE id (its certificate is the client certificate). */
  ownIdentity(): string | undefined;
  /** Creates and starts connecting a TCP socket (the app makes it inside the pod netns). */
  connectSocket(ip: string, port: number): net.Socket;
  /** The HBONE port of an endpoint's ztunnel; 15008 unless a test overrides it. */
  hbonePort?(endpoint: Endpoint): number;
}

export interface UpstreamConnector {
  connect(endpoint: Endpoint, timeoutMs: number): Promise<Duplex>;
}

/** UPSTREAM_HOST as Envoy reports it for a waypoint endpoint. */
export function upstreamHost(e: Endpoint): string {
  return e.tunnel === 'hbone' ? `envoy://connect_originate/${endpointKey(e)}` : endpointKey(e);
}

export function createUpstreamConnector(deps: UpstreamConnectorDeps): UpstreamConnector {
  const hbonePort = deps.hbonePort ?? (() => HBONE_PORT);
  return {
    connect(endpoint, timeoutMs) {
      const attempt = endpoint.tunnel === 'hbone' ? openTunnel(deps, endpoint, hbonePort(endpoint)) : openTcp(deps, endpoint, timeoutMs);
      return withTimeout(attempt, timeoutMs, endpoint);
    },
  };
}

async function openTunnel(deps: UpstreamConnectorDeps, e: Endpoint, port: number): Promise<Duplex> {
  const own = deps.ownIdentity();
  if (!own) throw new UpstreamError('connect_failure', 'the waypoint has no certificate yet', { transportFailure: 'no_certificate' });
  if (!e.identity) throw new UpstreamError('connect_failure', `endpoint ${endpointKey(e)} has no identity to verify`, { transportFailure: 'no_identity' });
  const dst = endpointKey({ address: e.address, port });
  try {
    return await deps.pool.connect({
      key: { srcIdentity: own, dstIdentities: [e.identity], dstAddress: dst },
      authority: endpointKey(e),
      connectSocket: () => noDelay(deps.connectSocket(e.address, port)),
    });
  } catch (err) {
    const code = err instanceof HboneError ? err.code : 'unknown';
    throw new UpstreamError('connect_failure', `HBONE to ${dst} for ${endpointKey(e)} failed: ${(err as Error).message}`, { transportFailure: code, cause: err });
  }
}

function openTcp(deps: UpstreamConnectorDeps, e: Endpoint, timeoutMs: number): Promise<Duplex> {
  let socket: net.Socket;
  try {
    socket = noDelay(deps.connectSocket(e.address, e.port));
  } catch (err) {
    return Promise.reject(new UpstreamError('connect_failure', `cannot create a socket to ${endpointKey(e)}: ${(err as Error).message}`, { cause: err }));
  }
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => fail(new Error(`timed out after ${timeoutMs} ms`)), timeoutMs);
    const fail = (err: Error): void => {
      done();
      socket.destroy();
      reject(new UpstreamError('connect_failure', `connect to ${endpointKey(e)} failed: ${(err as NodeJS.ErrnoException).code ?? err.message}`, { transportFailure: (err as NodeJS.ErrnoException).code, cause: err }));
    };
    const ok = (): void => {
      done();
      resolve(socket);
    };
    const done = (): void => {
      clearTimeout(timer);
      socket.off('connect', ok).off('error', fail);
    };
    if (!socket.connecting && socket.remoteAddress) return ok();
    socket.once('connect', ok).once('error', fail);
  });
}

function withTimeout(p: Promise<Duplex>, timeoutMs: number, e: Endpoint): Promise<Duplex> {
  if (!(timeoutMs > 0)) return p;
  return new Promise((resolve, reject) => {
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      reject(new UpstreamError('connect_failure', `connect to ${endpointKey(e)} timed out after ${timeoutMs} ms`, { transportFailure: 'connect_timeout' }));
    }, timeoutMs);
    p.then(
      (s) => {
        clearTimeout(timer);
        if (timedOut) s.destroy();
        else resolve(s);
      },
      (err: unknown) => {
        clearTimeout(timer);
        reject(err);
      },
    );
  });
}

/** Envoy sets TCP_NODELAY on every connection: small HTTP/2 frames must not wait for ACKs. */
function noDelay(s: net.Socket): net.Socket {
  s.setNoDelay(true);
  return s;
}
