// One typed codec per message we put on or take off the wire, and the Any packing xDS uses. The
// type names here are the ones type URLs and gRPC paths are built from, so they are Istio's and
// Envoy's exactly.
import type { Authorization } from './authorization-types.ts';
import type { IstioCertificateRequest, IstioCertificateResponse } from './ca-types.ts';
import { messageCodec, ProtoDecodeError, type DecodeOptions, type DecodeResult, type MessageCodec, type MessageInput } from './codec.ts';
import type { DeltaDiscoveryRequest, DeltaDiscoveryResponse } from './discovery-types.ts';
import type { Any, RpcStatus, Struct } from './well-known-types.ts';
import type { Address, Service, Workload } from './workload-types.ts';
import type { WorkloadRequest, WorkloadResponse, ZdsHello } from './zds-types.ts';

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
