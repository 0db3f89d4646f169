// TypeScript shapes of the istio.workload.zds messages (protos/istio/workload/zds/zds.proto) in
// decoded form. lib/zds builds its friendlier request union on top of these.
import type { Empty } from './well-known-types.ts';

export const ZdsVersion = { NOT_USED: 0, V1: 1 } as const;
export type ZdsVersion = (typeof ZdsVersion)[keyof typeof ZdsVersion];

export interface ZdsHello {
  /** A ZdsVersion; a newer peer may send a value we do not know, so decoded as a plain number. */
  version: number;
}

export interface ZdsWorkloadInfo {
  name: string;
  namespace: string;
  serviceAccount: string;
}

export interface AddWorkload {
  uid: string;
  workloadInfo?: ZdsWorkloadInfo;
}

export interface KeepWorkload {
  uid: string;
}

export interface DelWorkload {
  uid: string;
}

export type SnapshotSent = Empty;

export interface ZdsAck {
  /** Empty on success. */
  error: string;
}

/** Node agent -> ztunnel. */
export interface WorkloadRequest {
  payload?:
    | { $case: 'add'; add: AddWorkload }
    | { $case: 'del'; del: DelWorkload }
    | { $case: 'snapshotSent'; snapshotSent: SnapshotSent }
    | { $case: 'keep'; keep: KeepWorkload };
}

/** ztunnel -> node agent. */
export interface WorkloadResponse {
  payload?: { $case: 'ack'; ack: ZdsAck };
}
