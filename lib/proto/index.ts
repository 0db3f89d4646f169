// lib/proto: the protobuf messages of workload xDS, L4 authorization, ZDS, the CA, ADS and Envoy's
// v3 listener/route/cluster/endpoint API. Types are generated from the .proto files (./gen, by
// `make gen`); encode/decode is protobufjs reflection over the same files, loaded at first use.
// Typed codecs (decode returns a result, never throws), enums as const objects, type URLs, Any
// packing, Envoy's JSON rendering, and gRPC method definitions.
export { messageCodec, ProtoDecodeError, TYPE_URL_PREFIX, type DecodeOptions, type DecodeResult, type MessageCodec, type MessageInput, type ProtoDecodeErrorCode } from './codec.ts';
export * from './codecs.ts';
export * from './envoy-codecs.ts';
export * from './envoy-json.ts';
export * from './services.ts';
export { PROTO_DIR, PROTO_FILES, CORE_PROTO_FILES, ENVOY_PROTO_FILES, protoRoot, envoyRoot } from './loader.ts';
export * from './well-known.ts';
export * from './envoy-types.ts';
export * from './istio-types.ts';
