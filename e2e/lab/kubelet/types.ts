// The parts of Kubernetes objects the kubelet stand-in reads and writes.
import type { KubeObject } from '../kube-client.ts';
import type { Volume, VolumeMount } from './volumes.ts';

export interface EnvVar {
  name: string;
  value?: string;
  valueFrom?: { fieldRef?: { fieldPath: string } };
}

export interface Container {
  name: string;
  image: string;
  args?: string[];
  command?: string[];
  env?: EnvVar[];
  ports?: { containerPort: number; name?: string; protocol?: string }[];
  volumeMounts?: VolumeMount[];
  readinessProbe?: { httpGet?: { path?: string; port?: number | string }; periodSeconds?: number };
}

export interface Pod extends KubeObject {
  metadata: KubeObject['metadata'] & {
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
    deletionTimestamp?: string;
    deletionGracePeriodSeconds?: number;
  };
  spec: {
    nodeName?: string;
    containers: Container[];
    restartPolicy?: 'Always' | 'OnFailure' | 'Never';
    serviceAccountName?: string;
    hostNetwork?: boolean;
    terminationGracePeriodSeconds?: number;
    volumes?: Volume[];
  };
  status?: Record<string, unknown>;
}

export type ContainerRunState =
  | { kind: 'waiting'; reason: string; message?: string }
  | { kind: 'running'; startedAt: string }
  | { kind: 'terminated'; exitCode: number; reason: string; startedAt?: string; finishedAt: string };

export interface ContainerRecord {
  name: string;
  image: string;
  state: ContainerRunState;
  lastTerminated?: Extract<ContainerRunState, { kind: 'terminated' }>;
  ready: boolean;
  restartCount: number;
}

export interface PodRecord {
  uid: string;
  namespace: string;
  name: string;
  netns: string;
  podIp?: string;
  startTime: string;
  containers: ContainerRecord[];
  /** Set when the sandbox (netns + CNI) could not be made. */
  sandboxError?: string;
  /** Host-process pod (catalogue run mode `host-process`): no sandbox, the node's IP, `netns` is the node's. */
  hostProcess?: boolean;
  restartPolicy: 'Always' | 'OnFailure' | 'Never';
}
