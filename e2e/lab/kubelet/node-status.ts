// Node heartbeat of the stand-in: the Node's status (Ready, addresses, capacity) and its Lease in
// kube-node-lease, renewed every 10 s, so the node lifecycle controller keeps the node schedulable.
import { release } from 'node:os';
import type { KubeClient } from '../kube-client.ts';
import { KubeError } from '../kube-client.ts';

export interface NodeInfo {
  name: string;
  internalIp: string;
  podCidr: string;
  kubeletVersion: string;
  /** Where the apiserver reaches this kubelet's API (the host's loopback; see --kubelet-preferred-address-types). */
  kubeletAddress?: string;
  kubeletPort?: number;
}

export function nodeStatus(info: NodeInfo, now: string): Record<string, unknown> {
  const cond = (type: string, status: string, reason: string) => ({
    type, status, reason, lastHeartbeatTime: now, lastTransitionTime: now, message: `lab kubelet: ${reason}`,
  });
  const resources = { cpu: '8', memory: '16Gi', pods: '110', 'ephemeral-storage': '50Gi' };
  return {
    conditions: [
      cond('MemoryPressure', 'False', 'KubeletHasSufficientMemory'),
      cond('DiskPressure', 'False', 'KubeletHasNoDiskPressure'),
      cond('PIDPressure', 'False', 'KubeletHasSufficientPID'),
      cond('Ready', 'True', 'KubeletReady'),
    ],
    addresses: [
      { type: 'InternalIP', address: info.internalIp },
      ...(info.kubeletAddress ? [{ type: 'ExternalIP', address: info.kubeletAddress }] : []),
      { type: 'Hostname', address: info.name },
    ],
    capacity: resources,
    allocatable: resources,
    nodeInfo: {
      machineID: info.name, systemUUID: info.name, bootID: info.name,
      kernelVersion: release(), osImage: 'ambient-mesh lab', containerRuntimeVersion: 'lab://0.1.0',
      kubeletVersion: info.kubeletVersion, kubeProxyVersion: info.kubeletVersion,
      operatingSystem: 'linux', architecture: process.arch === 'x64' ? 'amd64' : process.arch,
    },
    daemonEndpoints: { kubeletEndpoint: { Port: info.kubeletPort ?? 0 } },
  };
}

export async function heartbeat(client: KubeClient, info: NodeInfo): Promise<void> {
  const now = new Date().toISOString();
  await client.request('PATCH', `/api/v1/nodes/${info.name}/status`, { status: nodeStatus(info, now) },
    'application/merge-patch+json');
  const leasePath = `/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/${info.name}`;
  const micro = now.replace(/\.(\d{3})Z$/, '.$1000Z');
  const spec = { holderIdentity: info.name, leaseDurationSeconds: 40, renewTime: micro };
  try {
    await client.request('PATCH', leasePath, { spec }, 'application/merge-patch+json');
  } catch (err) {
    if (!(err instanceof KubeError) || err.status !== 404) throw err;
    await client.request('POST', '/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases', {
      apiVersion: 'coordination.k8s.io/v1', kind: 'Lease',
      metadata: { name: info.name, namespace: 'kube-node-lease' },
      spec,
    });
  }
}
