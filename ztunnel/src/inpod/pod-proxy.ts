// One pod's proxy: its listeners inside the pod netns wired to the outbound, inbound-plaintext and
// HBONE-inbound paths (plus the DNS proxy when DNS capture is on), with every upstream socket
// created in that netns and marked.
import { isIPv6 } from 'node:net';
import type net from 'node:net';
import { HboneServer, type HboneErrorCode, type HbonePool } from '../../../lib/hbone/index.ts';
import type { Logger } from '../../../lib/log/logger.ts';
import type { ResponseFlag } from '../../../lib/metrics/istio-tcp.ts';
import { connectTcp, getOriginalDst, type NetnsHandle } from '../../../lib/netns/index.ts';
import { startPodDns, type DnsProxyDeps } from '../dns/pod-dns.ts';
import type { DnsServer } from '../dns/server.ts';
import type { SecretManager } from '../../../lib/identity/secret-manager.ts';
import type { EndpointPicker } from '../proxy/build-request.ts';
import type { ConnectionManager } from '../proxy/connection-manager.ts';
import { inboundHandler } from '../proxy/inbound.ts';
import { inboundPassthroughHandler } from '../proxy/inbound-passthrough.ts';
import { outboundHandler } from '../proxy/outbound.ts';
import { peerInfo } from '../proxy/peer-info.ts';
import type { ProxyState } from '../state/proxy-state.ts';
import { workloadIdentity } from '../state/types.ts';
import { INPOD_MARK, openPodListeners, type PodListeners, type PodPorts } from './pod-listeners.ts';

export interface PodInfo {
  uid: string;
  name: string;
  namespace: string;
  serviceAccount: string;
}

export interface PodProxyDeps {
  state: ProxyState;
  network: string;
  node: string;
  connections: ConnectionManager;
  pool: HbonePool;
  secrets: SecretManager;
  pick: EndpointPicker;
  log: Logger;
  ports?: PodPorts;
  /** Set when DNS capture is on: every pod gets the DNS proxy on its loopback. */
  dns?: DnsProxyDeps;
}

export interface PodProxy {
  pod: PodInfo;
  listeners: PodListeners;
  hbone: HboneServer;
  dns?: DnsServer;
  /** The pod is gone: stop at once (ZDS delete). */
  close(): void;
  /**
   * This ztunnel is stopping (a newer one shares the listeners): stop accepting, send GOAWAY on
   * inbound HBONE connections so peers move new streams elsewhere, and let open tunnels finish.
   */
  drain(): Promise<void>;
}

function hboneFailureFlag(code: HboneErrorCode): ResponseFlag {
  if (code === 'HBONE_CLIENT_IDENTITY') return 'IDENTITY_ERROR';
  if (code === 'HBONE_ALPN' || code === 'HBONE_SESSION_CLOSED') return 'H2_HANDSHAKE_FAILURE';
  return 'TLS_FAILURE';
}

/**
 * Starts the proxy of one pod in `netns`. The caller owns the handle and releases it after close();
 * every socket of this pod is created from the handle at the moment it is needed, so work still in
 * flight after the release fails (EBADF) instead of reaching a reused fd number.
 */
export function startPodProxy(deps: PodProxyDeps, pod: PodInfo, netns: NetnsHandle): PodProxy {
  const log = deps.log.child({ pod: `${pod.namespace}/${pod.name}` });
  // The pod's identity is held while the proxy runs, so its certificate is kept and refreshed;
  // the last pod of an identity to go lets the certificate go with it.
  let held: { identity: string; release: () => void } | undefined;
  let closed = false;
  const holdIdentity = (identity: string): void => {
    if (closed || held?.identity === identity) return;
    const previous = held;
    held = { identity, release: deps.secrets.hold(identity) };
    previous?.release();
  };
  const findSelf = () => {
    const w = deps.state.findWorkloadByInfo(pod, deps.node);
    if (w) holdIdentity(workloadIdentity(w));
    return w;
  };
  const stopHolding = (): void => {
    closed = true;
    held?.release();
    held = undefined;
  };
  const onListenerError = (listener: string, kind: 'accept' | 'handler', err: unknown): void => {
    const scope = listener === 'inboundPlaintext' ? 'inbound_passthrough' : (listener as 'outbound' | 'hbone');
    deps.connections.error(scope, kind === 'accept' ? 'accept_failed' : 'handler_threw', err, { pod: `${pod.namespace}/${pod.name}` });
  };
  const family = (ip: string): 4 | 6 => (isIPv6(ip) ? 6 : 4);
  const originalDst = (s: net.Socket) => {
    const d = getOriginalDst(s);
    return { ip: d.address, port: d.port };
  };
  // TCP_NODELAY on every proxied socket: a request written in two parts (headers, then body) must
  // not wait for the peer's delayed ACK (40 ms) before its second part leaves.
  const dialTcp = (t: { ip: string; port: number }) =>
    connectTcp({ netns, family: family(t.ip), mark: INPOD_MARK, host: t.ip, port: t.port, allowHalfOpen: true }).setNoDelay(true);
  // The app should see the real client address: bind a transparent socket to it (best effort).
  const dialApp = (t: { ip: string; port: number }, clientIp: string) => {
    if (clientIp && clientIp !== t.ip && family(clientIp) === family(t.ip)) {
      try {
        return connectTcp({ netns, family: family(t.ip), mark: INPOD_MARK, transparent: true, freebind: true, bind: { address: clientIp, port: 0 }, host: t.ip, port: t.port, allowHalfOpen: true }).setNoDelay(true);
      } catch (err) {
        log.debug({ err: (err as Error).message }, 'original source not preserved');
      }
    }
    return dialTcp(t);
  };
  const hbone = new HboneServer({
    getCertificate: async () => {
      const self = findSelf();
      return self ? deps.secrets.get(workloadIdentity(self)) : undefined;
    },
    onTunnel: inboundHandler({ state: deps.state, network: deps.network, connections: deps.connections, dialApp }),
    onEvent: (e) => {
      // Refusals by onTunnel (policy, unknown workload) are already counted by the inbound path.
      if (e.kind === 'stream-rejected' && e.by === 'handler') return;
      if (e.kind === 'connection-force-closed') {
        deps.connections.error('hbone', 'drain_deadline', new Error(e.why), { src: `${e.remoteAddress.address}:${e.remoteAddress.port}`, tunnels: e.tunnels });
        return;
      }
      const self = findSelf();
      const metric = { reporter: 'destination' as const, source: {}, destination: { ...peerInfo(self), ...(self ? { principal: workloadIdentity(self) } : {}) }, mutualTls: false };
      const src = `${e.remoteAddress.address}:${e.remoteAddress.port}`;
      const dst = `${e.localAddress.address}:${e.localAddress.port}`;
      if (e.kind === 'stream-rejected') deps.connections.failed(metric, 'CONNECT', { src, dst, error: `${e.status}: ${e.reason}` });
      else deps.connections.failed(metric, hboneFailureFlag(e.error.code), { src, dst, error: `${e.error.code}: ${e.error.message}` });
    },
    log,
  });
  const listeners = openPodListeners(netns, {
    outbound: outboundHandler({ state: deps.state, network: deps.network, connections: deps.connections, pool: deps.pool, pick: deps.pick, sourceWorkload: findSelf, originalDst, dialTcp }),
    inboundPlaintext: inboundPassthroughHandler({ state: deps.state, network: deps.network, connections: deps.connections, originalDst, dialApp }),
    hbone: (s) => hbone.handleConnection(s),
  }, { ...(deps.ports ? { ports: deps.ports } : {}), onError: onListenerError });
  let dns: DnsServer | undefined;
  try {
    dns = deps.dns && startPodDns(deps.dns, { netns, mark: INPOD_MARK, namespace: pod.namespace, self: findSelf, log });
  } catch (err) {
    listeners.close();
    hbone.destroy();
    stopHolding();
    throw err;
  }
  const self = findSelf();
  if (self) deps.secrets.prefetch(workloadIdentity(self));
  log.info({ uid: pod.uid }, 'pod proxy started');
  return {
    pod,
    listeners,
    hbone,
    ...(dns ? { dns } : {}),
    close: () => {
      listeners.close();
      dns?.close();
      hbone.destroy();
      stopHolding();
      log.info({ uid: pod.uid }, 'pod proxy stopped');
    },
    drain: async () => {
      listeners.close();
      dns?.close();
      await hbone.close();
      log.info({ uid: pod.uid }, 'pod proxy drained');
    },
  };
}
