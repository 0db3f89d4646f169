import { describe, expect, it } from 'vitest';
import { configFromEnv, waypointIdentity, xdsNode } from './config.ts';

const POD = { POD_NAME: 'waypoint-7d9f-abcde', POD_NAMESPACE: 'bookinfo', INSTANCE_IP: '10.244.1.7', SERVICE_ACCOUNT: 'waypoint' };

describe('configFromEnv', () => {
  it("uses Istio's defaults", () => {
    const r = configFromEnv(POD);
    expect(r).toEqual({
      ok: true,
      config: {
        xdsAddress: 'https://istiod.istio-system.svc:15012',
        xdsRootCaPath: './var/run/secrets/istio/root-cert.pem',
        caAddress: 'https://istiod.istio-system.svc:15012',
        caRootCaPath: './var/run/secrets/istio/root-cert.pem',
        authTokenPath: './var/run/secrets/tokens/istio-token',
        clusterId: 'Kubernetes',
        trustDomain: 'cluster.local',
        domainSuffix: 'cluster.local',
        podName: 'waypoint-7d9f-abcde',
        podNamespace: 'bookinfo',
        instanceIp: '10.244.1.7',
        serviceAccount: 'waypoint',
        gatewayName: 'waypoint',
        workloadName: 'waypoint',
        secretTtlS: 86400,
        hboneAddr: { host: '::', port: 15008, fallbackHost: '0.0.0.0' },
        adminAddr: { host: '127.0.0.1', port: 15000 },
        statsAddr: { host: '0.0.0.0', port: 15020 },
        readinessAddr: { host: '0.0.0.0', port: 15021 },
        drainDurationMs: 5000,
        logLevel: 'info',
      },
    });
  });

  it('reads every override, port 0 included (the lab)', () => {
    const r = configFromEnv({
      ...POD,
      XDS_ADDRESS: 'http://127.0.0.1:15010',
      CA_ADDRESS: 'istiod.istio-system.svc:15012',
      XDS_ROOT_CA: '/x.pem',
      CA_ROOT_CA: '/c.pem',
      ALT_XDS_HOSTNAME: 'istiod.example',
      ALT_CA_HOSTNAME: 'ca.example',
      AUTH_TOKEN: '/t',
      CLUSTER_ID: 'c2',
      TRUST_DOMAIN: 'td.example',
      DOMAIN_SUFFIX: 'corp.local',
      NODE_NAME: 'node-1',
      GATEWAY_NAME: 'gw',
      WORKLOAD_NAME: 'gw-deploy',
      SECRET_TTL: '1h',
      POD_NETNS: '/run/netns/pod-1',
      HBONE_ADDR: '10.244.1.7:0',
      ADMIN_ADDR: '127.0.0.1:0',
      STATS_ADDR: '0',
      READINESS_ADDR: '[::1]:0',
      TERMINATION_DRAIN_DURATION: '2s',
      LOG_LEVEL: 'debug',
    });
    expect(r).toMatchObject({
      ok: true,
      config: {
        xdsAddress: 'http://127.0.0.1:15010',
        caAddress: 'istiod.istio-system.svc:15012',
        xdsRootCaPath: '/x.pem',
        caRootCaPath: '/c.pem',
        altXdsHostname: 'istiod.example',
        altCaHostname: 'ca.example',
        authTokenPath: '/t',
        clusterId: 'c2',
        trustDomain: 'td.example',
        domainSuffix: 'corp.local',
        nodeName: 'node-1',
        gatewayName: 'gw',
        workloadName: 'gw-deploy',
        secretTtlS: 3600,
        podNetns: '/run/netns/pod-1',
        hboneAddr: { host: '10.244.1.7', port: 0 },
        adminAddr: { host: '127.0.0.1', port: 0 },
        statsAddr: { host: '0.0.0.0', port: 0 },
        readinessAddr: { host: '::1', port: 0 },
        drainDurationMs: 2000,
        logLevel: 'debug',
      },
    });
    expect(r.ok && r.config.hboneAddr.fallbackHost).toBeUndefined();
  });

  it('defaults CA_ADDRESS to XDS_ADDRESS and prefers ISTIO_META_CLUSTER_ID', () => {
    expect(configFromEnv({ ...POD, XDS_ADDRESS: 'http://cp:15010', ISTIO_META_CLUSTER_ID: 'c1', CLUSTER_ID: 'c2' })).toMatchObject({
      config: { caAddress: 'http://cp:15010', clusterId: 'c1' },
    });
  });

  it('takes CONNECTION_TERMINATION_DEADLINE when TERMINATION_DRAIN_DURATION is unset', () => {
    expect(configFromEnv({ ...POD, CONNECTION_TERMINATION_DEADLINE: '0.5' })).toMatchObject({ config: { drainDurationMs: 500 } });
  });

  it('collects every problem with the variable name', () => {
    const r = configFromEnv({
      POD_NAME: 'p',
      INSTANCE_IP: 'not-an-ip',
      XDS_ADDRESS: 'unix:///x',
      CA_ADDRESS: 'ftp://x',
      SECRET_TTL: '1 day',
      ADMIN_ADDR: 'x:99999',
      TERMINATION_DRAIN_DURATION: 'soon',
      LOG_LEVEL: 'loud',
    });
    expect(r.ok).toBe(false);
    const errors = r.ok ? [] : r.errors;
    for (const name of ['XDS_ADDRESS', 'CA_ADDRESS', 'POD_NAMESPACE', 'INSTANCE_IP', 'SERVICE_ACCOUNT', 'SECRET_TTL', 'ADMIN_ADDR', 'TERMINATION_DRAIN_DURATION', 'LOG_LEVEL']) {
      expect(errors.some((e) => e.startsWith(name)), name).toBe(true);
    }
  });

  it('wants a numeric HBONE_ADDR host with POD_NETNS', () => {
    expect(configFromEnv({ ...POD, POD_NETNS: '/run/netns/x', HBONE_ADDR: 'localhost:15008' })).toMatchObject({ ok: false });
  });
});

describe('xDS node and identity', () => {
  it("is Istio's router node for the waypoint pod", () => {
    const r = configFromEnv({ ...POD, GATEWAY_NAME: 'waypoint', CLUSTER_ID: 'Kubernetes' });
    if (!r.ok) throw new Error(r.errors.join('; '));
    expect(xdsNode(r.config)).toEqual({
      id: 'router~10.244.1.7~waypoint-7d9f-abcde.bookinfo~bookinfo.svc.cluster.local',
      metadata: {
        NAME: 'waypoint-7d9f-abcde',
        NAMESPACE: 'bookinfo',
        INSTANCE_IPS: '10.244.1.7',
        SERVICE_ACCOUNT: 'waypoint',
        CLUSTER_ID: 'Kubernetes',
        WORKLOAD_NAME: 'waypoint',
        GATEWAY_NAME: 'waypoint',
        LABELS: { 'gateway.networking.k8s.io/gateway-name': 'waypoint' },
      },
    });
    expect(waypointIdentity(r.config)).toBe('spiffe://cluster.local/ns/bookinfo/sa/waypoint');
  });
});
