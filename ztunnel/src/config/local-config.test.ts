import { describe, expect, it } from 'vitest';
import { parseLocalConfig } from './local-config.ts';

describe('parseLocalConfig', () => {
  it('reads workloads, services and policies with defaults', () => {
    const r = parseLocalConfig(`
workloads:
- name: echo
  namespace: b
  serviceAccount: echo
  addresses: [10.244.2.7]
  node: node2
  services: { b/echo.b.svc.cluster.local: { 80: 8080 } }
services:
- name: echo
  namespace: b
  vips: [10.96.0.10]
  ports: { 80: 8080 }
policies:
- name: deny-sleep
  namespace: b
  action: DENY
  rules: [[[{ principals: ["cluster.local/ns/a/sa/sleep"], sourceIps: [10.244.1.0/24] }]]]
`);
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.value.workloads[0]).toMatchObject({ uid: 'Kubernetes//Pod/b/echo', tunnelProtocol: 'HBONE', trustDomain: 'cluster.local', services: { 'b/echo.b.svc.cluster.local': { 80: 8080 } } });
    expect(r.value.services[0]).toMatchObject({ hostname: 'echo.b.svc.cluster.local', vips: [{ network: '', address: '10.96.0.10' }], ports: [{ servicePort: 80, targetPort: 8080 }] });
    expect(r.value.policies[0]!.rules[0]![0]![0]).toMatchObject({
      principals: [{ kind: 'exact', value: 'cluster.local/ns/a/sa/sleep' }],
      sourceIps: [{ address: '10.244.1.0', prefixLength: 24 }],
    });
  });

  it('rejects bad input with path-prefixed errors', () => {
    const r = parseLocalConfig(`
workloads:
- { name: a, addresses: [not-an-ip], tunnelProtocol: LEGACY_ISTIO_MTLS }
services: { oops: 1 }
policies:
- { name: p, action: MAYBE }
`);
    expect(r).toEqual({
      ok: false,
      errors: [
        'workloads[0].addresses[0]: not an IP address: "not-an-ip"',
        'workloads[0].tunnelProtocol: must be one of NONE, HBONE',
        '$.services: must be a list',
        'policies[0].action: must be one of ALLOW, DENY',
      ],
    });
    expect(parseLocalConfig('workloads: [').ok).toBe(false);
  });
});
