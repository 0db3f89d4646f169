// Typed encode/decode over protobufjs reflection. Decoding untrusted bytes returns a result, never
// throws: malformed bytes and enum numbers the .proto does not define are both rejected, the latter
// because ztunnel NACKs resources with unknown enum values, so accepting them here would let us
// act on config a real peer refuses. Encoding is for our own values: a shape the schema cannot
// carry is a bug and throws.
//
// Shape of a decoded message: exactly what the generated types in ./gen declare (ts-proto with the
// options in buf.gen.yaml). Field names in camelCase; scalars, enums (as numbers), repeated fields
// and maps always present with proto3 defaults; message fields and proto3 `optional` scalars
// undefined when absent; bytes as Buffer (a copy, never a view into the input); int64 as number; a
// oneof as one property named after the oneof, holding `{ $case: '<member>', <member>: value }`.
// Well-known types as ts-proto maps them: a wrapper (UInt32Value, BoolValue…) as its plain value, a
// Struct as a plain JSON object, a Value as any JSON value, a ListValue as an array.
import protobuf from 'protobufjs';
import { lookupMessage } from './loader.ts';

export type ProtoDecodeErrorCode =
  /** Not a valid encoding of the message (truncated, wrong wire type, bad UTF-8 length…). */
  | 'MALFORMED'
  /** Well-formed, but some enum field holds a number the schema does not define. */
  | 'UNKNOWN_ENUM';

export class ProtoDecodeError extends Error {
  readonly code: ProtoDecodeErrorCode;
  /** Full name of the message being decoded, e.g. 'istio.workload.Address'. */
  readonly typeName: string;
  /** One entry per problem, each prefixed with its field path, e.g. 'workload.tunnelProtocol: unknown enum value 7'. */
  readonly issues: readonly string[];

  constructor(code: ProtoDecodeErrorCode, typeName: string, issues: readonly string[], options?: ErrorOptions) {
    super(`${typeName}: ${issues.join('; ')}`, options);
    this.name = 'ProtoDecodeError';
    this.code = code;
    this.typeName = typeName;
    this.issues = issues;
  }
}

export type DecodeResult<T> = { ok: true; value: T } | { ok: false; error: ProtoDecodeError };

export interface DecodeOptions {
  /**
   * 'reject' (default): an unknown enum number fails the decode. 'keep': it is kept as a number, for
   * fields where a newer peer may legitimately send values we do not know yet (e.g. ZdsHello.version).
   */
  unknownEnums?: 'reject' | 'keep';
}

/**
 * What encode accepts: the decoded shape with every field optional, recursively, except that a
 * oneof value keeps its `$case` (and its member) required.
 */
export type MessageInput<T> = T extends Uint8Array
  ? Uint8Array
  : T extends readonly (infer U)[]
    ? readonly MessageInput<U>[]
    : T extends { $case: string }
      ? { [K in keyof T]: K extends '$case' ? T[K] : MessageInput<T[K]> }
      : T extends object
        ? { [K in keyof T]?: MessageInput<T[K]> }
        : T;

export interface MessageCodec<T> {
  /** Full protobuf name, e.g. 'istio.workload.Address'. */
  readonly typeName: string;
  /** 'type.googleapis.com/<typeName>', as used in google.protobuf.Any and xDS type_url. */
  readonly typeUrl: string;
  encode(value: MessageInput<T>): Uint8Array;
  decode(bytes: Uint8Array, options?: DecodeOptions): DecodeResult<T>;
}

export const TYPE_URL_PREFIX = 'type.googleapis.com/';

/** A codec for one message type; the .proto files are loaded on first use, not at import. */
export function messageCodec<T>(typeName: string): MessageCodec<T> {
  let type: protobuf.Type | undefined;
  const resolve = (): protobuf.Type => (type ??= lookupMessage(typeName));
  return {
    typeName,
    typeUrl: TYPE_URL_PREFIX + typeName,
    encode: (value) => encodeMessage(resolve(), value as Record<string, unknown>),
    decode: (bytes, options) => decodeMessage<T>(resolve(), bytes, options),
  };
}

export function encodeMessage(type: protobuf.Type, value: Record<string, unknown>): Uint8Array {
  const wire = toWire(type, value, typeLabel(type));
  const problem = type.verify(wire);
  if (problem) throw new TypeError(`${typeLabel(type)}: cannot encode: ${problem}`);
  return type.encode(wire).finish();
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * proto3 string fields must be valid UTF-8 (Istio's Rust peers refuse anything else); protobufjs
 * decodes invalid bytes into ill-formed strings (lone surrogates) instead, so strings are read
 * strictly here and invalid ones fail the decode as MALFORMED.
 */
class StrictReader extends protobuf.Reader {
  override string(): string {
    const bytes = this.bytes();
    try {
      return utf8.decode(bytes);
    } catch {
      throw new Error(`invalid UTF-8 in a string field ending at offset ${this.pos}`);
    }
  }
}

export function decodeMessage<T>(type: protobuf.Type, bytes: Uint8Array, options: DecodeOptions = {}): DecodeResult<T> {
  const name = typeLabel(type);
  let plain: Record<string, unknown>;
  try {
    // A plain Reader, not the Buffer-specialised one protobufjs picks for Buffers: that one clamps a
    // string whose length runs past the end instead of failing, so truncated input would decode.
    const buf = Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    plain = type.toObject(type.decode(new StrictReader(buf)), { longs: Number });
  } catch (err) {
    return { ok: false, error: new ProtoDecodeError('MALFORMED', name, [(err as Error).message], { cause: err }) };
  }
  const issues: string[] = [];
  const value = fromWire(type, plain, '', issues, options.unknownEnums === 'keep');
  if (issues.length > 0) return { ok: false, error: new ProtoDecodeError('UNKNOWN_ENUM', name, issues) };
  return { ok: true, value: value as T };
}

function typeLabel(type: protobuf.Type): string {
  return type.fullName.replace(/^\./, '');
}

function join(path: string, name: string): string {
  return path ? `${path}.${name}` : name;
}

/**
 * The property name in our shape: ts-proto's snakeToCamel of the .proto name (the loader keeps the
 * .proto spelling), e.g. type_url -> typeUrl, http2_protocol_options -> http2ProtocolOptions.
 */
const tsNames = new WeakMap<protobuf.ReflectionObject, string>();
export function tsName(obj: protobuf.Field | protobuf.OneOf): string {
  let n = tsNames.get(obj);
  if (n === undefined) {
    n = snakeToCamel(obj.name);
    tsNames.set(obj, n);
  }
  return n;
}

export function snakeToCamel(s: string): string {
  if (!s.includes('_')) return s;
  const hasLower = /[a-z]/.test(s);
  return s
    .split('_')
    .map((w, i) => {
      const word = hasLower ? w : w.toLowerCase();
      return i === 0 ? word : word.charAt(0).toUpperCase() + word.slice(1);
    })
    .join('');
}

/** Well-known message types that ts-proto maps to plain values, and how. */
type WellKnown = 'wrapper' | 'struct' | 'value' | 'list';
const WELL_KNOWN: Record<string, WellKnown> = {
  '.google.protobuf.DoubleValue': 'wrapper',
  '.google.protobuf.FloatValue': 'wrapper',
  '.google.protobuf.Int64Value': 'wrapper',
  '.google.protobuf.UInt64Value': 'wrapper',
  '.google.protobuf.Int32Value': 'wrapper',
  '.google.protobuf.UInt32Value': 'wrapper',
  '.google.protobuf.BoolValue': 'wrapper',
  '.google.protobuf.StringValue': 'wrapper',
  '.google.protobuf.BytesValue': 'wrapper',
  '.google.protobuf.Struct': 'struct',
  '.google.protobuf.Value': 'value',
  '.google.protobuf.ListValue': 'list',
};
export function wellKnown(t: protobuf.Type): WellKnown | undefined {
  return WELL_KNOWN[t.fullName];
}

/** Members of a real oneof are handled per oneof; a proto3 `optional` is an ordinary field here. */
function inRealOneof(field: protobuf.Field): boolean {
  return field.partOf !== null && !field.partOf.isProto3Optional;
}

// ---- decode: protobufjs plain object -> our shape ----

function fromWire(type: protobuf.Type, obj: Record<string, unknown>, path: string, issues: string[], keepUnknown: boolean): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const field of type.fieldsArray) {
    if (inRealOneof(field)) continue;
    const raw = obj[field.name];
    const name = tsName(field);
    const p = join(path, name);
    if (field.map) {
      const entries = (raw ?? {}) as Record<string, unknown>;
      const m: Record<string, unknown> = {};
      for (const k of Object.keys(entries)) m[k] = fromWireValue(field, entries[k], `${p}[${JSON.stringify(k)}]`, issues, keepUnknown);
      out[name] = m;
    } else if (field.repeated) {
      out[name] = ((raw ?? []) as unknown[]).map((v, i) => fromWireValue(field, v, `${p}[${i}]`, issues, keepUnknown));
    } else if (raw === undefined || raw === null) {
      const d = defaultValue(field);
      if (d !== undefined) out[name] = d;
    } else {
      out[name] = fromWireValue(field, raw, p, issues, keepUnknown);
    }
  }
  for (const oneof of type.oneofsArray) {
    if (oneof.isProto3Optional) continue;
    // protobufjs keeps only the last member seen on the wire, as proto3 requires.
    const member = oneof.fieldsArray.find((f) => obj[f.name] !== undefined && obj[f.name] !== null);
    if (!member) continue;
    const m = tsName(member);
    out[tsName(oneof)] = { $case: m, [m]: fromWireValue(member, obj[member.name], join(path, m), issues, keepUnknown) };
  }
  return out;
}

function fromWireValue(field: protobuf.Field, v: unknown, path: string, issues: string[], keepUnknown: boolean): unknown {
  const t = field.resolvedType;
  if (t instanceof protobuf.Type) {
    switch (wellKnown(t)) {
      case 'wrapper': {
        const inner = t.fields['value'];
        const x = (v as Record<string, unknown>)['value'];
        if (!inner) return x;
        return x === undefined || x === null ? defaultValue(inner) : fromWireValue(inner, x, path, issues, keepUnknown);
      }
      case 'struct':
        return structFromWire(v as Record<string, unknown>);
      case 'value':
        return valueFromWire(v as Record<string, unknown>);
      case 'list':
        return listFromWire(v as Record<string, unknown>);
      default:
        return fromWire(t, v as Record<string, unknown>, path, issues, keepUnknown);
    }
  }
  if (t instanceof protobuf.Enum) {
    if (t.valuesById[v as number] === undefined && !keepUnknown) issues.push(`${path}: unknown enum value ${String(v)} for ${t.name}`);
  }
  // Decoded bytes are views into the input; a copy keeps values valid if the caller reuses it.
  if (field.type === 'bytes') return Buffer.from(v as Uint8Array);
  return v;
}

function structFromWire(v: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  const fields = (v['fields'] ?? {}) as Record<string, Record<string, unknown>>;
  for (const k of Object.keys(fields)) out[k] = valueFromWire(fields[k] ?? {});
  return out;
}

function listFromWire(v: Record<string, unknown>): unknown[] {
  return ((v['values'] ?? []) as Record<string, unknown>[]).map(valueFromWire);
}

/** A Value with no kind set reads as null, as in the proto3 JSON mapping. */
function valueFromWire(v: Record<string, unknown>): unknown {
  if (v['numberValue'] !== undefined) return v['numberValue'];
  if (v['stringValue'] !== undefined) return v['stringValue'];
  if (v['boolValue'] !== undefined) return v['boolValue'];
  if (v['structValue'] !== undefined) return structFromWire(v['structValue'] as Record<string, unknown>);
  if (v['listValue'] !== undefined) return listFromWire(v['listValue'] as Record<string, unknown>);
  return null;
}

/** The proto3 default of an absent singular field; undefined where presence is tracked. */
function defaultValue(field: protobuf.Field): unknown {
  if (field.resolvedType instanceof protobuf.Type) return undefined;
  if (field.partOf?.isProto3Optional) return undefined;
  if (field.resolvedType instanceof protobuf.Enum) return 0;
  switch (field.type) {
    case 'string':
      return '';
    case 'bool':
      return false;
    case 'bytes':
      // Buffer, like the bytes protobufjs decodes on Node, so values compare alike.
      return Buffer.alloc(0);
    default:
      return 0;
  }
}

// ---- encode: our shape -> plain object protobufjs encodes ----

function toWire(type: protobuf.Type, obj: Record<string, unknown>, path: string): Record<string, unknown> {
  if (typeof obj !== 'object' || obj === null) throw new TypeError(`${path}: expected a message object`);
  const out: Record<string, unknown> = {};
  for (const field of type.fieldsArray) {
    if (inRealOneof(field)) continue;
    const v = obj[tsName(field)];
    if (v === undefined || v === null) continue;
    const p = join(path, tsName(field));
    if (field.map) {
      const entries = Object.entries(v as Record<string, unknown>);
      if (entries.length === 0) continue;
      out[field.name] = Object.fromEntries(entries.map(([k, x]) => [k, toWireValue(field, x, `${p}[${JSON.stringify(k)}]`)]));
    } else if (field.repeated) {
      if (!Array.isArray(v)) throw new TypeError(`${p}: expected an array`);
      if (v.length === 0) continue;
      out[field.name] = v.map((x: unknown, i) => toWireValue(field, x, `${p}[${i}]`));
    } else {
      // Canonical proto3: implicit-presence fields at their default are not written.
      if (!field.partOf && isDefault(field, v)) continue;
      out[field.name] = toWireValue(field, v, p);
    }
  }
  for (const oneof of type.oneofsArray) {
    if (oneof.isProto3Optional) continue;
    const c = obj[tsName(oneof)];
    if (c === undefined || c === null) continue;
    const p = join(path, tsName(oneof));
    const caseName = (c as { $case?: unknown }).$case;
    const member = typeof caseName === 'string' ? oneof.fieldsArray.find((f) => tsName(f) === caseName) : undefined;
    if (!member) throw new TypeError(`${p}: $case must be one of ${oneof.fieldsArray.map(tsName).join(', ')}`);
    // A oneof member is written even at its default: being set is the information.
    const m = tsName(member);
    out[member.name] = toWireValue(member, (c as Record<string, unknown>)[m] ?? emptyOf(member), join(path, m));
  }
  return out;
}

function toWireValue(field: protobuf.Field, v: unknown, path: string): unknown {
  const t = field.resolvedType;
  if (t instanceof protobuf.Type) {
    switch (wellKnown(t)) {
      case 'wrapper': {
        // Present even at the default (that is the wrapper's point), but canonical inside.
        const inner = t.fields['value'];
        return inner && isDefault(inner, v) ? {} : { value: v };
      }
      case 'struct':
        return structToWire(v, path);
      case 'value':
        return valueToWire(v, path);
      case 'list':
        return listToWire(v, path);
      default:
        return toWire(t, v as Record<string, unknown>, path);
    }
  }
  return v;
}

function structToWire(v: unknown, path: string): Record<string, unknown> {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new TypeError(`${path}: expected a JSON object for a Struct`);
  const fields: Record<string, unknown> = {};
  for (const [k, x] of Object.entries(v)) if (x !== undefined) fields[k] = valueToWire(x, `${path}[${JSON.stringify(k)}]`);
  return { fields };
}

function listToWire(v: unknown, path: string): Record<string, unknown> {
  if (!Array.isArray(v)) throw new TypeError(`${path}: expected an array for a ListValue`);
  return { values: v.map((x: unknown, i) => valueToWire(x, `${path}[${i}]`)) };
}

function valueToWire(v: unknown, path: string): Record<string, unknown> {
  if (v === null || v === undefined) return { nullValue: 0 };
  switch (typeof v) {
    case 'boolean':
      return { boolValue: v };
    case 'number':
      return { numberValue: v };
    case 'string':
      return { stringValue: v };
    case 'object':
      return Array.isArray(v) ? { listValue: listToWire(v, path) } : { structValue: structToWire(v, path) };
    default:
      throw new TypeError(`${path}: ${typeof v} is not a JSON value`);
  }
}

/** The value of a oneof member set without one: an empty message, or the scalar/wrapper default. */
function emptyOf(field: protobuf.Field): unknown {
  const t = field.resolvedType;
  if (!(t instanceof protobuf.Type)) return defaultValue(field);
  switch (wellKnown(t)) {
    case 'wrapper':
      return t.fields['value'] ? defaultValue(t.fields['value']) : undefined;
    case 'value':
      return null;
    case 'list':
      return [];
    default:
      return {};
  }
}

function isDefault(field: protobuf.Field, v: unknown): boolean {
  if (field.resolvedType instanceof protobuf.Type) return false;
  if (v instanceof Uint8Array) return v.length === 0;
  return v === 0 || v === '' || v === false;
}
