// Reading subject alternative names from Node's X509Certificate.subjectAltName text, which is
// `TYPE:value` entries joined by ", ", with a value JSON-quoted when it holds a comma, quote or
// other character that would make the list ambiguous. Only URI entries matter for SPIFFE.
import type { X509Certificate } from 'node:crypto';
import { formatSpiffeId, tryParseSpiffeId, type SpiffeIdentity } from './spiffe.ts';

export interface SanEntry {
  type: string;
  value: string;
}

/** Splits Node's SAN text into entries; malformed trailing text is dropped rather than guessed at. */
export function parseSubjectAltName(text: string | undefined): SanEntry[] {
  const out: SanEntry[] = [];
  if (!text) return out;
  let i = 0;
  while (i < text.length) {
    const colon = text.indexOf(':', i);
    if (colon < 0) break;
    const type = text.slice(i, colon);
    let value: string;
    let next: number;
    if (text[colon + 1] === '"') {
      const end = closingQuote(text, colon + 2);
      if (end < 0) break;
      try {
        value = JSON.parse(text.slice(colon + 1, end + 1)) as string;
      } catch {
        break;
      }
      next = end + 1;
    } else {
      const comma = text.indexOf(', ', colon + 1);
      next = comma < 0 ? text.length : comma;
      value = text.slice(colon + 1, next);
    }
    out.push({ type, value });
    i = text.startsWith(', ', next) ? next + 2 : text.length;
  }
  return out;
}

function closingQuote(text: string, from: number): number {
  for (let j = from; j < text.length; j++) {
    if (text[j] === '\\') j++;
    else if (text[j] === '"') return j;
  }
  return -1;
}

/** URI SANs of a certificate, in certificate order. */
export function uriSans(cert: Pick<X509Certificate, 'subjectAltName'>): string[] {
  return parseSubjectAltName(cert.subjectAltName)
    .filter((e) => e.type === 'URI')
    .map((e) => e.value);
}

/** Every URI SAN that is a workload SPIFFE id, in certificate order. */
export function spiffeIdentities(cert: Pick<X509Certificate, 'subjectAltName'>): SpiffeIdentity[] {
  const out: SpiffeIdentity[] = [];
  for (const uri of uriSans(cert)) {
    const id = tryParseSpiffeId(uri);
    if (id) out.push(id);
  }
  return out;
}

/** The peer identity as ztunnel defines it: the first URI SAN that parses as a SPIFFE id. */
export function peerIdentity(cert: Pick<X509Certificate, 'subjectAltName'>): SpiffeIdentity | undefined {
  return spiffeIdentities(cert)[0];
}

/** Canonical strings of the certificate's SPIFFE identities (for comparison with expected SANs). */
export function spiffeIdentityStrings(cert: Pick<X509Certificate, 'subjectAltName'>): string[] {
  return spiffeIdentities(cert).map(formatSpiffeId);
}
