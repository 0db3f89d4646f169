// The controller's environment: the waypoint deployer's settings (istiod's names where it has one).
import { describe, expect, it } from 'vitest';
import { controllerConfigFromEnv } from './config.ts';

const parse = (env: NodeJS.ProcessEnv) => {
  const r = controllerConfigFromEnv(env);
  if (!r.ok) throw new Error(r.errors.join('; '));
  return r.config;
};

describe('controllerConfigFromEnv: waypoints', () => {
  it('defaults: discovery address in the system namespace, our waypoint image, no extra env', () => {
    const c = parse({ POD_NAMESPACE: 'mesh' });
    expect([c.discoveryAddress, c.waypointImage, c.waypointExtraEnv]).toEqual(['istiod.mesh.svc:15012', 'ambient-mesh/waypoint:0.1.0', {}]);
  });

  it('reads DISCOVERY_ADDRESS, WAYPOINT_IMAGE and WAYPOINT_EXTRA_ENV (scalars become strings)', () => {
    const c = parse({ DISCOVERY_ADDRESS: '10.0.0.1:15012', WAYPOINT_IMAGE: 'reg/ambient-mesh/waypoint:dev', WAYPOINT_EXTRA_ENV: '{"XDS_ADDRESS":"https://10.0.0.1:15012","PORT":15008,"DEBUG":true}' });
    expect(c.discoveryAddress).toBe('10.0.0.1:15012');
    expect(c.waypointImage).toBe('reg/ambient-mesh/waypoint:dev');
    expect(c.waypointExtraEnv).toEqual({ XDS_ADDRESS: 'https://10.0.0.1:15012', PORT: '15008', DEBUG: 'true' });
  });

  it.each([
    ['not JSON', '{x', /WAYPOINT_EXTRA_ENV: not JSON/],
    ['an array', '["a"]', /not a JSON object/],
    ['a nested value', '{"A":{"b":1}}', /A: want a string/],
  ])('refuses WAYPOINT_EXTRA_ENV that is %s', (_n, v, err) => {
    const r = controllerConfigFromEnv({ WAYPOINT_EXTRA_ENV: v });
    expect(r.ok).toBe(false);
    expect(r.ok ? '' : r.errors.join('\n')).toMatch(err);
  });
});

describe('controllerConfigFromEnv: xDS security', () => {
  it('plaintext 15010 on loopback and xDS authentication by default; GRPC_ADDR and XDS_AUTH override', () => {
    const c = parse({});
    expect([c.grpcAddr, c.grpcTlsAddr.host, c.xdsAuth]).toEqual([{ host: '127.0.0.1', port: 15010 }, '0.0.0.0', true]);
    const o = parse({ GRPC_ADDR: '0.0.0.0:15010', XDS_AUTH: 'false' });
    expect([o.grpcAddr.host, o.xdsAuth]).toEqual(['0.0.0.0', false]);
  });
});

describe('controllerConfigFromEnv: certificate lifetimes', () => {
  it('24 h serving and workload certificates, 90 days at most, unless ISTIOD_SERVING_CERT_TTL / DEFAULT_ / MAX_WORKLOAD_CERT_TTL say otherwise', () => {
    const c = parse({});
    expect([c.servingCertTtlMs, c.workloadCertTtlMs, c.maxWorkloadCertTtlMs]).toEqual([86_400_000, 86_400_000, 90 * 86_400_000]);
    const o = parse({ ISTIOD_SERVING_CERT_TTL: '4s', DEFAULT_WORKLOAD_CERT_TTL: '5m', MAX_WORKLOAD_CERT_TTL: '2h' });
    expect([o.servingCertTtlMs, o.workloadCertTtlMs, o.maxWorkloadCertTtlMs]).toEqual([4000, 300_000, 7_200_000]);
    const bad = controllerConfigFromEnv({ ISTIOD_SERVING_CERT_TTL: 'a day' });
    expect(bad.ok ? '' : bad.errors.join('\n')).toMatch(/ISTIOD_SERVING_CERT_TTL: not a duration/);
  });
});
