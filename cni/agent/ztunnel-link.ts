// What the node agent does with its ZDS server's events: a ztunnel that answered its snapshot
// serves the pods it acknowledged, so those (and only those: a NACKed pod stays pending) are
// annotated enabled; refused peers and connections are counted.
import type { Logger } from '../../lib/log/logger.ts';
import type { Registry } from '../../lib/metrics/registry.ts';
import type { ZdsServer } from '../../lib/zds/index.ts';
import type { MeshDataplane } from './dataplane.ts';

export function linkZtunnel(zds: ZdsServer, dataplane: MeshDataplane, registry: Registry, log: Logger): void {
  const connections = registry.gauge('istio_cni_ztunnel_connections', 'ztunnel connections on the ZDS socket', []);
  const refused = registry.counter('istio_cni_ztunnel_connections_refused_total', 'Connections to the ZDS socket closed unheard: the peer is neither root nor the allowed ztunnel uid', []);
  zds.on('snapshotSent', (id, acked) => {
    dataplane.confirmAcknowledged(acked).catch((err: Error) => log.warn({ zdsConn: id, err: err.message }, 'confirming the acknowledged pods failed'));
  });
  zds.on('connected', () => connections.set({}, zds.connectionCount));
  const protocolErrors = registry.counter('istio_cni_ztunnel_protocol_errors_total', 'ZDS connections closed because ztunnel broke the protocol (bad hello or answer, fds attached)', []);
  zds.on('disconnected', (_id, err) => {
    connections.set({}, zds.connectionCount);
    if (err?.code === 'PROTOCOL') protocolErrors.inc();
  });
  // The server already logged the peer; the counter is what an operator alerts on.
  zds.on('peerRefused', () => refused.inc());
}
