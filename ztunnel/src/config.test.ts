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

describe('CA settings from the environment', () => {
  it("uses Istio's defaults", () => {
    const r = configFromEnv({ NODE_NAME: 'n' });
    expect(r.ok && r.config).toMatchObject({ secretTtlS: 86400, clusterId: 'Kubernetes', caRootCaPath: '/var/run/secrets/istio/root-cert.pem' });
    expect(r.ok && r.config.caAddress).toBeUndefined();
    expect(r.ok && r.config.authTokenPath).toBeUndefined();
  });

  it('reads CA_ADDRESS, CA_ROOT_CA, ALT_CA_HOSTNAME, AUTH_TOKEN and the cluster id', () => {
    const r = configFromEnv({
      NODE_NAME: 'n',
      CA_ADDRESS: 'https://istiod.istio-system.svc:15012',
      CA_ROOT_CA: '/etc/ca.pem',
      ALT_CA_HOSTNAME: 'istiod.example',
      AUTH_TOKEN: '/t/istio-token',
      CLUSTER_ID: 'c2',
    });
    expect(r).toMatchObject({
      ok: true,
      config: { caAddress: 'https://istiod.istio-system.svc:15012', caRootCaPath: '/etc/ca.pem', altCaHostname: 'istiod.example', authTokenPath: '/t/istio-token', clusterId: 'c2' },
    });
    expect(configFromEnv({ NODE_NAME: 'n', ISTIO_META_CLUSTER_ID: 'c1', CLUSTER_ID: 'c2' })).toMatchObject({ config: { clusterId: 'c1' } });
  });

  it.each([
    ['3600', 3600],
    ['24h', 86400],
    ['1h30m', 5400],
    ['90s', 90],
    ['1.5h', 5400],
  ])('SECRET_TTL=%s is %d s', (v, want) => {
    expect(configFromEnv({ NODE_NAME: 'n', SECRET_TTL: v })).toMatchObject({ ok: true, config: { secretTtlS: want } });
  });

  it('rejects a bad SECRET_TTL or CA_ADDRESS', () => {
    expect(configFromEnv({ NODE_NAME: 'n', SECRET_TTL: '1 day', CA_ADDRESS: 'unix:///x' })).toEqual({
      ok: false,
      errors: ['SECRET_TTL: not a duration of at least 1s (seconds or e.g. 24h): 1 day', 'CA_ADDRESS: expected https://host:port or http://host:port: unix:///x'],
    });
    expect(configFromEnv({ NODE_NAME: 'n', SECRET_TTL: '0s' })).toMatchObject({ ok: false });
  });
});

describe('HBONE CONNECT response timeout', () => {
  it('defaults to 10 s and takes HBONE_CONNECT_RESPONSE_TIMEOUT as seconds or a duration', () => {
    const d = configFromEnv({ NODE_NAME: 'n1' });
    expect(d.ok && d.config.hboneResponseTimeoutMs).toBe(10_000);
    const ms = configFromEnv({ NODE_NAME: 'n1', HBONE_CONNECT_RESPONSE_TIMEOUT: '250ms' });
    expect(ms.ok && ms.config.hboneResponseTimeoutMs).toBe(250);
    const s = configFromEnv({ NODE_NAME: 'n1', HBONE_CONNECT_RESPONSE_TIMEOUT: '3' });
    expect(s.ok && s.config.hboneResponseTimeoutMs).toBe(3000);
    expect(configFromEnv({ NODE_NAME: 'n1', HBONE_CONNECT_RESPONSE_TIMEOUT: 'soon' })).toEqual({
      ok: false,
      errors: ['HBONE_CONNECT_RESPONSE_TIMEOUT: not a positive duration (seconds or e.g. 500ms): soon'],
    });
  });
});
