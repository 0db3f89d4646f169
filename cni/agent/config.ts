// The node agent's configuration from the environment (Istio's istio-cni names where it has one).
// Paths and ports are settable so the lab can run one agent per "node" on one host.
import { envAddress, envBool } from '../../lib/config/env.ts';
import type { RedirectFlavour } from '../../lib/redirect/index.ts';

export interface AgentConfig {
  nodeName: string;
  /** The agent's own pod (POD_NAME/POD_NAMESPACE): on SIGTERM its DaemonSet tells an uninstall from an upgrade. */
  podName: string;
  podNamespace: string;
  kubeconfig: string;
  /** ZDS socket the agent listens on for ztunnel. */
  ztunnelUds: string;
  /** The uid ztunnel runs as, allowed on the ZDS socket besides root (SO_PEERCRED); unset = root only (and our own uid). */
  ztunnelUid: number | undefined;
  /** HTTP-over-UDS socket the CNI plugin posts pod events to. */
  pluginEventSocket: string;
  /** The node's CNI config dir and plugin dir (the plugin is installed there). */
  cniNetDir: string;
  cniBinDir: string;
  /** The plugin bundle copied into the CNI bin dir (CNI_PLUGIN_BUNDLE; built by `make cni-plugin`). */
  cniPluginBundle: string;
  flavour: RedirectFlavour;
  dnsCapture: boolean;
  /** netns path of the node (host) for the probe SNAT rules; empty = the agent's own. */
  hostNetns: string;
  excludedNamespaces: Set<string>;
  readinessAddr: { host: string; port: number };
  metricsAddr: { host: string; port: number };
  logLevel: string;
}

/** Where `make cni-plugin` (scripts/build-cni-plugin.ts) writes the bundle, in this tree or the image's /app. */
export const DEFAULT_PLUGIN_BUNDLE = new URL('../../build/cni-plugin/ambient-cni.mjs', import.meta.url).pathname;

export type AgentConfigResult = { ok: true; config: AgentConfig } | { ok: false; errors: string[] };



export function agentConfigFromEnv(env: NodeJS.ProcessEnv): AgentConfigResult {
  const errors: string[] = [];
  const nodeName = env.NODE_NAME ?? '';
  if (!nodeName) errors.push('NODE_NAME is required (the agent captures the pods of one node)');
  const kubeconfig = env.KUBECONFIG ?? '';
  // In a pod the in-cluster config serves (the service account token); elsewhere a file is needed.
  if (!kubeconfig && !env.KUBERNETES_SERVICE_HOST) errors.push('KUBECONFIG is required outside a cluster (no KUBERNETES_SERVICE_HOST)');
  const config: AgentConfig = {
    nodeName,
    podName: env.POD_NAME ?? '',
    podNamespace: env.POD_NAMESPACE ?? '',
    kubeconfig,
    ztunnelUds: env.ZTUNNEL_UDS ?? '/var/run/ztunnel/ztunnel.sock',
    ztunnelUid: envUid(env.ZTUNNEL_UID, 'ZTUNNEL_UID', errors),
    pluginEventSocket: env.PLUGIN_EVENT_SOCKET ?? '/var/run/istio-cni/pluginevent.sock',
    cniNetDir: env.CNI_NET_DIR ?? '/etc/cni/net.d',
    cniBinDir: env.CNI_BIN_DIR ?? '/opt/cni/bin',
    cniPluginBundle: env.CNI_PLUGIN_BUNDLE || DEFAULT_PLUGIN_BUNDLE,
    flavour: envBool(env.NATIVE_NFTABLES, false, 'NATIVE_NFTABLES', errors) ? 'nftables' : 'iptables',
    dnsCapture: envBool(env.AMBIENT_DNS_CAPTURE, true, 'AMBIENT_DNS_CAPTURE', errors),
    hostNetns: env.HOST_NETNS ?? '',
    excludedNamespaces: new Set((env.EXCLUDE_NAMESPACES ?? 'kube-system').split(',').map((s) => s.trim()).filter(Boolean)),
    readinessAddr: envAddress(env.READINESS_ADDR, { host: '0.0.0.0', port: 8000 }, 'READINESS_ADDR', errors),
    metricsAddr: envAddress(env.METRICS_ADDR, { host: '0.0.0.0', port: 15014 }, 'METRICS_ADDR', errors),
    logLevel: env.LOG_LEVEL ?? 'info',
  };
  return errors.length ? { ok: false, errors } : { ok: true, config };
}

function envUid(value: string | undefined, name: string, errors: string[]): number | undefined {
  if (value === undefined || value === '') return undefined;
  const n = Number(value);
  if (!/^\d+$/.test(value) || !Number.isSafeInteger(n) || n > 0xfffffffe) {
    errors.push(`${name} must be a numeric uid, got ${JSON.stringify(value)}`);
    return undefined;
  }
  return n;
}
