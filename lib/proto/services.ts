// gRPC method definitions (grpc-js shape) for the two services our components speak: delta ADS and
// Istio's CA. The paths are the wire contract; serializers go through lib/proto codecs. A
// deserializer throws on bad bytes, which grpc-js turns into an INTERNAL status for that call.
import type { MethodDefinition } from '@grpc/grpc-js';
import type { DecodeResult, MessageCodec } from './codec.ts';
import { deltaDiscoveryRequestCodec, deltaDiscoveryResponseCodec, istioCertificateRequestCodec, istioCertificateResponseCodec } from './codecs.ts';
import type { DeltaDiscoveryRequest, DeltaDiscoveryResponse } from './envoy-types.ts';
import type { IstioCertificateRequest, IstioCertificateResponse } from './istio-types.ts';

export const ADS_SERVICE = 'envoy.service.discovery.v3.AggregatedDiscoveryService';
export const DELTA_ADS_METHOD_PATH = `/${ADS_SERVICE}/DeltaAggregatedResources`;
export const CA_SERVICE = 'istio.v1.auth.IstioCertificateService';
export const CREATE_CERTIFICATE_METHOD_PATH = `/${CA_SERVICE}/CreateCertificate`;

function serializer<T>(codec: MessageCodec<T>): (value: T) => Buffer {
  return (value) => {
    const bytes = codec.encode(value as Parameters<MessageCodec<T>['encode']>[0]);
    return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  };
}

function deserializer<T>(codec: MessageCodec<T>): (bytes: Buffer) => T {
  return (bytes) => unwrap(codec.decode(bytes));
}

function unwrap<T>(r: DecodeResult<T>): T {
  if (!r.ok) throw r.error;
  return r.value;
}

export const deltaAggregatedResourcesMethod: MethodDefinition<DeltaDiscoveryRequest, DeltaDiscoveryResponse> = {
  path: DELTA_ADS_METHOD_PATH,
  requestStream: true,
  responseStream: true,
  requestSerialize: serializer(deltaDiscoveryRequestCodec),
  requestDeserialize: deserializer(deltaDiscoveryRequestCodec),
  responseSerialize: serializer(deltaDiscoveryResponseCodec),
  responseDeserialize: deserializer(deltaDiscoveryResponseCodec),
  originalName: 'deltaAggregatedResources',
};

export const createCertificateMethod: MethodDefinition<IstioCertificateRequest, IstioCertificateResponse> = {
  path: CREATE_CERTIFICATE_METHOD_PATH,
  requestStream: false,
  responseStream: false,
  requestSerialize: serializer(istioCertificateRequestCodec),
  requestDeserialize: deserializer(istioCertificateRequestCodec),
  responseSerialize: serializer(istioCertificateResponseCodec),
  responseDeserialize: deserializer(istioCertificateResponseCodec),
  originalName: 'createCertificate',
};

/** For grpc-js Server#addService / makeClientConstructor. */
export const aggregatedDiscoveryServiceDefinition = { DeltaAggregatedResources: deltaAggregatedResourcesMethod };
export const istioCertificateServiceDefinition = { CreateCertificate: createCertificateMethod };
