// The node's kube-proxy stand-in: watches Services and EndpointSlices and (re)programs the node
// netns' NAT rules (built by ../kube-proxy/rules.ts) after each burst of changes.
import { KubeClient, type KubeObject } from '../kube-client.ts';
import { applyRules } from '../kube-proxy/apply.ts';
import { buildServiceRules, serviceInfoFromK8s, sliceInfoFromK8s } from '../kube-proxy/rules.ts';
import { NET } from '../config.ts';

export interface KubeProxyConfig {
  kubeconfig: string;
  nodeNetns: string;
  podCidr: string;
  log: (msg: string, fields?: Record<string, unknown>) => void;
}

type Store = Map<string, KubeObject>;

function key(o: KubeObject): string {
  return `${o.metadata.namespace ?? ''}/${o.metadata.name}`;
}

export function startKubeProxy(cfg: KubeProxyConfig): () => void {
  const client = new KubeClient(cfg.kubeconfig);
  const services: Store = new Map();
  const slices: Store = new Map();
  let synced = { services: false, slices: false };
  let timer: NodeJS.Timeout | undefined;
  let lastText = '';

  const sync = (): void => {
    timer = undefined;
    if (!synced.services || !synced.slices) return;
    const text = buildServiceRules({
      services: [...services.values()].map((s) => serviceInfoFromK8s(s as never)).filter((s) => s !== undefined),
      endpointSlices: [...slices.values()].map((s) => sliceInfoFromK8s(s as never)).filter((s) => s !== undefined),
      podCidr: cfg.podCidr,
      clusterCidr: NET.clusterCidr,
    });
    if (text === lastText) return;
    try {
      applyRules(cfg.nodeNetns, text);
      lastText = text;
    } catch (err) {
      cfg.log('kube-proxy: applying rules failed', { error: (err as Error).message });
      timer = setTimeout(sync, 1000);
    }
  };
  const schedule = (): void => {
    timer ??= setTimeout(sync, 50);
  };
  const track = (store: Store, which: 'services' | 'slices') => ({
    onSync: (items: KubeObject[]) => {
      store.clear();
      for (const o of items) store.set(key(o), o);
      synced = { ...synced, [which]: true };
      schedule();
    },
    onEvent: (ev: { type: string; object: KubeObject }) => {
      if (ev.type === 'DELETED') store.delete(key(ev.object));
      else store.set(key(ev.object), ev.object);
      schedule();
    },
    onError: (err: Error) => cfg.log(`kube-proxy: ${which} watch error`, { error: err.message }),
  });
  const stopSvc = client.informer('/api/v1/services', track(services, 'services'));
  const stopEps = client.informer('/apis/discovery.k8s.io/v1/endpointslices', track(slices, 'slices'));
  return () => {
    stopSvc();
    stopEps();
    if (timer) clearTimeout(timer);
    client.close();
  };
}
