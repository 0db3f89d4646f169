// google.protobuf and google.rpc types our protocols embed, as generated (./gen), and the JSON
// helpers kept from when Struct had its own shape: a Struct field now decodes to plain JSON already,
// so structFromJson/structToJson only narrow the type (callers that build node or CA metadata keep them).
export type { Any } from './gen/google/protobuf/any.ts';
export type { Duration } from './gen/google/protobuf/duration.ts';
export type { Empty } from './gen/google/protobuf/empty.ts';
export type { Timestamp } from './gen/google/protobuf/timestamp.ts';
export type { ListValue, Struct, Value } from './gen/google/protobuf/struct.ts';
export { NullValue } from './gen/google/protobuf/struct.ts';
export type { Status as RpcStatus } from './gen/google/rpc/status.ts';

export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };

/** The value of a Struct-typed field (what ts-proto declares as `{ [key: string]: any }`). */
export function structFromJson(obj: { [key: string]: JsonValue }): { [key: string]: JsonValue } {
  return obj;
}

/** A Struct-typed field as JSON; absent reads as an empty object. */
export function structToJson(s: { [key: string]: unknown } | undefined): { [key: string]: JsonValue } {
  return (s ?? {}) as { [key: string]: JsonValue };
}
