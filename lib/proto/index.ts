// lib/proto: the protobuf messages of workload xDS, L4 authorization, ZDS, the CA and delta ADS,
// from our own .proto sources (./protos) loaded by protobufjs reflection at first use. Typed codecs
// (decode returns a result, never throws), hand-written interfaces, enums as const objects, type
// URLs and gRPC method definitions.
export { messageCodec, ProtoDecodeError, TYPE_URL_PREFIX, type DecodeOptions, type DecodeResult, type MessageCodec, type MessageInput, type ProtoDecodeErrorCode } from './codec.ts';
export * from './codecs.ts';
export * from './services.ts';
export { PROTO_DIR, PROTO_FILES, protoRoot } from './loader.ts';
export * from './well-known-types.ts';
export * from './workload-types.ts';
export * from './authorization-types.ts';
export * from './zds-types.ts';
export * from './ca-types.ts';
export * from './discovery-types.ts';
