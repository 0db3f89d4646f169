// Identity checks after the TLS chain has verified (fact sheet §1.1): the peer's certificate must
// prove exactly one SPIFFE identity (its one URI SAN, read from the DER by lib/identity/san.ts); the
// client then accepts a server whose identity is an expected one (no hostname check), the server a
// client in its own trust domain. Pure functions over the parsed certificate identity.
import { peerSpiffeIdentity, type CertificateDer, type PeerIdentityResult } from '../identity/san.ts';
import { formatSpiffeId, type SpiffeIdentity } from '../identity/spiffe.ts';

export type PeerDecision = { kind: 'ok'; identity: SpiffeIdentity } | { kind: 'reject'; reason: string };

/** The identity of a TLS peer from its certificate (undefined: none presented). */
export function peerCertificateIdentity(cert: CertificateDer | undefined): PeerIdentityResult {
  return peerSpiffeIdentity(cert);
}

export function checkServerIdentity(server: PeerIdentityResult, expected: readonly string[]): PeerDecision {
  if (server.kind === 'reject') return { kind: 'reject', reason: `server certificate refused: ${server.reason}` };
  const got = formatSpiffeId(server.identity);
  if (expected.includes(got)) return { kind: 'ok', identity: server.identity };
  return { kind: 'reject', reason: `server identity ${got} is not one of the expected [${expected.join(', ')}]` };
}

export function checkClientIdentity(client: PeerIdentityResult, trustDomain: string): PeerDecision {
  if (client.kind === 'reject') return { kind: 'reject', reason: `client certificate refused: ${client.reason}` };
  if (client.identity.trustDomain === trustDomain) return { kind: 'ok', identity: client.identity };
  return { kind: 'reject', reason: `client identity ${formatSpiffeId(client.identity)} is not in trust domain ${trustDomain}` };
}
