// Pure L4 authorization, Istio's order: any matching DENY denies; no ALLOW policy → allow; a matching
// ALLOW → allow; otherwise deny. Dry-run policies are reported but never decide.
import type { CidrMatch, Policy, PolicyMatch, StringMatch } from '../state/types.ts';
import { ipInCidr } from './cidr.ts';

export interface RbacConnection {
  /** Peer SPIFFE identity (`spiffe://td/ns/x/sa/y`); undefined for plaintext (15006). */
  srcIdentity?: string;
  srcIp: string;
  dstIp: string;
  dstPort: number;
}

export type RbacDecision =
  | { kind: 'allow'; policy?: string; dryRunMatches: string[] }
  | { kind: 'deny'; policy?: string; reason: 'denied by policy' | 'no allow policy matched'; dryRunMatches: string[] };

function stringMatches(m: StringMatch, v: string | undefined): boolean {
  if (v === undefined) return false;
  switch (m.kind) {
    case 'exact': return v === m.value;
    case 'prefix': return v.startsWith(m.value);
    case 'suffix': return v.endsWith(m.value);
    case 'presence': return v !== '';
  }
}

const anyString = (ms: StringMatch[], v: string | undefined) => ms.some((m) => stringMatches(m, v));
const anyCidr = (ms: CidrMatch[], ip: string) => ms.some((m) => ipInCidr(ip, m));

/** The identity as policies name it: without `spiffe://` (a missing prefix matches nothing). */
function principalOf(identity: string | undefined): string | undefined {
  return identity?.startsWith('spiffe://') ? identity.slice('spiffe://'.length) : undefined;
}

function namespaceOf(principal: string | undefined): string | undefined {
  const parts = principal?.split('/');
  return parts && parts.length === 5 && parts[1] === 'ns' && parts[3] === 'sa' ? parts[2] : undefined;
}

const isEmptyMatch = (m: PolicyMatch): boolean => Object.values(m).every((v) => (v as unknown[]).length === 0);

/** A match with no condition at all matches nothing, as in Istio's ztunnel (istiod leaves such matches where L7 was dropped). */
export function matchOne(m: PolicyMatch, c: RbacConnection): boolean {
  if (isEmptyMatch(m)) return false;
  const principal = principalOf(c.srcIdentity);
  const ns = namespaceOf(principal);
  if (m.namespaces.length && !anyString(m.namespaces, ns)) return false;
  if (m.notNamespaces.length && anyString(m.notNamespaces, ns)) return false;
  if (m.principals.length && !anyString(m.principals, principal)) return false;
  if (m.notPrincipals.length && anyString(m.notPrincipals, principal)) return false;
  if (m.sourceIps.length && !anyCidr(m.sourceIps, c.srcIp)) return false;
  if (m.notSourceIps.length && anyCidr(m.notSourceIps, c.srcIp)) return false;
  if (m.destinationIps.length && !anyCidr(m.destinationIps, c.dstIp)) return false;
  if (m.notDestinationIps.length && anyCidr(m.notDestinationIps, c.dstIp)) return false;
  if (m.destinationPorts.length && !m.destinationPorts.includes(c.dstPort)) return false;
  if (m.notDestinationPorts.length && m.notDestinationPorts.includes(c.dstPort)) return false;
  return true;
}

/** A policy matches when any rule matches; a rule when all its clauses do; a clause when any match does. */
export function policyMatches(p: Policy, c: RbacConnection): boolean {
  return p.rules.some((rule) => rule.every((clause) => clause.some((m) => matchOne(m, c))));
}

export function authorize(policies: Policy[], c: RbacConnection): RbacDecision {
  const dryRunMatches: string[] = [];
  const name = (p: Policy) => `${p.namespace}/${p.name}`;
  for (const p of policies) {
    if (p.action !== 'DENY' || !policyMatches(p, c)) continue;
    if (p.dryRun) dryRunMatches.push(name(p));
    else return { kind: 'deny', policy: name(p), reason: 'denied by policy', dryRunMatches };
  }
  const allows = policies.filter((p) => p.action === 'ALLOW' && !p.dryRun);
  for (const p of policies) if (p.action === 'ALLOW' && p.dryRun && policyMatches(p, c)) dryRunMatches.push(name(p));
  if (!allows.length) return { kind: 'allow', dryRunMatches };
  const hit = allows.find((p) => policyMatches(p, c));
  if (hit) return { kind: 'allow', policy: name(hit), dryRunMatches };
  return { kind: 'deny', reason: 'no allow policy matched', dryRunMatches };
}
