// Public surface of lib/identity: SPIFFE ids, CSRs, the CA, workload certificate bundles.
export { formatSpiffeId, parseSpiffeId, spiffeIdString, tryParseSpiffeId, SPIFFE_PREFIX, type SpiffeIdentity, type SpiffeParseResult } from './spiffe.ts';
export { peerIdentity, peerSpiffeIdentity, spiffeIdentities, spiffeIdentityStrings, subjectAltNames, uriSans, type CertificateDer, type PeerIdentityResult, type SanEntry } from './san.ts';
export { createCsr, type KeyAndCsr } from './csr.ts';
export { checkCsrSans, parseCsr, type CsrSan, type ParsedCsr, type SanDecision } from './csr-check.ts';
export {
  CertificateAuthority,
  createSelfSignedRoot,
  leafValidity,
  DEFAULT_TRUST_DOMAIN,
  DEFAULT_WORKLOAD_TTL_SECONDS,
  MAX_WORKLOAD_TTL_SECONDS,
  type CaMaterial,
  type CertificateAuthorityOptions,
  type RootOptions,
  type SignRequest,
} from './ca.ts';
export { isExpired, needsRefresh, refreshTime, workloadCertificateFromChain, type WorkloadCertificate } from './certificate.ts';
export { issueWorkloadCertificate } from './local-issuer.ts';
export { CaError, CertificateError, type CaErrorCode, type CertificateErrorCode } from './errors.ts';
export { splitPemCertificates } from './x509.ts';
