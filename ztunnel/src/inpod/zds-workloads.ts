// Binds the ZDS client to the WorkloadManager: an announced pod becomes a pod proxy, a deleted one
// is stopped. The client already drops the pods a snapshot did not name (through onDel), so at the
// end of a snapshot the manager keeps everything it runs and only records that a snapshot happened.
import type { ZdsWorkloadInfo } from '../../../lib/zds/index.ts';
import type { WorkloadManager } from './workload-manager.ts';
import type { ZdsConsumer } from './zds-client.ts';

/** The part of WorkloadManager this binding uses. */
export type ZdsWorkloadTarget = Pick<WorkloadManager, 'add' | 'remove' | 'reconcile' | 'pods'>;

export function workloadManagerConsumer(workloads: ZdsWorkloadTarget): ZdsConsumer {
  return {
    onAdd: (uid: string, info: ZdsWorkloadInfo, netnsFd: number) => {
      // WorkloadManager.add owns the fd from here, closing it itself if the proxy fails to start.
      workloads.add({ uid, name: info.name, namespace: info.namespace, serviceAccount: info.serviceAccount }, netnsFd);
    },
    onDel: (uid: string) => {
      workloads.remove(uid);
    },
    onSnapshotDone: () => {
      workloads.reconcile(new Set(workloads.pods().map((p) => p.uid)));
    },
  };
}
