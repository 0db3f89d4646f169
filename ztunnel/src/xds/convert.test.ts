// Conversion of WDS resources into ztunnel's model: field semantics (fact sheet §4.4–4.5) and the
// path-prefixed reasons a refused resource is NACKed with.
import { describe, expect, it } from 'vitest';
import {
  addressCodec,
  authorizationCodec,
  type Address,
  type Authorization,
  type AuthorizationMatch,
  type MessageInput,
  type Service as ProtoService,
  type Workload as ProtoWorkload,
} from '../../../lib/proto/index.ts';
import { match as policyMatch, service as stateService, workload as stateWorkload } from '../state/fixtures.ts';
import { convertAddress, convertAuthorization, convertService, convertWorkload } from './convert.ts';

const ip = (...b: number[]): Buffer => Buffer.from(b);

/** A decoded proto value with proto3 defaults, as the client hands it over. */
function protoWorkload(w: MessageInput<ProtoWorkload>): ProtoWorkload {
  const r = addressCodec.decode(addressCodec.encode({ type: { $case: 'workload', workload: w } }));
  if (!r.ok || r.value.type?.$case !== 'workload') throw new Error('bad fixture');
  return r.value.type.workload;
}

function protoService(s: MessageInput<ProtoService>): ProtoService {
  const r = addressCodec.decode(addressCodec.encode({ type: { $case: 'service', service: s } }));
  if (!r.ok || r.value.type?.$case !== 'service') throw new Error('bad fixture');
  return r.value.type.service;
}

function protoAuthorization(a: MessageInput<Authorization>): Authorization {
  const r = authorizationCodec.decode(authorizationCodec.encode(a));
  if (!r.ok) throw r.error;
  return r.value;
}

const baseWorkload: MessageInput<ProtoWorkload> = {
  uid: 'Kubernetes//Pod/default/echo-1',
  name: 'echo-1',
  namespace: 'default',
  addresses: [ip(10, 244, 1, 5)],
  node: 'node1',
  tunnelProtocol: 1,
  serviceAccount: 'echo',
  canonicalName: 'echo',
  canonicalRevision: 'v1',
  workloadName: 'echo',
  workloadType: 2,
  clusterId: 'Kubernetes',
};

describe('convertWorkload', () => {
  it('maps every field of the model', () => {
    const r = convertWorkload(
      protoWorkload({
        ...baseWorkload,
        addresses: [ip(10, 244, 1, 5), ip(0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 5)],
        network: 'net1',
        trustDomain: 'example.org',
        status: 1,
        waypoint: { destination: { $case: 'hostname', hostname: { namespace: 'default', hostname: 'waypoint.default.svc.cluster.local' } }, hboneMtlsPort: 15008 },
        services: {
          'default/echo.default.svc.cluster.local': { ports: [{ servicePort: 80, targetPort: 8080 }, { servicePort: 443, targetPort: 8443 }] },
          'default/named.default.svc.cluster.local': { ports: [{ servicePort: 9000, targetPort: 0 }] },
        },
        authorizationPolicies: ['default/allow-echo'],
        capacity: 3,
      }),
    );
    expect(r).toEqual({
      ok: true,
      warnings: [],
      value: stateWorkload({
        name: 'echo-1',
        uid: 'Kubernetes//Pod/default/echo-1',
        addresses: ['10.244.1.5', 'fd00::5'],
        network: 'net1',
        trustDomain: 'example.org',
        serviceAccount: 'echo',
        canonicalName: 'echo',
        canonicalRevision: 'v1',
        workloadName: 'echo',
        workloadType: 'pod',
        status: 'UNHEALTHY',
        waypoint: { kind: 'hostname', namespace: 'default', hostname: 'waypoint.default.svc.cluster.local', hboneMtlsPort: 15008 },
        services: { 'default/echo.default.svc.cluster.local': { 80: 8080, 443: 8443 }, 'default/named.default.svc.cluster.local': { 9000: 0 } },
        authorizationPolicies: ['default/allow-echo'],
        capacity: 3,
      }),
    });
  });

  it.each<[string, MessageInput<ProtoWorkload>, Partial<ReturnType<typeof stateWorkload>>]>([
    ['empty trust domain and service account take the defaults', { trustDomain: '', serviceAccount: '' }, { trustDomain: 'cluster.local', serviceAccount: 'default' }],
    ['no capacity means 1', {}, { capacity: 1 }],
    ['tunnel NONE', { tunnelProtocol: 0 }, { tunnelProtocol: 'NONE' }],
    ['workload types', { workloadType: 3 }, { workloadType: 'job' }],
    ['an address waypoint, port 0 means 15008', { waypoint: { destination: { $case: 'address', address: { network: 'n', address: ip(10, 0, 0, 9) } } } }, { waypoint: { kind: 'address', network: 'n', address: '10.0.0.9', hboneMtlsPort: 15008 } }],
    ['a hostname-only workload has no addresses', { addresses: [], hostname: 'vm.example.com' }, { addresses: [] }],
  ])('%s', (_name, patch, expected) => {
    const r = convertWorkload(protoWorkload({ ...baseWorkload, ...patch }));
    expect(r.ok).toBe(true);
    expect(r.ok && r.value).toMatchObject(expected);
  });

  it.each<[string, Partial<ProtoWorkload>, string[]]>([
    ['missing uid', { uid: '' }, ['workload.uid: required']],
    ['a 5-byte address', { addresses: [ip(10, 0, 0, 1), ip(1, 2, 3, 4, 5)] }, ['workload.addresses[1]: an IP address must be 4 or 16 bytes, got 5']],
    ['LEGACY_ISTIO_MTLS', { tunnelProtocol: 2 }, ['workload.tunnelProtocol: LEGACY_ISTIO_MTLS is not supported']],
    ['an unknown tunnel protocol', { tunnelProtocol: 9 as never }, ['workload.tunnelProtocol: unknown TunnelProtocol value 9']],
    ['an unknown status', { status: 4 as never }, ['workload.status: unknown WorkloadStatus value 4']],
    ['an unknown workload type', { workloadType: 7 as never }, ['workload.workloadType: unknown WorkloadType value 7']],
    ['an unknown network mode', { networkMode: 5 as never }, ['workload.networkMode: unknown NetworkMode value 5']],
    [
      'a services key that is not ns/hostname, and a port out of range',
      { services: { 'echo.default.svc.cluster.local': { ports: [{ servicePort: 70000, targetPort: 80, appProtocol: 0 }] } } },
      ['workload.services["echo.default.svc.cluster.local"]: key must be <namespace>/<hostname>', 'workload.services["echo.default.svc.cluster.local"].ports[0].servicePort: not a port: 70000'],
    ],
    ['service port 0', { services: { 'a/b': { ports: [{ servicePort: 0, targetPort: 80, appProtocol: 0 }] } } }, ['workload.services["a/b"].ports[0].servicePort: not a port: 0']],
    ['a waypoint with no destination', { waypoint: { hboneMtlsPort: 15008 } }, ['workload.waypoint.destination: required (hostname or address)']],
    [
      'a waypoint hostname without namespace, bad gateway bytes',
      {
        waypoint: { destination: { $case: 'hostname', hostname: { namespace: '', hostname: 'wp' } }, hboneMtlsPort: 15008 },
        networkGateway: { destination: { $case: 'address', address: { network: '', address: ip(1) } }, hboneMtlsPort: 15008 },
      },
      ['workload.waypoint.hostname.namespace: required', 'workload.networkGateway.address.address: an IP address must be 4 or 16 bytes, got 1'],
    ],
    ['a waypoint port out of range', { waypoint: { destination: { $case: 'address', address: { network: '', address: ip(10, 0, 0, 1) } }, hboneMtlsPort: 65536 } }, ['workload.waypoint.hboneMtlsPort: not a port: 65536']],
  ])('refuses %s', (_name, patch, errors) => {
    // Patched after decoding: enum numbers the codec would already refuse reach the converter this way.
    const w = { ...protoWorkload(baseWorkload), ...patch };
    expect(convertWorkload(w)).toEqual({ ok: false, errors });
  });
});

describe('convertService', () => {
  const base: MessageInput<ProtoService> = {
    name: 'echo',
    namespace: 'default',
    hostname: 'echo.default.svc.cluster.local',
    addresses: [{ network: '', address: ip(10, 96, 0, 10) }],
    ports: [{ servicePort: 80, targetPort: 8080 }, { servicePort: 9000, targetPort: 0 }],
  };

  it('maps VIPs, ports, SANs, waypoint and load balancing', () => {
    const r = convertService(
      protoService({
        ...base,
        addresses: [{ network: '', address: ip(10, 96, 0, 10) }, { network: 'net1', address: ip(0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10), length: 128 }],
        subjectAltNames: ['spiffe://cluster.local/ns/default/sa/echo'],
        waypoint: { destination: { $case: 'address', address: { network: '', address: ip(10, 244, 1, 9) } }, hboneMtlsPort: 15008 },
        loadBalancing: { routingPreference: [6, 1, 2], mode: 2, healthPolicy: 1 },
      }),
    );
    expect(r).toEqual({
      ok: true,
      warnings: [],
      value: stateService({
        name: 'echo',
        vips: [{ network: '', address: '10.96.0.10' }, { network: 'net1', address: 'fd00::10' }],
        ports: [{ servicePort: 80, targetPort: 8080 }, { servicePort: 9000, targetPort: 0 }],
        subjectAltNames: ['spiffe://cluster.local/ns/default/sa/echo'],
        waypoint: { kind: 'address', network: '', address: '10.244.1.9', hboneMtlsPort: 15008 },
        loadBalancing: { mode: 'FAILOVER', healthPolicy: 'ALLOW_ALL' },
      }),
    });
  });

  it('a headless service has no VIPs', () => {
    const r = convertService(protoService({ ...base, addresses: [] }));
    expect(r.ok && r.value.vips).toEqual([]);
  });

  it('a CIDR VIP is skipped with a warning, the rest accepted', () => {
    const r = convertService(protoService({ ...base, addresses: [{ network: '', address: ip(10, 0, 0, 0), length: 8 }, { network: '', address: ip(10, 96, 0, 10), length: 32 }] }));
    expect(r).toMatchObject({ ok: true, warnings: ['service.addresses[0]: CIDR VIP 10.0.0.0/8 is not supported; ignored'] });
    expect(r.ok && r.value.vips).toEqual([{ network: '', address: '10.96.0.10' }]);
  });

  it.each<[string, Partial<ProtoService>, string[]]>([
    ['missing namespace and hostname', { namespace: '', hostname: '' }, ['service.namespace: required', 'service.hostname: required']],
    ["a hostname with '/'", { hostname: 'a/b' }, ["service.hostname: must not contain '/'"]],
    ['a 3-byte VIP', { addresses: [{ network: '', address: ip(10, 0, 0) }] }, ['service.addresses[0].address: an IP address must be 4 or 16 bytes, got 3']],
    ['a prefix longer than the address', { addresses: [{ network: '', address: ip(10, 0, 0, 1), length: 33 }] }, ['service.addresses[0].length: prefix length 33 exceeds 32']],
    ['a target port out of range', { ports: [{ servicePort: 80, targetPort: 65536, appProtocol: 0 }] }, ['service.ports[0].targetPort: not a port: 65536']],
    ['an unknown load-balancing mode', { loadBalancing: { routingPreference: [], mode: 8 as never, healthPolicy: 0 } }, ['service.loadBalancing.mode: unknown LoadBalancing.Mode value 8']],
    ['an unknown routing scope', { loadBalancing: { routingPreference: [42 as never], mode: 0, healthPolicy: 0 } }, ['service.loadBalancing.routingPreference[0]: unknown LoadBalancing.Scope value 42']],
    ['an unknown IP family', { ipFamilies: 9 as never }, ['service.ipFamilies: unknown IPFamilies value 9']],
    ['an unknown app protocol', { ports: [{ servicePort: 80, targetPort: 80, appProtocol: 77 as never }] }, ['service.ports[0].appProtocol: unknown AppProtocol value 77']],
  ])('refuses %s', (_name, patch, errors) => {
    expect(convertService({ ...protoService(base), ...patch })).toEqual({ ok: false, errors });
  });
});

describe('convertAddress', () => {
  it('dispatches on the oneof', () => {
    expect(convertAddress(addressOf({ type: { $case: 'workload', workload: baseWorkload } }))).toMatchObject({ ok: true, value: { kind: 'workload', workload: { uid: 'Kubernetes//Pod/default/echo-1' } } });
    expect(convertAddress(addressOf({ type: { $case: 'service', service: { namespace: 'ns', hostname: 'h' } } }))).toMatchObject({ ok: true, value: { kind: 'service', service: { namespace: 'ns', hostname: 'h' } } });
  });

  it('refuses an Address with neither', () => {
    expect(convertAddress(addressOf({}))).toEqual({ ok: false, errors: ['type: required (workload or service)'] });
  });

  it('passes errors through with their paths', () => {
    expect(convertAddress(addressOf({ type: { $case: 'workload', workload: { ...baseWorkload, uid: '' } } }))).toEqual({ ok: false, errors: ['workload.uid: required'] });
  });
});

function addressOf(a: MessageInput<Address>): Address {
  const r = addressCodec.decode(addressCodec.encode(a));
  if (!r.ok) throw r.error;
  return r.value;
}

describe('convertAuthorization', () => {
  const m = (x: MessageInput<AuthorizationMatch>) => x;

  it('maps scope, action, dry run and the rule/clause/match nesting', () => {
    const r = convertAuthorization(
      protoAuthorization({
        name: 'allow-echo',
        namespace: 'default',
        scope: 2,
        action: 0,
        dryRun: true,
        rules: [
          {
            clauses: [
              { matches: [m({ principals: [{ matchType: { $case: 'exact', exact: 'cluster.local/ns/a/sa/b' } }, { matchType: { $case: 'prefix', prefix: 'cluster.local/ns/x/' } }] })] },
              { matches: [m({ destinationPorts: [8080], notDestinationPorts: [9090] }), m({ namespaces: [{ matchType: { $case: 'suffix', suffix: '-prod' } }] })] },
            ],
          },
          {
            clauses: [
              {
                matches: [
                  m({
                    notPrincipals: [{ matchType: { $case: 'presence', presence: {} } }],
                    notNamespaces: [{ matchType: { $case: 'exact', exact: 'evil' } }],
                    sourceIps: [{ address: ip(10, 0, 0, 0), length: 8 }],
                    notSourceIps: [{ address: ip(10, 0, 0, 1), length: 32 }],
                    destinationIps: [{ address: ip(0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0), length: 64 }],
                    notDestinationIps: [{ address: ip(192, 168, 0, 0), length: 16 }],
                  }),
                ],
              },
            ],
          },
        ],
      }),
    );
    expect(r).toEqual({
      ok: true,
      warnings: [],
      value: {
        name: 'allow-echo',
        namespace: 'default',
        scope: 'WORKLOAD_SELECTOR',
        action: 'ALLOW',
        dryRun: true,
        rules: [
          [
            [policyMatch({ principals: [{ kind: 'exact', value: 'cluster.local/ns/a/sa/b' }, { kind: 'prefix', value: 'cluster.local/ns/x/' }] })],
            [policyMatch({ destinationPorts: [8080], notDestinationPorts: [9090] }), policyMatch({ namespaces: [{ kind: 'suffix', value: '-prod' }] })],
          ],
          [
            [
              policyMatch({
                notPrincipals: [{ kind: 'presence' }],
                notNamespaces: [{ kind: 'exact', value: 'evil' }],
                sourceIps: [{ address: '10.0.0.0', prefixLength: 8 }],
                notSourceIps: [{ address: '10.0.0.1', prefixLength: 32 }],
                destinationIps: [{ address: 'fd00::', prefixLength: 64 }],
                notDestinationIps: [{ address: '192.168.0.0', prefixLength: 16 }],
              }),
            ],
          ],
        ],
      },
    });
  });

  it.each([
    [0, 1, 'GLOBAL', 'DENY'],
    [1, 0, 'NAMESPACE', 'ALLOW'],
  ] as const)('scope %d action %d → %s %s', (scope, action, s, a) => {
    expect(convertAuthorization(protoAuthorization({ name: 'p', namespace: 'ns', scope, action }))).toMatchObject({ ok: true, value: { scope: s, action: a, rules: [] } });
  });

  it('service-account matches become principal suffixes (any trust domain)', () => {
    const r = convertAuthorization(
      protoAuthorization({
        name: 'p',
        namespace: 'ns',
        rules: [{ clauses: [{ matches: [m({ serviceAccounts: [{ namespace: 'a', serviceAccount: 'b' }], notServiceAccounts: [{ namespace: 'c', serviceAccount: 'd' }] })] }] }],
      }),
    );
    expect(r.ok && r.value.rules).toEqual([[[policyMatch({ principals: [{ kind: 'suffix', value: '/ns/a/sa/b' }], notPrincipals: [{ kind: 'suffix', value: '/ns/c/sa/d' }] })]]]);
  });

  const path = 'authorization.rules[0].clauses[0].matches[0]';
  it.each<[string, MessageInput<AuthorizationMatch>, string[]]>([
    ['a string match with no type', { principals: [{}] }, [`${path}.principals[0]: matchType: required (exact, prefix, suffix or presence)`]],
    ['a 2-byte source IP', { sourceIps: [{ address: ip(10, 0), length: 16 }] }, [`${path}.sourceIps[0].address: an IP address must be 4 or 16 bytes, got 2`]],
    ['a prefix length beyond 32', { notDestinationIps: [{ address: ip(10, 0, 0, 0), length: 40 }] }, [`${path}.notDestinationIps[0].length: prefix length 40 exceeds 32`]],
    ['a destination port beyond 65535', { destinationPorts: [70000] }, [`${path}.destinationPorts[0]: not a port: 70000`]],
    [
      'service accounts together with principals',
      { principals: [{ matchType: { $case: 'exact', exact: 'x' } }], serviceAccounts: [{ namespace: 'a', serviceAccount: 'b' }] },
      [`${path}.serviceAccounts: cannot be combined with principals in one match`],
    ],
    ['a service account without namespace', { notServiceAccounts: [{ namespace: '', serviceAccount: 'b' }] }, [`${path}.notServiceAccounts[0].namespace: required`]],
  ])('refuses %s', (_name, bad, errors) => {
    expect(convertAuthorization(protoAuthorization({ name: 'p', namespace: 'ns', rules: [{ clauses: [{ matches: [bad] }] }] }))).toEqual({ ok: false, errors });
  });

  it('refuses a missing name and unknown enum values', () => {
    const a = { ...protoAuthorization({ namespace: 'ns' }), scope: 5 as never, action: 3 as never };
    expect(convertAuthorization(a)).toEqual({ ok: false, errors: ['authorization.scope: unknown Scope value 5', 'authorization.action: unknown Action value 3', 'authorization.name: required'] });
  });
});
