// The `connect_terminate` listener: HBONE terminated by lib/hbone (the waypoint's current
// certificate), each CONNECT matched to a filter chain of the then-current config by its
// authority, sniffed when the chain set needs the protocol, and handed to the HTTP connection
// manager or the tcp proxy over an in-memory socket pair. Unknown authority: 503, logged, counted.
import type net from 'node:net';
import type { Duplex } from 'node:stream';
import { HboneServer, type TunnelDecision, type TunnelRequest } from '../../../lib/hbone/index.ts';
import type { WorkloadCertificate } from '../../../lib/identity/index.ts';
import { spiffeIdString } from '../../../lib/identity/index.ts';
import type { Logger } from '../../../lib/log/logger.ts';
import type { FilterChain, PeerLookup, WaypointConfig } from '../config/types.ts';
import type { HttpConnectionManager } from '../http/connection-manager.ts';
import type { TcpProxy } from '../network/tcp-proxy.ts';
import type { DownstreamConnection } from './downstream-connection.ts';
import type { DataPlaneEvent } from './events.ts';
import { selectAfterSniff, selectFilterChain, type SniffedProtocol } from './filter-chain-match.ts';
import { sniffProtocol } from './sniff.ts';
import { socketPair } from './socket-pair.ts';

export interface HboneListenerDeps {
  config(): WaypointConfig | undefined;
  certificate(): WorkloadCertificate | undefined;
  readonly peers: PeerLookup;
  readonly hcm: HttpConnectionManager;
  readonly tcp: TcpProxy;
  readonly log: Logger;
  onEvent?(e: DataPlaneEvent): void;
  readonly protocolDetectionTimeoutMs?: number;
}

export type ListenerState = 'active' | 'draining';

/** lib/hbone's server with TCP_NODELAY on every accepted connection, as Envoy sets it. */
class WaypointHboneServer extends HboneServer {
  override attach(server: net.Server): void {
    server.on('connection', (s: net.Socket) => s.setNoDelay(true));
    super.attach(server);
  }
}

export class HboneListener {
  readonly server: HboneServer;
  #state: ListenerState = 'active';
  #tunnels = 0;
  #rejected = 0;

  private readonly deps: HboneListenerDeps;

  constructor(deps: HboneListenerDeps) {
    this.deps = deps;
    this.server = new WaypointHboneServer({
      getCertificate: () => deps.certificate(),
      onTunnel: (req) => this.onTunnel(req),
      log: deps.log,
      onEvent: (e) => {
        // Our own refusals are reported by onTunnel; these are lib/hbone's (TLS, not a CONNECT…).
        if (e.kind === 'stream-rejected' && e.by === 'handler') return;
        if (e.kind === 'connection-force-closed') {
          deps.onEvent?.({ kind: 'hbone-force-closed', reason: e.why, tunnels: e.tunnels, remoteAddress: `${e.remoteAddress.address}:${e.remoteAddress.port}` });
          return;
        }
        const reason = e.kind === 'connection-rejected' ? `${e.error.code}: ${e.error.message}` : `${e.status}: ${e.reason}`;
        deps.onEvent?.({ kind: 'hbone-rejected', reason, remoteAddress: `${e.remoteAddress.address}:${e.remoteAddress.port}` });
      },
    });
  }

  get state(): ListenerState {
    return this.#state;
  }

  stats(): { tunnels: number; rejectedConnects: number; hboneConnections: number } {
    return { tunnels: this.#tunnels, rejectedConnects: this.#rejected, hboneConnections: this.server.connectionCount };
  }

  async onTunnel(req: TunnelRequest): Promise<TunnelDecision> {
    // As Envoy prints it: an IPv4 client on the dual-stack listener without its ::ffff: prefix.
    const remote = `${normalise(req.remoteAddress.address)}:${req.remoteAddress.port}`;
    const reject = (status: 503, reason: string): TunnelDecision => {
      this.#rejected++;
      this.deps.log.info({ authority: req.rawAuthority, src: remote, peer: spiffeIdString(req.peerIdentity), reason }, 'CONNECT rejected');
      this.deps.onEvent?.({ kind: 'connect-rejected', authority: req.rawAuthority, status, reason, remoteAddress: remote });
      return { kind: 'reject', status, reason };
    };
    if (this.#state === 'draining') return reject(503, 'waypoint is draining');
    if (req.authority.kind !== 'ip') return reject(503, 'hostname authority');
    const config = this.deps.config();
    if (!config) return reject(503, 'no configuration yet');
    const target = { ip: req.authority.ip, port: req.authority.port };
    const selection = selectFilterChain(config.chains, target);
    if (selection.kind === 'none') return reject(503, `no filter chain for ${req.rawAuthority}`);
    const conn: DownstreamConnection = {
      config,
      localAddress: req.rawAuthority,
      targetIp: target.ip,
      targetPort: target.port,
      remoteAddress: remote,
      peerPrincipal: spiffeIdString(req.peerIdentity),
      localPrincipal: spiffeIdString(req.localIdentity),
      source: this.deps.peers.findByIp(normalise(req.remoteAddress.address)),
    };
    const [tunnelEnd, serverEnd] = socketPair();
    this.#tunnels++;
    serverEnd.once('close', () => this.#tunnels--);
    void this.#dispatch(serverEnd, conn, selection.kind === 'chain' ? [selection.chain] : selection.candidates, selection.kind === 'sniff');
    return { kind: 'accept', upstream: tunnelEnd };
  }

  async #dispatch(socket: Duplex, conn: DownstreamConnection, candidates: readonly FilterChain[], mustSniff: boolean): Promise<void> {
    let chain: FilterChain | undefined = candidates[0];
    let sniffed: SniffedProtocol | undefined;
    const needsCodec = chain?.kind === 'http' && chain.codec === 'auto';
    if (mustSniff || needsCodec) {
      sniffed = await sniffProtocol(socket, this.deps.protocolDetectionTimeoutMs);
      if (mustSniff) chain = selectAfterSniff(candidates, sniffed);
    }
    if (!chain) {
      this.deps.log.debug({ authority: conn.localAddress, protocol: sniffed }, 'no filter chain for the sniffed protocol');
      this.deps.onEvent?.({ kind: 'no-filter-chain', authority: conn.localAddress, protocol: sniffed ?? 'unknown' });
      socket.destroy();
      return;
    }
    if (socket.destroyed) return;
    if (chain.kind === 'tcp') return this.deps.tcp.serve(socket, conn, chain);
    const codec = chain.codec === 'http2' || (chain.codec === 'auto' && sniffed === 'h2c') ? 'h2c' : 'http1';
    this.deps.hcm.serve(socket, conn, chain, codec);
  }

  /** Stops accepting tunnels (new CONNECTs get 503 and HBONE connections GOAWAY). */
  async stopAccepting(): Promise<void> {
    this.#state = 'draining';
    await this.server.close();
  }
}

function normalise(ip: string): string {
  return ip.startsWith('::ffff:') && ip.includes('.') ? ip.slice(7) : ip;
}
