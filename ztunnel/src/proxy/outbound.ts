// Outbound (15001): read the app's original destination, ask buildRequest for a plan, then carry the
// connection: HBONE through the pool, plain TCP for passthrough and non-mesh workloads, or refuse.
import type net from 'node:net';
import { copyBidirectional, formatForwarded, type HbonePool } from '../../../lib/hbone/index.ts';
import type { ResponseFlag } from '../../../lib/metrics/istio-tcp.ts';
import type { ProxyState } from '../state/proxy-state.ts';
import { workloadIdentity, type Workload } from '../state/types.ts';
import { sourceBaggage } from './baggage.ts';
import { buildRequest, formatAuthority, type EndpointPicker, type OutboundPlan } from './build-request.ts';
import type { ConnectionManager } from './connection-manager.ts';
import { acceptRedirected } from './downstream.ts';
import { normalise } from './inbound.ts';
import { peerInfo } from './peer-info.ts';

export interface OutboundDeps {
  state: ProxyState;
  network: string;
  connections: ConnectionManager;
  pool: HbonePool;
  pick: EndpointPicker;
  /** The workload of the pod this listener belongs to (from ZDS + state). */
  sourceWorkload: () => Workload | undefined;
  /** Where the app was going (SO_ORIGINAL_DST). */
  originalDst: (socket: net.Socket) => { ip: string; port: number };
  /** A TCP socket to `target`, created in the source pod's netns with the in-pod mark. */
  dialTcp: (target: { ip: string; port: number }) => net.Socket;
  /** How long a connection waits for its pod's workload to arrive before it is refused. */
  sourceWaitMs?: number;
}

/** A new pod's first connection may beat its workload to ztunnel; it waits this long, as Istio's does. */
export const SOURCE_WAIT_MS = 5000;

function flagOf(err: Error): ResponseFlag {
  const code = (err as { code?: string }).code ?? '';
  if (code.includes('TLS') || code.includes('IDENTITY')) return 'TLS_FAILURE';
  return 'CONNECT';
}

export function outboundHandler(deps: OutboundDeps): (downstream: net.Socket) => void {
  return (downstream) => {
    const target = acceptRedirected(downstream, deps.originalDst);
    if (!target) return;
    const known = deps.sourceWorkload();
    if (known) return proxy(downstream, target, known);
    void deps.connections.whilePending(deps.state.waitFor(deps.sourceWorkload, deps.sourceWaitMs ?? SOURCE_WAIT_MS)).then((source) => {
      // A promise callback: a throw here would be an unhandled rejection, so it is caught here.
      if (!downstream.destroyed) deps.connections.guard('outbound', downstream, () => proxy(downstream, target, source));
    });
  };

  function proxy(downstream: net.Socket, target: { ip: string; port: number }, source: Workload | undefined): void {
    const srcAddr = `${normalise(downstream.remoteAddress ?? '')}:${downstream.remotePort ?? 0}`;
    const access = { direction: 'outbound' as const, src: { addr: srcAddr, ...(source ? { workload: source.name, namespace: source.namespace, identity: workloadIdentity(source) } : {}) } };
    const baseMetric = { reporter: 'source' as const, source: { ...peerInfo(source), ...(source ? { principal: workloadIdentity(source) } : {}) } };
    if (!source) {
      deps.connections.reject({ ...baseMetric, destination: {}, mutualTls: false }, { ...access, dst: { addr: formatAuthority(target.ip, target.port) } }, 'source workload is not known yet', 'CONNECT');
      downstream.resetAndDestroy();
      return;
    }
    const plan: OutboundPlan = buildRequest(deps.state, source, target, deps.pick);
    if (plan.kind === 'reject') {
      deps.connections.reject({ ...baseMetric, destination: {}, mutualTls: false }, { ...access, dst: { addr: formatAuthority(target.ip, target.port) } }, plan.reason, 'CONNECT');
      downstream.resetAndDestroy();
      return;
    }
    const svc = plan.service;
    const destination = {
      ...peerInfo(plan.destination),
      ...(plan.destination && plan.kind === 'hbone' ? { principal: workloadIdentity(plan.destination) } : {}),
      ...(svc ? { service: svc.hostname, serviceNamespace: svc.namespace, serviceName: svc.name } : {}),
    };
    const metric = { ...baseMetric, destination, mutualTls: plan.kind === 'hbone' };
    const dst = {
      addr: `${plan.connectAddress.ip}:${plan.connectAddress.port}`,
      ...(plan.kind === 'hbone' ? { hboneAddr: plan.authority } : {}),
      ...(svc ? { service: svc.hostname } : {}),
      ...(plan.destination ? { workload: plan.destination.name, namespace: plan.destination.namespace } : {}),
      ...(plan.kind === 'hbone' && plan.destination ? { identity: workloadIdentity(plan.destination) } : {}),
    };
    // Creating the socket throws synchronously when it cannot be made (EMFILE, setns into a netns
    // that is gone): a local failure, counted here; the caller turns the throw into a rejection.
    const dial = (): net.Socket => {
      try {
        return deps.dialTcp(plan.connectAddress);
      } catch (err) {
        deps.connections.error('outbound', 'dial_failed', err, { src: srcAddr, dst: dst.addr });
        throw err;
      }
    };
    const upstreamP: Promise<import('node:stream').Duplex> =
      plan.kind === 'hbone'
        ? deps.pool.connect({
            key: { srcIdentity: workloadIdentity(source), dstIdentities: plan.expectedIdentities, dstAddress: formatAuthority(plan.connectAddress.ip, plan.connectAddress.port), srcAddress: source.addresses[0] ?? '' },
            authority: plan.authority,
            headers: { baggage: sourceBaggage(source), forwarded: formatForwarded(normalise(downstream.remoteAddress ?? ''), downstream.remotePort ?? 0, svc?.hostname) },
            connectSocket: dial,
          })
        : new Promise((resolve, reject) => {
            const s = dial(); // a throw here rejects this promise
            s.once('connect', () => resolve(s));
            s.once('error', reject);
          });
    deps.connections.whilePending(upstreamP).then(
      (upstream) =>
        deps.connections.guard('outbound', downstream, () => {
          if (downstream.destroyed) {
            upstream.destroy();
            return;
          }
          const copy = copyBidirectional(downstream, upstream);
          const tracked = deps.connections.open({ direction: 'outbound', metric, access: { ...access, dst }, close: () => copy.abort() });
          void copy.done.then((result) => {
            // a = the app (downstream): what it sent went upstream.
            deps.connections.addBytes(tracked, result.stats.aToB, result.stats.bToA);
            deps.connections.finish(tracked, result.kind === 'reset' ? `reset (${result.side})` : undefined);
          });
        }),
      (err: Error) => {
        const code = (err as { code?: string }).code;
        if (code === 'HBONE_RESPONSE_TIMEOUT') deps.connections.error('outbound', 'hbone_response_timeout', err, { src: access.src.addr, dst: dst.addr });
        deps.connections.reject(metric, { ...access, dst }, err.message, flagOf(err));
        downstream.resetAndDestroy();
      },
    );
  }
}
