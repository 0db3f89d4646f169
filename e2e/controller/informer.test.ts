// lib/kube's informer against the lab's real apiserver: list then watch, add/update/delete events,
// a watch cut in the middle resumes from its resourceVersion without relisting, a failing list is
// retried with backoff until it works.
import { PassThrough } from 'node:stream';
import { CoreV1Api, KubeConfig, type V1ConfigMap } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Informer } from '../../lib/kube/informer.ts';
import { createLogger } from '../../lib/log/logger.ts';
import { down, kubectlSync, up } from '../lab/lab.ts';
import { pollUntil } from '../lab/poll.ts';
import type { LabState } from '../lab/state.ts';

describe('lib/kube informer on the lab apiserver (root)', () => {
  let lab: LabState;
  let core: CoreV1Api;
  let kc: KubeConfig;
  const log = createLogger({ component: 'test', destination: new PassThrough() });

  beforeAll(async () => {
    if (process.getuid?.() !== 0) throw new Error('must run as root: starts the lab');
    lab = await up({ nodes: 1 });
    kc = new KubeConfig();
    kc.loadFromFile(lab.kubeconfig);
    core = kc.makeApiClient(CoreV1Api);
    kubectlSync(lab, ['create', 'namespace', 'inf']);
  }, 240_000);

  afterAll(async () => {
    await down();
  }, 120_000);

  it('delivers add/update/delete, survives a cut watch without relisting, and retries a failing list', async () => {
    kubectlSync(lab, ['create', 'configmap', '-n', 'inf', 'before', '--from-literal=a=1']);
    let failLists = 2;
    const inf = new Informer<V1ConfigMap>({
      kubeconfig: kc, path: '/api/v1/namespaces/inf/configmaps', log, backoff: { initialMs: 50, maxMs: 200 },
      list: async () => {
        if (failLists-- > 0) throw new Error('apiserver unavailable (simulated)');
        return core.listNamespacedConfigMap({ namespace: 'inf' });
      },
    });
    const seen: string[] = [];
    inf.on('add', (o) => seen.push(`add ${o.metadata?.name}`)).on('update', (o) => seen.push(`update ${o.metadata?.name}`)).on('delete', (o) => seen.push(`delete ${o.metadata?.name}`));
    inf.start();
    try {
      await inf.synced();
      expect(inf.stats.errors).toBe(2);
      expect(seen).toContain('add before');
      kubectlSync(lab, ['create', 'configmap', '-n', 'inf', 'x', '--from-literal=a=1']);
      await pollUntil('add x', () => seen.includes('add x'), { timeoutMs: 10_000 });
      // Cut the watch connection: the informer resumes from the last resourceVersion.
      (inf as unknown as { abort?: AbortController }).abort?.abort();
      kubectlSync(lab, ['patch', 'configmap', '-n', 'inf', 'x', '-p', '{"data":{"a":"2"}}']);
      await pollUntil('update x', () => seen.includes('update x'), { timeoutMs: 15_000 });
      kubectlSync(lab, ['delete', 'configmap', '-n', 'inf', 'x']);
      await pollUntil('delete x', () => seen.includes('delete x'), { timeoutMs: 10_000 });
      expect(inf.stats.lists).toBe(1);
      expect(inf.list().map((o) => o.metadata?.name).sort()).toEqual(['before', 'kube-root-ca.crt']);
    } finally {
      inf.stop();
    }
  }, 60_000);
});
