// Fuzzing the protobuf decode boundary every peer message crosses (workload xDS, Envoy xDS for the
// waypoint, the delta ADS envelope, ZDS, the CA): arbitrary bytes and mutations of real encodings.
// Decoding never throws, refuses with a typed ProtoDecodeError, and what it accepts is the schema's
// shape exactly: re-encoding and decoding it again gives the same value.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { fuzzBudget, fuzzParams, wireInput } from '../fuzz/fuzz.ts';
import { ProtoDecodeError, type MessageCodec } from './codec.ts';
import {
  addressCodec,
  authorizationCodec,
  deltaDiscoveryResponseCodec,
  istioCertificateResponseCodec,
  packAny,
  workloadRequestCodec,
} from './codecs.ts';
import { clusterCodec, listenerCodec, routeConfigurationCodec } from './envoy-codecs.ts';
import { lenField } from './test-wire.ts';

const budget = fuzzBudget(0.5);
const ip = (...b: number[]): Buffer => Buffer.from(b);

const address = addressCodec.encode({
  type: { $case: 'workload', workload: { uid: 'Kubernetes//Pod/default/echo-1', name: 'echo-1', namespace: 'default', addresses: [ip(10, 244, 1, 5)], tunnelProtocol: 1, services: { 'default/echo.default.svc.cluster.local': { ports: [{ servicePort: 80, targetPort: 8080 }] } } } },
});
const authorization = authorizationCodec.encode({
  name: 'allow',
  namespace: 'default',
  rules: [{ clauses: [{ matches: [{ principals: [{ matchType: { $case: 'prefix', prefix: 'cluster.local/ns/a/' } }], destinationPorts: [80] }] }] }],
});

// Each codec with real encodings of its own type to mutate.
const CASES: { name: string; codec: MessageCodec<unknown>; seeds: Uint8Array[] }[] = [
  { name: 'istio.workload.Address', codec: addressCodec as MessageCodec<unknown>, seeds: [address] },
  { name: 'istio.security.Authorization', codec: authorizationCodec as MessageCodec<unknown>, seeds: [authorization] },
  {
    name: 'DeltaDiscoveryResponse',
    codec: deltaDiscoveryResponseCodec as MessageCodec<unknown>,
    seeds: [
      deltaDiscoveryResponseCodec.encode({
        typeUrl: addressCodec.typeUrl,
        nonce: 'n1',
        systemVersionInfo: 'v1',
        resources: [{ name: 'Kubernetes//Pod/default/echo-1', version: '1', resource: packAny(addressCodec, { type: { $case: 'workload', workload: { uid: 'u' } } }) }],
        removedResources: ['gone'],
      }),
    ],
  },
  { name: 'ZDS WorkloadRequest', codec: workloadRequestCodec as MessageCodec<unknown>, seeds: [workloadRequestCodec.encode({ payload: { $case: 'add', add: { uid: 'u1', workloadInfo: { name: 'a', namespace: 'b', serviceAccount: 'c' } } } })] },
  { name: 'IstioCertificateResponse', codec: istioCertificateResponseCodec as MessageCodec<unknown>, seeds: [istioCertificateResponseCodec.encode({ certChain: ['-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n'] })] },
  { name: 'envoy Listener', codec: listenerCodec as MessageCodec<unknown>, seeds: [listenerCodec.encode({ name: 'main_internal', address: { address: { $case: 'socketAddress', socketAddress: { address: '0.0.0.0', portSpecifier: { $case: 'portValue', portValue: 15008 } } } } })] },
  { name: 'envoy RouteConfiguration', codec: routeConfigurationCodec as MessageCodec<unknown>, seeds: [routeConfigurationCodec.encode({ name: 'r', virtualHosts: [{ name: 'v', domains: ['*'] }] })] },
  { name: 'envoy Cluster', codec: clusterCodec as MessageCodec<unknown>, seeds: [clusterCodec.encode({ name: 'outbound|80||echo.default.svc.cluster.local', connectTimeout: { seconds: 10, nanos: 0 } })] },
];

describe('protobuf decoding under fuzzing', () => {
  it.each(CASES)('decodes or refuses every $name, and what it accepts round-trips', ({ codec, seeds }) => {
    fc.assert(
      fc.property(wireInput(seeds, 1024), (bytes) => {
        const d = codec.decode(bytes);
        if (!d.ok) {
          expect(d.error).toBeInstanceOf(ProtoDecodeError);
          expect(['MALFORMED', 'UNKNOWN_ENUM']).toContain(d.error.code);
          expect(d.error.issues.length).toBeGreaterThan(0);
          return;
        }
        expect(codec.decode(codec.encode(d.value as never))).toEqual(d);
      }),
      fuzzParams(budget),
    );
  }, budget.testTimeoutMs);

  // Found by the property above (through workload xDS): protobufjs turned invalid UTF-8 into
  // ill-formed strings (lone surrogates) and accepted them, where Istio's peers refuse the message.
  it.each([
    ['a lone surrogate', [0xed, 0xa0, 0x80]],
    ['a stray continuation byte', [0x61, 0x80, 0x62]],
    ['a truncated sequence', [0xe2, 0x82]],
    ['0xff', [0xff]],
  ])('refuses a string field holding %s as MALFORMED', (_what, bytes) => {
    const wire = lenField(1, Buffer.from(bytes)); // Authorization.name
    expect(authorizationCodec.decode(wire)).toMatchObject({ ok: false, error: { code: 'MALFORMED' } });
  });

  it('still decodes valid multi-byte UTF-8', () => {
    expect(authorizationCodec.decode(lenField(1, 'récolte-€-😀'))).toMatchObject({ ok: true, value: { name: 'récolte-€-😀' } });
  });
});
