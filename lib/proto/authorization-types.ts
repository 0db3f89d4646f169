// TypeScript shapes of the istio.security messages (protos/istio/security/authorization.proto) in
// decoded form, and their enums as const objects.
import type { Empty } from './well-known-types.ts';
import type { Extension } from './workload-types.ts';

export const AuthorizationScope = { GLOBAL: 0, NAMESPACE: 1, WORKLOAD_SELECTOR: 2 } as const;
export type AuthorizationScope = (typeof AuthorizationScope)[keyof typeof AuthorizationScope];

export const AuthorizationAction = { ALLOW: 0, DENY: 1 } as const;
export type AuthorizationAction = (typeof AuthorizationAction)[keyof typeof AuthorizationAction];

/** One policy (type URL type.googleapis.com/istio.security.Authorization, name "<namespace>/<name>"). */
export interface Authorization {
  name: string;
  namespace: string;
  scope: AuthorizationScope;
  action: AuthorizationAction;
  /** OR-ed. */
  rules: AuthorizationRule[];
  dryRun: boolean;
  extensions: Extension[];
}

/** Istio's Go API calls this Group; ztunnel calls it Rule. */
export interface AuthorizationRule {
  /** AND-ed. */
  clauses: AuthorizationClause[];
}

/** Istio's Go API calls this Rules; ztunnel calls it Clause. */
export interface AuthorizationClause {
  /** OR-ed. */
  matches: AuthorizationMatch[];
}

export interface AuthorizationMatch {
  namespaces: StringMatch[];
  notNamespaces: StringMatch[];
  /** Identities without the 'spiffe://' prefix. */
  principals: StringMatch[];
  notPrincipals: StringMatch[];
  sourceIps: IpPrefix[];
  notSourceIps: IpPrefix[];
  destinationIps: IpPrefix[];
  notDestinationIps: IpPrefix[];
  destinationPorts: number[];
  notDestinationPorts: number[];
  serviceAccounts: ServiceAccountMatch[];
  notServiceAccounts: ServiceAccountMatch[];
  extensions: Extension[];
}

/** istio.security.Address: a prefix (raw IP bytes + length). Renamed here to avoid istio.workload.Address. */
export interface IpPrefix {
  address: Uint8Array;
  length: number;
}

export interface ServiceAccountMatch {
  namespace: string;
  serviceAccount: string;
}

export interface StringMatch {
  matchType?:
    | { $case: 'exact'; exact: string }
    | { $case: 'prefix'; prefix: string }
    | { $case: 'suffix'; suffix: string }
    | { $case: 'presence'; presence: Empty };
}
