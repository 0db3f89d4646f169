// Proto3 JSON of a decoded message the way Envoy's admin /config_dump prints it: the .proto field
// names as written (snake_case), defaults omitted, enums by name, 64-bit integers as strings, bytes
// as base64, Durations as "1.5s", and each Any as an object with "@type" and the packed message's
// fields (unpacked recursively when its type is one we load; otherwise its bytes under "value").
import protobuf from 'protobufjs';
import { decodeMessage, tsName, wellKnown, type MessageCodec, type MessageInput } from './codec.ts';
import { findMessage, lookupMessage } from './loader.ts';
import type { JsonValue } from './well-known.ts';

type JsonObject = { [key: string]: JsonValue };

/** `value` (in the generated-type shape) as Envoy-style proto3 JSON. */
export function toEnvoyJson<T>(codec: MessageCodec<T> | string, value: MessageInput<T> | T): JsonObject {
  const type = lookupMessage(typeof codec === 'string' ? codec : codec.typeName);
  const out = renderMessage(type, value as Record<string, unknown>);
  // A top-level well-known type renders to a non-object (Duration -> "1s"); wrap it as Any would.
  return typeof out === 'object' && out !== null && !Array.isArray(out) ? out : { value: out };
}

const INT64 = new Set(['int64', 'uint64', 'sint64', 'fixed64', 'sfixed64']);

function renderMessage(type: protobuf.Type, obj: Record<string, unknown>): JsonValue {
  switch (type.fullName) {
    case '.google.protobuf.Any':
      return renderAny(obj);
    case '.google.protobuf.Duration':
      return formatDuration(Number(obj['seconds'] ?? 0), Number(obj['nanos'] ?? 0));
    case '.google.protobuf.Timestamp':
      return formatTimestamp(Number(obj['seconds'] ?? 0), Number(obj['nanos'] ?? 0));
    case '.google.protobuf.Struct':
      return toJsonValue(obj['fields'] ?? {});
    case '.google.protobuf.ListValue':
      return toJsonValue(obj['values'] ?? []);
    case '.google.protobuf.Value':
      return renderValueMessage(obj);
    default:
  }
  if (wellKnown(type) === 'wrapper') {
    const inner = type.fields['value'];
    return inner ? renderScalar(inner, obj['value']) : null;
  }
  const out: JsonObject = {};
  for (const field of type.fieldsArray) {
    if (field.partOf && !field.partOf.isProto3Optional) continue;
    const v = obj[tsName(field)];
    if (v === undefined || v === null) continue;
    if (field.map) {
      const entries = Object.entries(v as Record<string, unknown>);
      if (entries.length === 0) continue;
      out[field.name] = Object.fromEntries(entries.map(([k, x]) => [k, renderField(field, x)]));
    } else if (field.repeated) {
      const arr = v as unknown[];
      if (arr.length === 0) continue;
      out[field.name] = arr.map((x) => renderField(field, x));
    } else {
      if (!field.partOf && isDefaultScalar(field, v)) continue;
      out[field.name] = renderField(field, v);
    }
  }
  for (const oneof of type.oneofsArray) {
    if (oneof.isProto3Optional) continue;
    const c = obj[tsName(oneof)] as ({ $case?: string } & Record<string, unknown>) | undefined;
    if (!c || typeof c.$case !== 'string') continue;
    const member = oneof.fieldsArray.find((f) => tsName(f) === c.$case);
    if (member) out[member.name] = renderField(member, c[c.$case]);
  }
  return out;
}

/** One field value in the generated shape: wrappers, Struct, Value and ListValue are already plain. */
function renderField(field: protobuf.Field, v: unknown): JsonValue {
  const t = field.resolvedType;
  if (t instanceof protobuf.Type) {
    switch (wellKnown(t)) {
      case 'wrapper': {
        const inner = t.fields['value'];
        return inner ? renderScalar(inner, v) : null;
      }
      case 'struct':
      case 'value':
      case 'list':
        return toJsonValue(v);
      default:
        return renderMessage(t, (v ?? {}) as Record<string, unknown>);
    }
  }
  return renderScalar(field, v);
}

function renderScalar(field: protobuf.Field, v: unknown): JsonValue {
  const t = field.resolvedType;
  if (t instanceof protobuf.Enum) return t.valuesById[v as number] ?? (v as number);
  if (field.type === 'bytes') return Buffer.from((v ?? new Uint8Array()) as Uint8Array).toString('base64');
  if (INT64.has(field.type)) return String(v ?? 0);
  if (typeof v === 'number' && !Number.isFinite(v)) return Number.isNaN(v) ? 'NaN' : v > 0 ? 'Infinity' : '-Infinity';
  return (v ?? null) as JsonValue;
}

function isDefaultScalar(field: protobuf.Field, v: unknown): boolean {
  if (field.resolvedType instanceof protobuf.Type) return false;
  if (v instanceof Uint8Array) return v.length === 0;
  return v === 0 || v === '' || v === false;
}

function renderAny(obj: Record<string, unknown>): JsonValue {
  const typeUrl = String(obj['typeUrl'] ?? '');
  const bytes = (obj['value'] ?? new Uint8Array()) as Uint8Array;
  const name = typeUrl.slice(typeUrl.lastIndexOf('/') + 1);
  const type = name ? findMessage(name) : undefined;
  if (type) {
    const r = decodeMessage<Record<string, unknown>>(type, bytes, { unknownEnums: 'keep' });
    if (r.ok) {
      const inner = renderMessage(type, r.value);
      // Well-known types inside an Any carry their JSON form under "value", as proto3 JSON says.
      if (typeof inner === 'object' && inner !== null && !Array.isArray(inner) && !type.fullName.startsWith('.google.protobuf.')) return { '@type': typeUrl, ...inner };
      return { '@type': typeUrl, value: inner };
    }
  }
  return { '@type': typeUrl, value: Buffer.from(bytes).toString('base64') };
}

function renderValueMessage(obj: Record<string, unknown>): JsonValue {
  const kind = obj['kind'] as ({ $case: string } & Record<string, unknown>) | undefined;
  if (!kind) return null;
  return toJsonValue(kind[kind.$case]);
}

/** A plain value from a Struct/Value field, as JSON (undefined entries dropped). */
function toJsonValue(v: unknown): JsonValue {
  if (v === undefined || v === null) return null;
  if (Array.isArray(v)) return v.map(toJsonValue);
  if (typeof v === 'object') {
    const out: JsonObject = {};
    for (const [k, x] of Object.entries(v)) if (x !== undefined) out[k] = toJsonValue(x);
    return out;
  }
  return v as JsonValue;
}

function fraction(nanos: number): string {
  if (nanos === 0) return '';
  const s = String(nanos).padStart(9, '0');
  if (s.endsWith('000000')) return `.${s.slice(0, 3)}`;
  if (s.endsWith('000')) return `.${s.slice(0, 6)}`;
  return `.${s}`;
}

/** proto3 JSON of a Duration: seconds with 0, 3, 6 or 9 fractional digits and an "s". */
export function formatDuration(seconds: number, nanos: number): string {
  const negative = seconds < 0 || nanos < 0;
  return `${negative ? '-' : ''}${Math.abs(seconds)}${fraction(Math.abs(nanos))}s`;
}

function formatTimestamp(seconds: number, nanos: number): string {
  const iso = new Date(seconds * 1000).toISOString().replace(/\.\d{3}Z$/, '');
  return `${iso}${fraction(nanos)}Z`;
}
