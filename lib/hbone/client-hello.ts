// Test-only: a minimal TLS ClientHello reader, to check on the wire what the HBONE client offers
// (no SNI, ALPN h2, TLS 1.3 only, no ChaCha20). Not used by production code.

export interface ClientHelloSummary {
  cipherSuites: number[];
  extensionTypes: number[];
  alpn: string[];
  supportedVersions: number[];
  serverName: string | undefined;
}

/** Parses the first TLS record of a connection; throws if it is not a whole ClientHello. */
export function parseClientHello(buf: Buffer): ClientHelloSummary {
  let p = 0;
  const need = (n: number): void => {
    if (p + n > buf.length) throw new Error('truncated ClientHello');
  };
  const u8 = (): number => (need(1), buf[p++]!);
  const u16 = (): number => {
    need(2);
    const v = buf.readUInt16BE(p);
    p += 2;
    return v;
  };
  if (u8() !== 0x16) throw new Error('not a TLS handshake record');
  p += 2; // legacy record version
  const recordEnd = u16() + p;
  if (u8() !== 0x01) throw new Error('not a ClientHello');
  p += 3 + 2 + 32; // handshake length, legacy version, random
  const sessionIdLen = u8();
  p += sessionIdLen;
  const suitesLen = u16();
  const cipherSuites: number[] = [];
  for (const end = p + suitesLen; p < end; ) cipherSuites.push(u16());
  const compressionLen = u8();
  p += compressionLen;
  const out: ClientHelloSummary = { cipherSuites, extensionTypes: [], alpn: [], supportedVersions: [], serverName: undefined };
  const extEnd = u16() + p;
  if (extEnd > recordEnd) throw new Error('ClientHello spans records');
  while (p < extEnd) {
    const type = u16();
    const len = u16();
    need(len);
    const body = buf.subarray(p, p + len);
    p += len;
    out.extensionTypes.push(type);
    if (type === 0) out.serverName = body.subarray(5).toString('latin1');
    if (type === 16) {
      for (let q = 2; q < body.length; ) {
        const l = body[q]!;
        out.alpn.push(body.subarray(q + 1, q + 1 + l).toString('latin1'));
        q += 1 + l;
      }
    }
    if (type === 43) for (let q = 1; q < body.length; q += 2) out.supportedVersions.push(body.readUInt16BE(q));
  }
  return out;
}
