// The sample apps the demo and the lab suite deploy: an HTTP echo Deployment spread over the nodes
// with its Service, and a client Pod pinned to node1 to exec into.
export function sampleApps(namespace: string): string {
  return `
apiVersion: v1
kind: Namespace
metadata: { name: ${namespace} }
---
apiVersion: apps/v1
kind: Deployment
metadata: { name: echo, namespace: ${namespace} }
spec:
  replicas: 2
  selector: { matchLabels: { app: echo } }
  template:
    metadata: { labels: { app: echo, version: v1 } }
    spec:
      topologySpreadConstraints:
      - { maxSkew: 1, topologyKey: kubernetes.io/hostname, whenUnsatisfiable: DoNotSchedule, labelSelector: { matchLabels: { app: echo } } }
      containers: [{ name: echo, image: lab/http-echo, ports: [{ containerPort: 8080 }] }]
---
apiVersion: v1
kind: Service
metadata: { name: echo, namespace: ${namespace} }
spec: { selector: { app: echo }, ports: [{ name: http, port: 80, targetPort: 8080 }] }
---
apiVersion: v1
kind: Pod
metadata: { name: client, namespace: ${namespace}, labels: { app: client } }
spec:
  nodeSelector: { kubernetes.io/hostname: node1 }
  containers: [{ name: client, image: lab/sleep }]
`;
}

export interface PodJson {
  metadata: { name: string; labels?: Record<string, string> };
  spec: { nodeName?: string };
  status: {
    podIP?: string;
    phase?: string;
    conditions?: { type: string; status: string }[];
    containerStatuses?: { state?: { waiting?: { reason?: string; message?: string } } }[];
  };
}

export const isReady = (p: PodJson): boolean => p.status.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') === true;
