// HTTP/1.1 upgrades (WebSocket, Envoy's `upgrade_configs: websocket`): the request is routed like
// any other (route, weighted cluster, endpoint), then the upstream gets the request head verbatim
// (Upgrade/Connection kept) and both connections are spliced byte for byte, half-close included.
import type { Duplex } from 'node:stream';
import { copyBidirectional } from '../../../lib/hbone/index.ts';
import type { WaypointConfig } from '../config/types.ts';
import type { HeaderMap, RequestHead } from '../http/headers.ts';
import { headerValue } from '../http/headers.ts';
import { localReply, renderLocalReply, type LocalReply } from '../http/local-reply.ts';
import type { StreamInfo } from '../http/stream-info.ts';
import type { HttpFilterChain } from '../config/types.ts';
import type { ClusterManager } from '../upstream/cluster-manager.ts';
import { upstreamHost } from '../upstream/upstream-connector.ts';
import { UpstreamError } from '../upstream/upstream-request.ts';
import type { RouteCache } from './route-cache.ts';
import { matchRoute } from './route-table.ts';
import { weightedPick, type Random } from './weighted-pick.ts';

export interface UpgradeDeps {
  readonly clusters: ClusterManager;
  config(): WaypointConfig | undefined;
  readonly random?: Random;
}

/** Writes a local reply on a raw HTTP/1.1 connection and closes it. */
export function writeRawReply(socket: Duplex, info: StreamInfo, reply: LocalReply, serverName: string | undefined): void {
  for (const f of reply.flags) info.addFlag(f);
  info.responseCodeDetails = reply.details;
  info.responseCode = reply.status;
  const r = renderLocalReply(reply, false);
  const headers: HeaderMap = { ...r.headers, ...(serverName ? { server: serverName } : {}), connection: 'close' };
  info.bytesSent += r.body.length;
  socket.end(Buffer.concat([Buffer.from(`HTTP/1.1 ${r.status} ${reason(r.status)}\r\n${serialize(headers)}\r\n`, 'latin1'), r.body]));
}

/** Proxies one upgrade request; resolves when both directions are done. Never throws. */
export async function proxyUpgrade(
  deps: UpgradeDeps,
  chain: HttpFilterChain,
  fallbackConfig: WaypointConfig,
  head: RequestHead,
  socket: Duplex,
  rest: Buffer,
  info: StreamInfo,
  /** The stream's route cache (resolved before the filters); matched here when absent. */
  cached?: RouteCache,
): Promise<void> {
  const config = cached?.config ?? deps.config() ?? fallbackConfig;
  const reply = (r: LocalReply): void => writeRawReply(socket, info, r, chain.serverName);
  info.destinationService = chain.service;
  const table = config.routes.get(chain.routeConfigName);
  const selected = cached
    ? cached.selection
    : table
      ? matchRoute(table, { authority: head.authority, path: head.path, method: head.method, scheme: head.scheme, header: (n) => headerValue(head.headers, n) })
      : undefined;
  if (!selected || selected.route.action.kind !== 'route') return reply(localReply('route_not_found'));
  info.routeName = selected.route.name;
  const wc = weightedPick(selected.route.action.clusters, deps.random);
  const cluster = wc ? config.clusters.get(wc.name) : undefined;
  if (wc) info.upstreamCluster = wc.name;
  if (!cluster) return reply(localReply('cluster_not_found'));
  info.destinationService = cluster.services[0] ?? chain.service;
  const rt = deps.clusters.get(cluster);
  const endpoint = rt.pick();
  if (!endpoint) return reply(localReply('no_healthy_upstream'));
  info.upstreamHost = upstreamHost(endpoint);
  info.destinationWorkload = endpoint.workload;
  info.destinationPrincipal = endpoint.identity;
  if (!rt.breaker.tryStartRequest()) return reply(localReply('overflow'));
  const release = rt.trackRequest(endpoint);
  try {
    let upstream: Duplex;
    const started = performance.now();
    try {
      upstream = await deps.clusters.connector.connect(endpoint, cluster.connectTimeoutMs);
    } catch (err) {
      if (err instanceof UpstreamError && err.transportFailure) info.upstreamTransportFailureReason = err.transportFailure;
      return reply(localReply('connection_failure', err instanceof UpstreamError ? err.transportFailure : undefined));
    }
    upstream.on('error', () => undefined);
    if (socket.destroyed) {
      upstream.destroy();
      info.addFlag('DC');
      return;
    }
    upstream.write(`${head.method} ${head.path} HTTP/1.1\r\nhost: ${head.authority}\r\n${serialize(head.headers)}\r\n`, 'latin1');
    if (rest.length > 0) upstream.write(rest);
    // The upstream's status line names the outcome for the record (101 when it switched).
    upstream.once('data', (first: Buffer) => {
      const m = /^HTTP\/1\.[01] ([0-9]{3})/.exec(first.subarray(0, 16).toString('latin1'));
      if (m) {
        info.responseCode = Number(m[1]);
        info.responseCodeDetails = 'via_upstream';
        info.upstreamServiceTimeMs = Math.round(performance.now() - started);
      }
    });
    const copy = copyBidirectional(socket, upstream);
    socket.resume();
    const result = await copy.done;
    info.bytesReceived += result.stats.aToB;
    info.bytesSent += result.stats.bToA;
    if (result.kind === 'reset') info.addFlag(result.side === 'b' ? 'UC' : 'DC');
  } finally {
    release();
    rt.breaker.endRequest();
  }
}

function serialize(h: HeaderMap): string {
  let out = '';
  for (const [k, v] of Object.entries(h)) for (const x of Array.isArray(v) ? v : [v]) out += `${k}: ${x}\r\n`;
  return out;
}

function reason(status: number): string {
  return { 404: 'Not Found', 500: 'Internal Server Error', 503: 'Service Unavailable', 504: 'Gateway Timeout', 403: 'Forbidden' }[status] ?? 'Unknown';
}
