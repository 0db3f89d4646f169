// TypeScript shapes of the google.protobuf and google.rpc messages our protocols embed, in the
// decoded form lib/proto/codec.ts produces, plus conversions between Struct and plain JSON (Struct is
// how ztunnel sends node metadata and the CA request its impersonation metadata).

export interface Any {
  /** 'type.googleapis.com/<full message name>'. */
  typeUrl: string;
  value: Uint8Array;
}

export interface Duration {
  seconds: number;
  nanos: number;
}

export type Empty = Record<string, never>;

export interface UInt32Value {
  value: number;
}

export const NullValue = { NULL_VALUE: 0 } as const;

export type Value = {
  kind?:
    | { $case: 'nullValue'; nullValue: number }
    | { $case: 'numberValue'; numberValue: number }
    | { $case: 'stringValue'; stringValue: string }
    | { $case: 'boolValue'; boolValue: boolean }
    | { $case: 'structValue'; structValue: Struct }
    | { $case: 'listValue'; listValue: ListValue };
};

export interface ListValue {
  values: Value[];
}

export interface Struct {
  fields: Record<string, Value>;
}

/** google.rpc.Status: a gRPC status code, a message for humans, optional typed details. */
export interface RpcStatus {
  code: number;
  message: string;
  details: Any[];
}

export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };

export function structFromJson(obj: { [key: string]: JsonValue }): Struct {
  const fields: Record<string, Value> = {};
  for (const [k, v] of Object.entries(obj)) fields[k] = valueFromJson(v);
  return { fields };
}

export function valueFromJson(v: JsonValue): Value {
  if (v === null) return { kind: { $case: 'nullValue', nullValue: NullValue.NULL_VALUE } };
  if (typeof v === 'boolean') return { kind: { $case: 'boolValue', boolValue: v } };
  if (typeof v === 'number') return { kind: { $case: 'numberValue', numberValue: v } };
  if (typeof v === 'string') return { kind: { $case: 'stringValue', stringValue: v } };
  if (Array.isArray(v)) return { kind: { $case: 'listValue', listValue: { values: v.map(valueFromJson) } } };
  return { kind: { $case: 'structValue', structValue: structFromJson(v) } };
}

/** A Struct as plain JSON; a Value with no kind set reads as null, as in the proto3 JSON mapping. */
export function structToJson(s: Struct | undefined): { [key: string]: JsonValue } {
  const out: { [key: string]: JsonValue } = {};
  if (!s) return out;
  for (const [k, v] of Object.entries(s.fields)) out[k] = valueToJson(v);
  return out;
}

export function valueToJson(v: Value): JsonValue {
  const k = v.kind;
  if (!k) return null;
  switch (k.$case) {
    case 'nullValue':
      return null;
    case 'numberValue':
      return k.numberValue;
    case 'stringValue':
      return k.stringValue;
    case 'boolValue':
      return k.boolValue;
    case 'structValue':
      return structToJson(k.structValue);
    case 'listValue':
      return k.listValue.values.map(valueToJson);
  }
}
