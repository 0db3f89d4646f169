// Subject alternative names read from a certificate's DER (through @peculiar/x509), never from
// Node's `subjectAltName` text, whose quoting of unusual characters is a rendering for people. The
// peer identity rule of Istio's workload certificates: exactly one URI SAN, a SPIFFE workload id.
import type { X509Certificate } from 'node:crypto';
import { formatSpiffeId, parseSpiffeId, tryParseSpiffeId, type SpiffeIdentity } from './spiffe.ts';
import { x509 } from './x509.ts';

export interface SanEntry {
  /** @peculiar/x509 general-name type: 'url' for URI, 'dns', 'ip', 'email', … */
  type: string;
  value: string;
}

/** Anything with the certificate's DER (Node's X509Certificate, or the raw bytes themselves). */
export type CertificateDer = Pick<X509Certificate, 'raw'> | Uint8Array;

function derOf(cert: CertificateDer): Uint8Array {
  return cert instanceof Uint8Array ? cert : cert.raw;
}

/**
 * Every SAN of the certificate, in certificate order, across all SAN extensions (a certificate must
 * have at most one; a forged second one must not hide names). Throws if the DER does not parse.
 */
export function subjectAltNames(cert: CertificateDer): SanEntry[] {
  const parsed = new x509.X509Certificate(derOf(cert));
  return parsed.getExtensions(x509.SubjectAlternativeNameExtension).flatMap((ext) => ext.names.toJSON().map((n) => ({ type: n.type, value: n.value })));
}

/** URI SANs of a certificate, in certificate order. */
export function uriSans(cert: CertificateDer): string[] {
  return subjectAltNames(cert)
    .filter((e) => e.type === 'url')
    .map((e) => e.value);
}

/** Every URI SAN that is a workload SPIFFE id, in certificate order. */
export function spiffeIdentities(cert: CertificateDer): SpiffeIdentity[] {
  const out: SpiffeIdentity[] = [];
  for (const uri of uriSans(cert)) {
    const id = tryParseSpiffeId(uri);
    if (id) out.push(id);
  }
  return out;
}

/** Canonical strings of the certificate's SPIFFE identities (for comparison with expected SANs). */
export function spiffeIdentityStrings(cert: CertificateDer): string[] {
  return spiffeIdentities(cert).map(formatSpiffeId);
}

export type PeerIdentityResult = { kind: 'ok'; identity: SpiffeIdentity } | { kind: 'reject'; reason: string };

/**
 * The identity a peer's certificate proves: its one URI SAN, which must be a SPIFFE workload id.
 * None, several (even if one of them is what we expect), or a non-SPIFFE one are refused: Istio's
 * CA issues exactly one, and a certificate carrying more was not issued for one workload.
 */
export function peerSpiffeIdentity(cert: CertificateDer | undefined): PeerIdentityResult {
  if (!cert) return { kind: 'reject', reason: 'the peer presented no certificate' };
  let uris: string[];
  try {
    uris = uriSans(cert);
  } catch (err) {
    return { kind: 'reject', reason: `the peer certificate cannot be parsed: ${(err as Error).message}` };
  }
  if (uris.length === 0) return { kind: 'reject', reason: 'the peer certificate carries no URI SAN; an Istio workload certificate carries exactly one SPIFFE URI SAN' };
  if (uris.length > 1) {
    return { kind: 'reject', reason: `the peer certificate carries ${uris.length} URI SANs [${uris.join(', ')}]; an Istio workload certificate carries exactly one SPIFFE URI SAN` };
  }
  const parsed = parseSpiffeId(uris[0]!);
  if (parsed.kind === 'error') return { kind: 'reject', reason: `the peer certificate's URI SAN ${uris[0]!} is not a SPIFFE workload id: ${parsed.reason}` };
  return { kind: 'ok', identity: parsed.identity };
}

/** The peer identity of a certificate, or undefined when it does not prove exactly one (see peerSpiffeIdentity). */
export function peerIdentity(cert: CertificateDer): SpiffeIdentity | undefined {
  const r = peerSpiffeIdentity(cert);
  return r.kind === 'ok' ? r.identity : undefined;
}
