// Identity checks after the TLS chain has verified (fact sheet §1.1): the client accepts a server
// whose SPIFFE SANs include an expected identity (no hostname check); the server accepts a client
// with a SPIFFE SAN in its own trust domain. Pure functions over the parsed SANs.
import { formatSpiffeId, type SpiffeIdentity } from '../identity/spiffe.ts';

export type PeerDecision = { kind: 'ok'; identity: SpiffeIdentity } | { kind: 'reject'; reason: string };

export function checkServerIdentity(serverIds: readonly SpiffeIdentity[], expected: readonly string[]): PeerDecision {
  for (const id of serverIds) {
    if (expected.includes(formatSpiffeId(id))) return { kind: 'ok', identity: id };
  }
  const got = serverIds.map(formatSpiffeId).join(', ') || 'none';
  return { kind: 'reject', reason: `server identity [${got}] is not one of the expected [${expected.join(', ')}]` };
}

export function checkClientIdentity(clientIds: readonly SpiffeIdentity[], trustDomain: string): PeerDecision {
  const id = clientIds.find((c) => c.trustDomain === trustDomain);
  if (id) return { kind: 'ok', identity: id };
  const got = clientIds.map(formatSpiffeId).join(', ') || 'none';
  return { kind: 'reject', reason: `client identity [${got}] is not in trust domain ${trustDomain}` };
}
