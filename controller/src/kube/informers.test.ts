// compactPod: what the pod informer keeps of each object still builds the same Workload.
import type { V1Pod } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { buildWorkload, modelOptions } from '../model/index.ts';
import { pod } from '../model/test-fixtures.ts';
import { compactPod } from './informers.ts';

describe('compactPod', () => {
  it('drops what nothing reads and leaves the Workload the same', () => {
    const p = pod({ name: 'web', namespace: 'shop', labels: { app: 'web' }, serviceAccount: 'web', hostNetwork: true, initContainers: [{ name: 'proxy', restartPolicy: 'Always', ports: [{ name: 'admin', containerPort: 15000 }] }] });
    const full: V1Pod = structuredClone(p);
    full.metadata!.managedFields = [{ manager: 'kubectl', operation: 'Update' }];
    full.metadata!.annotations = { 'kubectl.kubernetes.io/last-applied-configuration': '{}', keep: 'me' };
    full.spec!.containers[0]!.env = [{ name: 'A', value: 'b' }];
    full.spec!.containers[0]!.image = 'web:1';
    full.spec!.volumes = [{ name: 'data', emptyDir: {} }];
    full.status!.containerStatuses = [{ name: 'app', image: 'web:1', imageID: '', ready: true, restartCount: 0 }];
    full.status!.conditions![0]!.message = 'long text';
    const compact = structuredClone(full);
    compactPod(compact);
    expect(compact.metadata!.managedFields).toBeUndefined();
    expect(compact.metadata!.annotations).toEqual({ keep: 'me' });
    expect(compact.spec!.volumes).toBeUndefined();
    expect(compact.spec!.containers[0]).toEqual({ name: 'app', ports: p.spec!.containers[0]!.ports });
    expect(compact.status!.containerStatuses).toBeUndefined();
    const options = modelOptions();
    expect(buildWorkload(compact, {}, options)).toEqual(buildWorkload(full, {}, options));
  });
});
