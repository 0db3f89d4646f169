// lib/kube's informer against the lab's real apiserver: paged list then watch, add/update/delete
// events, watches that end (the server's timeoutSeconds, the client's idle timer) are re-opened at
// once from their resourceVersion without relisting or counting an error, a failing list is retried
// with backoff until it works.
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

  it('delivers add/update/delete across watches that end, without relisting, and retries a failing list', async () => {
    kubectlSync(lab, ['create', 'configmap', '-n', 'inf', 'before', '--from-literal=a=1']);
    for (let i = 0; i < 5; i++) kubectlSync(lab, ['create', 'configmap', '-n', 'inf', `bulk-${i}`, '--from-literal=a=1']);
    let failLists = 2;
    const inf = new Informer<V1ConfigMap>({
      kubeconfig: kc, path: '/api/v1/namespaces/inf/configmaps', log, backoff: { initialMs: 50, maxMs: 200 },
      // Watches end every 1-2 s (server side) and after 1.5 s without a byte (our idle timer).
      pageSize: 3, watchTimeoutSeconds: 1, watchIdleTimeoutMs: 1500,
      list: async (page) => {
        if (failLists-- > 0) throw new Error('apiserver unavailable (simulated)');
        return core.listNamespacedConfigMap({ namespace: 'inf', ...page });
      },
    });
    const seen: string[] = [];
    inf.on('add', (o) => seen.push(`add ${o.metadata?.name}`)).on('update', (o) => seen.push(`update ${o.metadata?.name}`)).on('delete', (o) => seen.push(`delete ${o.metadata?.name}`));
    inf.start();
    try {
      await inf.synced();
      expect(inf.stats.errors).toBe(2);
      expect(inf.stats.pages).toBeGreaterThanOrEqual(3);
      expect(seen).toContain('add before');
      expect(inf.list()).toHaveLength(7);
      kubectlSync(lab, ['create', 'configmap', '-n', 'inf', 'x', '--from-literal=a=1']);
      await pollUntil('add x', () => seen.includes('add x'), { timeoutMs: 10_000 });
      // Let several watches end and be re-opened, then change things: nothing is missed.
      const opened = inf.stats.watches;
      await pollUntil('three more watches', () => inf.stats.watches >= opened + 3, { timeoutMs: 20_000 });
      kubectlSync(lab, ['patch', 'configmap', '-n', 'inf', 'x', '-p', '{"data":{"a":"2"}}']);
      await pollUntil('update x', () => seen.includes('update x'), { timeoutMs: 5_000 });
      await pollUntil('two more watches', () => inf.stats.watches >= opened + 5, { timeoutMs: 20_000 });
      kubectlSync(lab, ['delete', 'configmap', '-n', 'inf', 'x']);
      await pollUntil('delete x', () => seen.includes('delete x'), { timeoutMs: 5_000 });
      expect(inf.stats.lists).toBe(1);
      expect(inf.stats.errors).toBe(2);
      expect(inf.stats.reopened).toBeGreaterThanOrEqual(5);
      expect(inf.list().map((o) => o.metadata?.name).sort()).toEqual(['before', 'bulk-0', 'bulk-1', 'bulk-2', 'bulk-3', 'bulk-4', 'kube-root-ca.crt']);
    } finally {
      inf.stop();
    }
  }, 90_000);
});
