import { describe, expect, it } from 'vitest';
import { agentConfigFromEnv } from './config.ts';

const base = { NODE_NAME: 'node1', KUBECONFIG: '/etc/kubeconfig' };

describe('agentConfigFromEnv: ZTUNNEL_UID', () => {
  it('is unset by default (root only on the ZDS socket) and takes a numeric uid', () => {
    expect(agentConfigFromEnv(base)).toMatchObject({ ok: true, config: { ztunnelUid: undefined } });
    expect(agentConfigFromEnv({ ...base, ZTUNNEL_UID: '1337' })).toMatchObject({ ok: true, config: { ztunnelUid: 1337 } });
  });

  it('refuses a name or a negative number with a clear error', () => {
    for (const bad of ['ztunnel', '-1', '1.5', '4294967295']) {
      expect(agentConfigFromEnv({ ...base, ZTUNNEL_UID: bad })).toEqual({ ok: false, errors: [`ZTUNNEL_UID must be a numeric uid, got ${JSON.stringify(bad)}`] });
    }
  });
});

describe('agentConfigFromEnv: KUBECONFIG and the plugin bundle', () => {
  it('uses the in-cluster config in a pod, and needs a file elsewhere', () => {
    expect(agentConfigFromEnv({ NODE_NAME: 'node1', KUBERNETES_SERVICE_HOST: '10.96.0.1' })).toMatchObject({ ok: true, config: { kubeconfig: '' } });
    expect(agentConfigFromEnv({ NODE_NAME: 'node1' })).toEqual({ ok: false, errors: ['KUBECONFIG is required outside a cluster (no KUBERNETES_SERVICE_HOST)'] });
  });

  it('finds the bundle in this tree by default, CNI_PLUGIN_BUNDLE elsewhere', () => {
    const def = agentConfigFromEnv(base);
    expect(def.ok && def.config.cniPluginBundle.endsWith('/build/cni-plugin/ambient-cni.mjs')).toBe(true);
    expect(agentConfigFromEnv({ ...base, CNI_PLUGIN_BUNDLE: '/opt/x.mjs' })).toMatchObject({ ok: true, config: { cniPluginBundle: '/opt/x.mjs' } });
  });
});
