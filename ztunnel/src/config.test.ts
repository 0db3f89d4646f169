import { describe, expect, it } from 'vitest';
import { configFromEnv } from './config.ts';

describe('configFromEnv', () => {
  it("uses Istio's defaults", () => {
    const r = configFromEnv({ NODE_NAME: 'node1' });
    expect(r).toMatchObject({ ok: true, config: { nodeName: 'node1', inpodUds: '/var/run/ztunnel/ztunnel.sock', adminAddr: { host: '127.0.0.1', port: 15000 }, metricsAddr: { port: 15020 }, readinessAddr: { port: 15021 }, terminationDeadlineMs: 5000, trustDomain: 'cluster.local' } });
  });

  it('takes per-node overrides for the lab', () => {
    const r = configFromEnv({ NODE_NAME: 'n2', ADMIN_ADDR: '127.0.0.1:25000', STATS_ADDR: '25020', INPOD_UDS: '/tmp/z.sock', LOCAL_XDS_PATH: '/tmp/x.yaml' });
    expect(r).toMatchObject({ ok: true, config: { adminAddr: { port: 25000 }, metricsAddr: { host: '0.0.0.0', port: 25020 }, inpodUds: '/tmp/z.sock', localXdsPath: '/tmp/x.yaml' } });
  });

  it('reports every problem at once', () => {
    expect(configFromEnv({ ADMIN_ADDR: 'x:99999', CA_ROOT_CERT: '/a' })).toEqual({
      ok: false,
      errors: ['NODE_NAME is required (ztunnel serves the pods of one node)', 'ADMIN_ADDR: not a port or host:port: x:99999', 'CA_ROOT_CERT and CA_ROOT_KEY go together'],
    });
  });
});

describe('control-plane headers and proxy mode', () => {
  it('reads XDS_HEADER_* and CA_HEADER_* as lower-case metadata, and PROXY_MODE', () => {
    const r = configFromEnv({ NODE_NAME: 'n1', 'XDS_HEADER_x-team': 'mesh', CA_HEADER_Tenant: 'a', PROXY_MODE: 'dedicated' });
    expect(r.ok && { xds: r.config.xdsHeaders, ca: r.config.caHeaders, mode: r.config.proxyMode }).toEqual({ xds: { 'x-team': 'mesh' }, ca: { tenant: 'a' }, mode: 'dedicated' });
    const d = configFromEnv({ NODE_NAME: 'n1' });
    expect(d.ok && { xds: d.config.xdsHeaders, mode: d.config.proxyMode }).toEqual({ xds: {}, mode: 'shared' });
  });
});
