// What ztunnel announces and presents to the control plane, and the xDS settings read from the
// environment (Istio's variable names).
import { describe, expect, it } from 'vitest';
import { structToJson } from '../../../lib/proto/index.ts';
import { configFromEnv } from '../config.ts';
import { ztunnelNode } from './workload-xds.ts';

describe('ztunnelNode', () => {
  it("builds Istio's ztunnel node id and metadata", () => {
    const n = ztunnelNode({ nodeName: 'node1', podName: 'ztunnel-abc', podNamespace: 'istio-system', instanceIp: '10.0.0.5' }, '0.1.0');
    expect(n.id).toBe('ztunnel~10.0.0.5~ztunnel-abc.istio-system~istio-system.svc.cluster.local');
    expect(structToJson(n.metadata)).toEqual({ NAME: 'ztunnel-abc', NAMESPACE: 'istio-system', INSTANCE_IPS: '10.0.0.5', NODE_NAME: 'node1' });
    expect(n.userAgentVersionType).toEqual({ $case: 'userAgentVersion', userAgentVersion: '0.1.0' });
  });
});

describe('configFromEnv: workload xDS', () => {
  const pod = { NODE_NAME: 'node1', POD_NAME: 'ztunnel-abc', POD_NAMESPACE: 'istio-system', INSTANCE_IP: '10.0.0.5' };

  it('no XDS_ADDRESS: no xDS; the defaults', () => {
    const r = configFromEnv({ NODE_NAME: 'node1' });
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.config.xdsAddress).toBeUndefined();
    expect(r.config).toMatchObject({ xdsRootCaPath: '/var/run/secrets/istio/root-cert.pem', clusterId: 'Kubernetes', podName: '', podNamespace: 'istio-system', instanceIp: '' });
  });

  it("reads Istio's names", () => {
    const r = configFromEnv({ ...pod, XDS_ADDRESS: 'https://istiod.istio-system.svc:15012', XDS_ROOT_CA: '/etc/root.pem', ALT_XDS_HOSTNAME: 'istiod.example', AUTH_TOKEN: '/t/token', ISTIO_META_CLUSTER_ID: 'c1', CLUSTER_ID: 'c2' });
    expect(r).toMatchObject({
      ok: true,
      config: { xdsAddress: 'https://istiod.istio-system.svc:15012', xdsRootCaPath: '/etc/root.pem', altXdsHostname: 'istiod.example', authTokenPath: '/t/token', clusterId: 'c1', podName: 'ztunnel-abc', podNamespace: 'istio-system', instanceIp: '10.0.0.5' },
    });
    expect(configFromEnv({ ...pod, XDS_ADDRESS: 'http://127.0.0.1:15010', CLUSTER_ID: 'c2' })).toMatchObject({ ok: true, config: { clusterId: 'c2' } });
  });

  it('refuses a bad address, a missing pod identity, and a local file alongside', () => {
    const r = configFromEnv({ NODE_NAME: 'node1', XDS_ADDRESS: 'istiod:15012', LOCAL_XDS_PATH: '/x.yaml', INSTANCE_IP: 'nope' });
    expect(r.ok).toBe(false);
    expect(!r.ok && r.errors).toEqual([
      expect.stringMatching(/^XDS_ADDRESS: /),
      'XDS_ADDRESS and LOCAL_XDS_PATH are exclusive (config comes from one of them)',
      'POD_NAME is required with XDS_ADDRESS (it is part of the xDS node id)',
      "INSTANCE_IP must be this pod's IP with XDS_ADDRESS: nope",
    ]);
  });
});
