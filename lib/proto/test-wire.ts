// Test helper: protobuf wire bytes written by hand, independent of protobufjs, so tests can check
// that field numbers and wire types are what Istio's peers put on the wire.

function varint(n: number): number[] {
  const out: number[] = [];
  let v = n;
  while (v > 0x7f) {
    out.push((v & 0x7f) | 0x80);
    v = Math.floor(v / 128);
  }
  out.push(v);
  return out;
}

/** Field `field` as a varint (wire type 0). */
export function varintField(field: number, value: number): Buffer {
  return Buffer.from([...varint((field << 3) | 0), ...varint(value)]);
}

/** Field `field` as length-delimited (wire type 2): strings, bytes, messages, packed repeated. */
export function lenField(field: number, payload: Uint8Array | string): Buffer {
  const body = typeof payload === 'string' ? Buffer.from(payload, 'utf8') : Buffer.from(payload);
  return Buffer.concat([Buffer.from([...varint((field << 3) | 2), ...varint(body.length)]), body]);
}

/** Packed repeated varints as the body of a length-delimited field. */
export function packed(values: number[]): Buffer {
  return Buffer.from(values.flatMap(varint));
}

export function cat(...parts: Uint8Array[]): Buffer {
  return Buffer.concat(parts);
}

export function hex(b: Uint8Array): string {
  return Buffer.from(b).toString('hex');
}
