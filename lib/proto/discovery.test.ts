// Delta ADS messages on the wire (Envoy's numbers), Any packing of workload resources, Struct
// metadata, and the gRPC method paths and type URLs derived from the package names.
import { describe, expect, it } from 'vitest';
import {
  ADDRESS_TYPE_URL,
  addressCodec,
  AUTHORIZATION_TYPE_URL,
  authorizationCodec,
  createCertificateMethod,
  CREATE_CERTIFICATE_METHOD_PATH,
  deltaAggregatedResourcesMethod,
  DELTA_ADS_METHOD_PATH,
  deltaDiscoveryRequestCodec,
  deltaDiscoveryResponseCodec,
  packAny,
  rpcStatusCodec,
  structFromJson,
  structToJson,
  unpackAny,
  type DeltaDiscoveryRequest,
  type DeltaDiscoveryResponse,
} from './index.ts';
import { cat, hex, lenField, varintField } from './test-wire.ts';

describe('names that become wire identifiers', () => {
  it('type URLs and method paths', () => {
    expect(ADDRESS_TYPE_URL).toBe('type.googleapis.com/istio.workload.Address');
    expect(AUTHORIZATION_TYPE_URL).toBe('type.googleapis.com/istio.security.Authorization');
    expect(DELTA_ADS_METHOD_PATH).toBe('/envoy.service.discovery.v3.AggregatedDiscoveryService/DeltaAggregatedResources');
    expect(CREATE_CERTIFICATE_METHOD_PATH).toBe('/istio.v1.auth.IstioCertificateService/CreateCertificate');
    expect(deltaAggregatedResourcesMethod).toMatchObject({ requestStream: true, responseStream: true });
    expect(createCertificateMethod).toMatchObject({ requestStream: false, responseStream: false });
  });
});

describe('DeltaDiscoveryRequest', () => {
  const first: DeltaDiscoveryRequest = {
    node: {
      id: 'ztunnel~10.0.0.5~ztunnel-abc.istio-system~istio-system.svc.cluster.local',
      cluster: '',
      metadata: structFromJson({ NAME: 'ztunnel-abc', NAMESPACE: 'istio-system', INSTANCE_IPS: '10.0.0.5', NODE_NAME: 'node1', LABELS: { app: 'ztunnel' } }),
      locality: { region: 'r', zone: 'z', subZone: 's' },
      userAgentName: 'ambient-mesh',
      userAgentVersionType: { $case: 'userAgentVersion', userAgentVersion: '0.1.0' },
      clientFeatures: ['envoy.lb.does_not_support_overprovisioning'],
      dynamicParameters: {},
      extensions: [],
      listeningAddresses: [],
    },
    typeUrl: ADDRESS_TYPE_URL,
    resourceNamesSubscribe: ['*'],
    resourceNamesUnsubscribe: ['*'],
    resourceLocatorsSubscribe: [],
    resourceLocatorsUnsubscribe: [],
    initialResourceVersions: { 'Kubernetes//Pod/ns/a': 'v1', 'ns/svc.ns.svc.cluster.local': 'v2' },
    responseNonce: '',
  };

  it('round-trips, with node metadata readable as JSON', () => {
    const r = deltaDiscoveryRequestCodec.decode(deltaDiscoveryRequestCodec.encode(first));
    expect(r.ok && r.value).toEqual(first);
    expect(r.ok && structToJson(r.value.node?.metadata)).toEqual({ NAME: 'ztunnel-abc', NAMESPACE: 'istio-system', INSTANCE_IPS: '10.0.0.5', NODE_NAME: 'node1', LABELS: { app: 'ztunnel' } });
  });

  it('an ACK is type_url (2) + response_nonce (6); a NACK adds error_detail (7) with message (2)', () => {
    const ack = deltaDiscoveryRequestCodec.encode({ typeUrl: 't', responseNonce: 'n1' });
    expect(hex(ack)).toBe(hex(cat(lenField(2, 't'), lenField(6, 'n1'))));
    const nack = cat(lenField(2, 't'), lenField(6, 'n2'), lenField(7, cat(varintField(1, 3), lenField(2, 'a: bad; b: worse'))));
    const r = deltaDiscoveryRequestCodec.decode(nack);
    expect(r.ok && r.value.errorDetail).toEqual({ code: 3, message: 'a: bad; b: worse', details: [] });
  });

  it('node is 1 (Node.id 1, metadata 3), subscribe 3, unsubscribe 4, initial_resource_versions 5', () => {
    const bytes = cat(
      lenField(1, lenField(1, 'node-id')),
      lenField(3, 'a'),
      lenField(4, 'b'),
      lenField(5, cat(lenField(1, 'k'), lenField(2, 'v'))),
    );
    const r = deltaDiscoveryRequestCodec.decode(bytes);
    expect(r.ok && r.value).toMatchObject({ node: { id: 'node-id' }, resourceNamesSubscribe: ['a'], resourceNamesUnsubscribe: ['b'], initialResourceVersions: { k: 'v' } });
  });
});

describe('DeltaDiscoveryResponse', () => {
  it('round-trips resources wrapping Address and Authorization in Any', () => {
    const resp: DeltaDiscoveryResponse = {
      systemVersionInfo: '2026-08-22T00:00:00Z/1',
      resources: [
        {
          version: 'v1',
          resource: packAny(addressCodec, { type: { $case: 'workload', workload: { uid: 'Kubernetes//Pod/ns/a', addresses: [Buffer.from([10, 0, 0, 1])] } } }),
          name: 'Kubernetes//Pod/ns/a',
          aliases: ['/10.0.0.1'],
          ttl: { seconds: 30, nanos: 5 },
          cacheControl: { doNotCache: true },
        },
        { version: '', resource: packAny(authorizationCodec, { name: 'p', namespace: 'ns' }), name: 'ns/p', aliases: [] },
      ],
      typeUrl: ADDRESS_TYPE_URL,
      nonce: 'nonce-1',
      removedResources: ['ns/gone.ns.svc.cluster.local'],
      removedResourceNames: [],
      controlPlane: { identifier: 'controller-0' },
    };
    const r = deltaDiscoveryResponseCodec.decode(deltaDiscoveryResponseCodec.encode(resp));
    expect(r.ok && r.value).toEqual(resp);
    if (!r.ok) return;
    const any = r.value.resources[0]?.resource;
    expect(any?.typeUrl).toBe(ADDRESS_TYPE_URL);
    const addr = unpackAny(addressCodec, any!);
    expect(addr.ok && addr.value.type?.$case).toBe('workload');
    const wrongType = unpackAny(authorizationCodec, any!);
    expect(!wrongType.ok && wrongType.error.issues[0]).toMatch(/expected type.googleapis.com\/istio.security.Authorization/);
  });

  it('Resource numbers: version 1, resource 2 (Any type_url 1, value 2), name 3, aliases 4; response type_url 4, nonce 5, removed 6', () => {
    const any = cat(lenField(1, ADDRESS_TYPE_URL), lenField(2, lenField(1, lenField(20, 'w'))));
    const resource = cat(lenField(1, 'v9'), lenField(2, any), lenField(3, 'w'), lenField(4, '/10.0.0.9'));
    const bytes = cat(lenField(2, resource), lenField(4, ADDRESS_TYPE_URL), lenField(5, 'n'), lenField(6, 'gone'));
    const r = deltaDiscoveryResponseCodec.decode(bytes);
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.value).toMatchObject({ typeUrl: ADDRESS_TYPE_URL, nonce: 'n', removedResources: ['gone'] });
    expect(r.value.resources[0]).toMatchObject({ version: 'v9', name: 'w', aliases: ['/10.0.0.9'] });
    const inner = unpackAny(addressCodec, r.value.resources[0]!.resource!);
    expect(inner.ok && inner.value.type).toMatchObject({ $case: 'workload', workload: { uid: 'w' } });
  });

  it('gRPC (de)serializers go through the codecs and throw on garbage', () => {
    const buf = deltaAggregatedResourcesMethod.responseSerialize({ systemVersionInfo: '', resources: [], typeUrl: 't', nonce: 'n', removedResources: [], removedResourceNames: [] });
    expect(Buffer.isBuffer(buf)).toBe(true);
    expect(deltaAggregatedResourcesMethod.responseDeserialize(buf)).toMatchObject({ typeUrl: 't', nonce: 'n' });
    expect(() => deltaAggregatedResourcesMethod.requestDeserialize(Buffer.from([0x12, 0x05]))).toThrow(/MALFORMED|index out of range|invalid/i);
  });
});

describe('google.rpc.Status', () => {
  it('code 1, message 2, details 3 (Any)', () => {
    const s = { code: 13, message: 'internal', details: [{ typeUrl: 'type.googleapis.com/x.Y', value: Buffer.from([1, 2]) }] };
    expect(rpcStatusCodec.decode(rpcStatusCodec.encode(s))).toEqual({ ok: true, value: s });
    expect(hex(rpcStatusCodec.encode({ code: 13 }))).toBe('080d');
  });
});
