// What the kubelet API asks of the node's pod runtime: the pods it runs and, per container, how a
// command runs as that container would (netns, env, cwd) and where its log is.
import type { ContainerRunState } from '../types.ts';

export interface ContainerTarget {
  uid: string;
  namespace: string;
  name: string;
  container: string;
  /** The pod's netns (`/run/netns/…`); undefined for host-process pods, which use the node's. */
  netnsPath?: string;
  env: NodeJS.ProcessEnv;
  cwd: string;
  logPath: string;
  state: ContainerRunState;
  restartCount: number;
  /** The image's catalogue `commands`: exec names that run lab programs. */
  commands: Readonly<Record<string, string>>;
}

export interface PodTarget {
  uid: string;
  namespace: string;
  name: string;
  netnsPath?: string;
  containers: string[];
}

export interface KubeletHost {
  findPod(namespace: string, name: string): PodTarget | undefined;
  findContainer(namespace: string, name: string, container: string): ContainerTarget | undefined;
}
