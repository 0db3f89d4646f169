// One typed codec per message we put on or take off the wire, and the Any packing xDS uses. The
// type names here are the ones type URLs and gRPC paths are built from, so they are Istio's and
// Envoy's exactly.
import { messageCodec, ProtoDecodeError, type DecodeOptions, type DecodeResult, type MessageCodec, type MessageInput } from './codec.ts';
import type { DeltaDiscoveryRequest, DeltaDiscoveryResponse } from './envoy-types.ts';
import type { Any, RpcStatus, Struct } from './well-known.ts';
import type { Address, Authorization, IstioCertificateRequest, IstioCertificateResponse, Service, Workload, WorkloadRequest, WorkloadResponse, ZdsHello } from './istio-types.ts';

export const addressCodec: MessageCodec<Address> = messageCodec('istio.workload.Address');
export const workloadCodec: MessageCodec<Workload> = messageCodec('istio.workload.Workload');
export const serviceCodec: MessageCodec<Service> = messageCodec('istio.workload.Service');
export const authorizationCodec: MessageCodec<Authorization> = messageCodec('istio.security.Authorization');

export const zdsHelloCodec: MessageCodec<ZdsHello> = messageCodec('istio.workload.zds.ZdsHello');
export const workloadRequestCodec: MessageCodec<WorkloadRequest> = messageCodec('istio.workload.zds.WorkloadRequest');
export const workloadResponseCodec: MessageCodec<WorkloadResponse> = messageCodec('istio.workload.zds.WorkloadResponse');

export const istioCertificateRequestCodec: MessageCodec<IstioCertificateRequest> = messageCodec('istio.v1.auth.IstioCertificateRequest');
export const istioCertificateResponseCodec: MessageCodec<IstioCertificateResponse> = messageCodec('istio.v1.auth.IstioCertificateResponse');

export const deltaDiscoveryRequestCodec: MessageCodec<DeltaDiscoveryRequest> = messageCodec('envoy.service.discovery.v3.DeltaDiscoveryRequest');
export const deltaDiscoveryResponseCodec: MessageCodec<DeltaDiscoveryResponse> = messageCodec('envoy.service.discovery.v3.DeltaDiscoveryResponse');

export const rpcStatusCodec: MessageCodec<RpcStatus> = messageCodec('google.rpc.Status');
export const structCodec: MessageCodec<Struct> = messageCodec('google.protobuf.Struct');

/** xDS type URLs of the workload API. */
export const ADDRESS_TYPE_URL = addressCodec.typeUrl;
export const AUTHORIZATION_TYPE_URL = authorizationCodec.typeUrl;

/** An Any holding `value` encoded as `codec`'s type. */
export function packAny<T>(codec: MessageCodec<T>, value: MessageInput<T>): Any {
  return { typeUrl: codec.typeUrl, value: codec.encode(value) };
}

/** Decodes an Any that must hold `codec`'s type; another type URL is a MALFORMED result. */
export function unpackAny<T>(codec: MessageCodec<T>, any: Any, options?: DecodeOptions): DecodeResult<T> {
  if (any.typeUrl !== codec.typeUrl) {
    return { ok: false, error: new ProtoDecodeError('MALFORMED', codec.typeName, [`typeUrl: expected ${codec.typeUrl}, got ${any.typeUrl || '(empty)'}`]) };
  }
  return codec.decode(any.value, options);
}
