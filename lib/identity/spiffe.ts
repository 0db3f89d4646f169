// SPIFFE workload identities as Istio uses them: `spiffe://<trust-domain>/ns/<namespace>/sa/<sa>`.
// Parsing follows ztunnel's rule (fact sheet §1.1): exactly five path segments after the scheme,
// the second and fourth being the literal `ns` and `sa`. Anything else is not a workload identity.

export const SPIFFE_PREFIX = 'spiffe://';

export interface SpiffeIdentity {
  trustDomain: string;
  namespace: string;
  serviceAccount: string;
}

export type SpiffeParseResult =
  | { kind: 'ok'; identity: SpiffeIdentity }
  | { kind: 'error'; reason: string };

/** Parses a SPIFFE URI into its three parts; never throws (the input is usually a peer's SAN). */
export function parseSpiffeId(uri: string): SpiffeParseResult {
  if (!uri.startsWith(SPIFFE_PREFIX)) return { kind: 'error', reason: `not a spiffe:// URI: ${JSON.stringify(uri)}` };
  const segments = uri.slice(SPIFFE_PREFIX.length).split('/');
  if (segments.length !== 5) {
    return { kind: 'error', reason: `expected spiffe://<td>/ns/<ns>/sa/<sa>, got ${segments.length} segments` };
  }
  const [trustDomain, ns, namespace, sa, serviceAccount] = segments as [string, string, string, string, string];
  if (ns !== 'ns' || sa !== 'sa') return { kind: 'error', reason: 'expected literal "ns" and "sa" segments' };
  // ztunnel would accept empty segments, but no issuer produces them and an empty namespace or
  // service account would alias distinct principals in authorization, so they are refused here.
  if (!trustDomain || !namespace || !serviceAccount) return { kind: 'error', reason: 'empty trust domain, namespace or service account' };
  return { kind: 'ok', identity: { trustDomain, namespace, serviceAccount } };
}

/** The identity, or undefined when `uri` is not a workload SPIFFE id. */
export function tryParseSpiffeId(uri: string): SpiffeIdentity | undefined {
  const r = parseSpiffeId(uri);
  return r.kind === 'ok' ? r.identity : undefined;
}

export function formatSpiffeId(id: SpiffeIdentity): string {
  return `${SPIFFE_PREFIX}${id.trustDomain}/ns/${id.namespace}/sa/${id.serviceAccount}`;
}

/** Canonical string form of an identity given either way; throws on a malformed string (caller bug). */
export function spiffeIdString(id: SpiffeIdentity | string): string {
  if (typeof id !== 'string') return formatSpiffeId(id);
  const r = parseSpiffeId(id);
  if (r.kind === 'error') throw new TypeError(`invalid SPIFFE identity: ${r.reason}`);
  return id;
}
