// Inbound HBONE (15008): validate the CONNECT target against the pod that accepted it, authorize
// the peer (L4 policy), connect to the app, and only then answer 200 (fact sheet §1.7). Every
// outcome is counted and logged once by the connection manager.
import type net from 'node:net';
import type { TunnelDecision, TunnelRequest } from '../../../lib/hbone/index.ts';
import { spiffeIdString } from '../../../lib/identity/index.ts';
import type { ResponseFlag } from '../../../lib/metrics/istio-tcp.ts';
import { authorize, type RbacConnection } from '../rbac/authorize.ts';
import type { ProxyState } from '../state/proxy-state.ts';
import { workloadIdentity, type Workload } from '../state/types.ts';
import type { ConnectionManager } from './connection-manager.ts';
import { peerInfo } from './peer-info.ts';
import { isZtunnelPort } from './ports.ts';

export type InboundPlan =
  | { kind: 'reject'; status: 400 | 401 | 503; reason: string; flag: ResponseFlag; workload?: Workload }
  | { kind: 'connect'; workload: Workload; target: { ip: string; port: number }; rbac: RbacConnection };

/** Pure: what to do with one CONNECT request. */
export function planInbound(
  state: ProxyState,
  network: string,
  req: { targetIp: string; targetPort: number; localIp: string; peerIdentity: string; remoteIp: string },
): InboundPlan {
  const local = normalise(req.localIp);
  if (normalise(req.targetIp) !== local) return { kind: 'reject', status: 400, reason: `authority ${req.targetIp} is not this pod (${local})`, flag: 'CONNECT' };
  if (isZtunnelPort(req.targetPort)) return { kind: 'reject', status: 400, reason: `port ${req.targetPort} is a ztunnel port`, flag: 'CONNECT' };
  const workload = state.findWorkloadByAddress(network, local);
  if (!workload) return { kind: 'reject', status: 503, reason: `no workload for ${local}`, flag: 'CONNECT' };
  const rbac: RbacConnection = { srcIdentity: req.peerIdentity, srcIp: normalise(req.remoteIp), dstIp: local, dstPort: req.targetPort };
  const decision = authorize(state.policiesFor(workload), rbac);
  if (decision.kind === 'deny') {
    return { kind: 'reject', status: 401, reason: decision.policy ? `denied by ${decision.policy}` : decision.reason, flag: 'DENY', workload };
  }
  return { kind: 'connect', workload, target: { ip: local, port: req.targetPort }, rbac };
}

/** IPv4-mapped IPv6 (`::ffff:a.b.c.d`, as a dual-stack socket reports) compares as IPv4. */
export function normalise(ip: string): string {
  return ip.startsWith('::ffff:') && ip.includes('.') ? ip.slice(7) : ip;
}

export interface InboundDeps {
  state: ProxyState;
  network: string;
  connections: ConnectionManager;
  /** Dials the app inside the pod netns (marked, bound to the client IP when it can). */
  dialApp: (target: { ip: string; port: number }, clientIp: string) => net.Socket;
  connectTimeoutMs?: number;
}

export function inboundHandler(deps: InboundDeps): (req: TunnelRequest) => Promise<TunnelDecision> {
  return async (req) => {
    const peer = spiffeIdString(req.peerIdentity);
    const plan = planInbound(deps.state, deps.network, {
      targetIp: req.authority.kind === 'ip' ? req.authority.ip : '',
      targetPort: req.authority.port,
      localIp: req.localAddress.address,
      peerIdentity: peer,
      remoteIp: req.remoteAddress.address,
    });
    const source = deps.state.findWorkloadByAddress(deps.network, normalise(req.remoteAddress.address));
    const metric = {
      reporter: 'destination' as const,
      source: { ...peerInfo(source), principal: peer },
      destination: { ...peerInfo(plan.workload), ...(plan.workload ? { principal: workloadIdentity(plan.workload) } : {}) },
      mutualTls: true,
    };
    const access = {
      direction: 'inbound' as const,
      src: { addr: `${normalise(req.remoteAddress.address)}:${req.remoteAddress.port}`, identity: peer, ...(source ? { workload: source.name, namespace: source.namespace } : {}) },
      dst: {
        addr: `${normalise(req.localAddress.address)}:${req.authority.port}`,
        hboneAddr: req.rawAuthority,
        ...(plan.workload ? { workload: plan.workload.name, namespace: plan.workload.namespace, identity: workloadIdentity(plan.workload) } : {}),
      },
    };
    if (plan.kind === 'reject') {
      deps.connections.reject(metric, access, plan.reason, plan.flag);
      return { kind: 'reject', status: plan.status, reason: plan.reason };
    }
    let upstream: net.Socket;
    try {
      let socket: net.Socket;
      try {
        socket = deps.dialApp(plan.target, plan.rbac.srcIp);
      } catch (err) {
        // The socket could not be made at all (EMFILE, setns into a netns that is gone).
        deps.connections.error('inbound', 'dial_failed', err, { src: access.src.addr, dst: access.dst.addr });
        throw err;
      }
      upstream = await deps.connections.whilePending(connected(socket, deps.connectTimeoutMs ?? 10_000, req.signal));
    } catch (err) {
      const reason = `connect to app ${plan.target.ip}:${plan.target.port} failed: ${(err as Error).message}`;
      deps.connections.reject(metric, access, reason, 'CONNECT');
      return { kind: 'reject', status: 503, reason };
    }
    const tracked = deps.connections.open({
      direction: 'inbound', metric, access,
      rbac: { conn: plan.rbac, destinationUid: plan.workload.uid },
      close: () => upstream.destroy(),
    });
    return {
      kind: 'accept',
      upstream,
      onClose: (result) => {
        // Bytes from the client (HBONE side, `a`) are received; bytes back to it are sent.
        deps.connections.addBytes(tracked, result.stats.bToA, result.stats.aToB);
        deps.connections.finish(tracked, result.kind === 'reset' ? `reset (${result.side})` : undefined);
      },
    };
  };
}

function connected(socket: net.Socket, timeoutMs: number, signal: AbortSignal): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const fail = (err: Error) => {
      cleanup();
      socket.destroy();
      reject(err);
    };
    const timer = setTimeout(() => fail(new Error(`timed out after ${timeoutMs} ms`)), timeoutMs);
    const onAbort = () => fail(new Error('client went away'));
    const cleanup = () => {
      clearTimeout(timer);
      signal.removeEventListener('abort', onAbort);
      socket.off('error', fail);
      socket.off('connect', ok);
    };
    const ok = () => {
      cleanup();
      resolve(socket);
    };
    socket.once('connect', ok);
    socket.once('error', fail);
    signal.addEventListener('abort', onAbort, { once: true });
  });
}
