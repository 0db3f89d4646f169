// Inbound plaintext (15006): traffic from outside the mesh reached the pod without HBONE. It is
// authorized with no peer identity (so STRICT PeerAuthentication, a DENY on "no principal", refuses
// it) and then forwarded to the app, spoofing the client's address (fact sheet §8.1).
import type net from 'node:net';
import { copyBidirectional } from '../../../lib/hbone/index.ts';
import { authorize } from '../rbac/authorize.ts';
import type { ProxyState } from '../state/proxy-state.ts';
import { workloadIdentity } from '../state/types.ts';
import type { ConnectionManager } from './connection-manager.ts';
import { acceptRedirected } from './downstream.ts';
import { normalise } from './inbound.ts';
import { peerInfo } from './peer-info.ts';
import { isZtunnelPort } from './ports.ts';

export interface InboundPassthroughDeps {
  state: ProxyState;
  network: string;
  connections: ConnectionManager;
  originalDst: (socket: net.Socket) => { ip: string; port: number };
  /** Dials the app inside the pod netns, bound to `clientIp` when it can. */
  dialApp: (target: { ip: string; port: number }, clientIp: string) => net.Socket;
}

export function inboundPassthroughHandler(deps: InboundPassthroughDeps): (downstream: net.Socket) => void {
  return (downstream) => {
    const target = acceptRedirected(downstream, deps.originalDst);
    if (!target) return;
    const clientIp = normalise(downstream.remoteAddress ?? '');
    const dstIp = normalise(target.ip);
    const workload = deps.state.findWorkloadByAddress(deps.network, dstIp);
    const source = deps.state.findWorkloadByAddress(deps.network, clientIp);
    const metric = {
      reporter: 'destination' as const,
      source: peerInfo(source),
      destination: { ...peerInfo(workload), ...(workload ? { principal: workloadIdentity(workload) } : {}) },
      mutualTls: false,
    };
    const access = {
      direction: 'inbound' as const,
      src: { addr: `${clientIp}:${downstream.remotePort ?? 0}`, ...(source ? { workload: source.name, namespace: source.namespace } : {}) },
      dst: { addr: `${dstIp}:${target.port}`, ...(workload ? { workload: workload.name, namespace: workload.namespace, identity: workloadIdentity(workload) } : {}) },
    };
    if (isZtunnelPort(target.port) || !workload) {
      deps.connections.reject(metric, access, workload ? `port ${target.port} is a ztunnel port` : `no workload for ${dstIp}`, 'CONNECT');
      downstream.resetAndDestroy();
      return;
    }
    const rbac = { srcIp: clientIp, dstIp, dstPort: target.port };
    const decision = authorize(deps.state.policiesFor(workload), rbac);
    if (decision.kind === 'deny') {
      deps.connections.reject(metric, access, decision.policy ? `denied by ${decision.policy}` : decision.reason, 'DENY');
      downstream.resetAndDestroy();
      return;
    }
    let upstream: net.Socket;
    try {
      // Throws synchronously when the socket cannot be made (EMFILE, setns into a netns that is gone).
      upstream = deps.dialApp({ ip: dstIp, port: target.port }, clientIp);
    } catch (err) {
      deps.connections.error('inbound_passthrough', 'dial_failed', err, { src: access.src.addr, dst: access.dst.addr });
      deps.connections.reject(metric, access, `connect to app failed: ${(err as Error).message}`, 'CONNECT');
      downstream.resetAndDestroy();
      return;
    }
    upstream.once('error', (err) => {
      if (tracked) return;
      deps.connections.reject(metric, access, `connect to app failed: ${err.message}`, 'CONNECT');
      downstream.resetAndDestroy();
    });
    let tracked: ReturnType<ConnectionManager['open']> | undefined;
    upstream.once('connect', () =>
      deps.connections.guard('inbound_passthrough', downstream, () => {
        const copy = copyBidirectional(downstream, upstream);
        const t = deps.connections.open({ direction: 'inbound', metric, access, rbac: { conn: rbac, destinationUid: workload.uid }, close: () => copy.abort() });
        tracked = t;
        void copy.done.then((result) => {
          deps.connections.addBytes(t, result.stats.bToA, result.stats.aToB);
          deps.connections.finish(t, result.kind === 'reset' ? `reset (${result.side})` : undefined);
        });
      }),
    );
  };
}
