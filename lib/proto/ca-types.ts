// TypeScript shapes of the istio.v1.auth CA messages (protos/istio/v1/auth/ca.proto).
import type { Struct } from './well-known-types.ts';

export interface IstioCertificateRequest {
  /** PKCS#10, PEM. */
  csr: string;
  /** Seconds. */
  validityDuration: number;
  /** e.g. { ImpersonatedIdentity: 'spiffe://…' }; see structFromJson. */
  metadata?: Struct;
}

export interface IstioCertificateResponse {
  /** Leaf, intermediates, and last the root bundle. */
  certChain: string[];
}

/** Metadata key a node proxy sets to ask for a certificate of one of its pods' identities. */
export const IMPERSONATED_IDENTITY = 'ImpersonatedIdentity';
