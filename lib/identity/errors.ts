// Typed failures of lib/identity. CaError is what a CA returns to a caller that sent a bad request
// (the gRPC layer maps codes to statuses); CertificateError is a CA response or key pair that cannot
// be served. Callers branch on `code`, never on message text.

export type CaErrorCode =
  /** Not a parseable PKCS#10 request, or its signature does not verify. */
  | 'CSR_INVALID'
  /** The CSR does not carry exactly one subject alternative name. */
  | 'SAN_COUNT'
  /** The single SAN is not a URI holding a workload SPIFFE id. */
  | 'SAN_NOT_SPIFFE'
  /** The CSR's SPIFFE id differs from the identity the caller may have. */
  | 'IDENTITY_MISMATCH'
  /** The identity is outside the CA's trust domain. */
  | 'TRUST_DOMAIN_MISMATCH'
  /** The CA's own certificate and key do not form a usable signing CA. */
  | 'CA_INVALID';

export class CaError extends Error {
  readonly code: CaErrorCode;

  constructor(code: CaErrorCode, message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'CaError';
    this.code = code;
  }
}

export type CertificateErrorCode =
  /** The chain has fewer than two elements, so there is no root bundle (ztunnel refuses it too). */
  | 'NO_ROOT'
  /** A chain element is not a PEM certificate. */
  | 'PEM_INVALID'
  /** The leaf's SPIFFE id is not the identity that was requested. */
  | 'IDENTITY_MISMATCH'
  /** The private key does not belong to the leaf certificate. */
  | 'KEY_MISMATCH';

export class CertificateError extends Error {
  readonly code: CertificateErrorCode;

  constructor(code: CertificateErrorCode, message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'CertificateError';
    this.code = code;
  }
}
