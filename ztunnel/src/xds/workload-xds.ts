// ztunnel's workload xDS connection: the node it announces (id and metadata as Istio's ztunnel
// writes them, so istiod recognises a ztunnel), the credentials it presents (a bearer token file
// re-read per stream, the cluster id) and the two handlers that write to the ProxyState.
import { RootBundleFile } from '../../../lib/identity/root-bundle-file.ts';
import type { Logger } from '../../../lib/log/logger.ts';
import type { Registry } from '../../../lib/metrics/registry.ts';
import { structFromJson, type Node } from '../../../lib/proto/index.ts';
import { DeltaXdsClient, parseXdsAddress, tokenFileReader, type XdsBackoffOptions } from '../../../lib/xds/index.ts';
import type { ProxyState } from '../state/proxy-state.ts';
import { addressHandler, authorizationHandler } from './handlers.ts';

export interface WorkloadXdsSettings {
  xdsAddress: string;
  /** PEM roots file for https; `SYSTEM` means the system roots. */
  xdsRootCaPath: string;
  altXdsHostname?: string;
  authTokenPath?: string;
  clusterId: string;
  /** Extra metadata on the stream (XDS_HEADER_<name>). */
  xdsHeaders?: Record<string, string>;
  nodeName: string;
  podName: string;
  podNamespace: string;
  instanceIp: string;
}

/** The Node ztunnel sends: istiod derives the proxy type `ztunnel` from the id's prefix. */
export function ztunnelNode(s: Pick<WorkloadXdsSettings, 'nodeName' | 'podName' | 'podNamespace' | 'instanceIp'>, version = ''): Node {
  return {
    id: `ztunnel~${s.instanceIp}~${s.podName}.${s.podNamespace}~${s.podNamespace}.svc.cluster.local`,
    cluster: '',
    metadata: structFromJson({ NAME: s.podName, NAMESPACE: s.podNamespace, INSTANCE_IPS: s.instanceIp, NODE_NAME: s.nodeName }),
    userAgentName: 'ambient-mesh-ztunnel',
    userAgentVersionType: { $case: 'userAgentVersion', userAgentVersion: version },
    dynamicParameters: {},
    extensions: [],
    clientFeatures: [],
    listeningAddresses: [],
  };
}

export interface WorkloadXdsDeps {
  state: ProxyState;
  registry: Registry;
  log: Logger;
  version?: string;
  backoff?: XdsBackoffOptions;
  /** The root bundle file for a path, shared with the CA client (default: one of its own). */
  rootFile?: (path: string) => RootBundleFile;
}

/** Builds and starts the client; reading the root CA file fails here, at start-up, if it is missing. */
export function startWorkloadXds(s: WorkloadXdsSettings, deps: WorkloadXdsDeps): DeltaXdsClient {
  const endpoint = parseXdsAddress(s.xdsAddress);
  const useRoots = endpoint.ok && endpoint.value.tls && s.xdsRootCaPath !== 'SYSTEM';
  const log = deps.log.child({ scope: 'xds' });
  const client = new DeltaXdsClient({
    address: s.xdsAddress,
    node: ztunnelNode(s, deps.version),
    handlers: [addressHandler(deps.state, log), authorizationHandler(deps.state, log)],
    ...(useRoots ? { rootCa: deps.rootFile ? deps.rootFile(s.xdsRootCaPath) : new RootBundleFile(s.xdsRootCaPath) } : {}),
    ...(s.altXdsHostname ? { serverName: s.altXdsHostname } : {}),
    ...(s.authTokenPath ? { token: tokenFileReader(s.authTokenPath) } : {}),
    clusterId: s.clusterId,
    ...(s.xdsHeaders ? { headers: s.xdsHeaders } : {}),
    registry: deps.registry,
    log: deps.log,
    ...(deps.backoff ? { backoff: deps.backoff } : {}),
  });
  client.start();
  return client;
}
