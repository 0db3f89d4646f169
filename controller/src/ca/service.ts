// Istio's CA service (`istio.v1.auth.IstioCertificateService/CreateCertificate`): authenticate the
// caller's service-account token with a TokenReview, decide the identity it may have (own, or
// impersonated by a node proxy for a pod on its node), sign the CSR. Every refusal is opaque to the
// caller (UNAUTHENTICATED or INVALID_ARGUMENT with a fixed text) and detailed in the log and the
// metrics (Istio's citadel_server_* names).
import { status as grpcStatus, type handleUnaryCall, type Metadata, type ServiceError } from '@grpc/grpc-js';
import { CaError, type CertificateAuthority } from '../../../lib/identity/index.ts';
import { spiffeIdString } from '../../../lib/identity/spiffe.ts';
import type { Logger } from '../../../lib/log/logger.ts';
import type { Registry } from '../../../lib/metrics/registry.ts';
import { IMPERSONATED_IDENTITY, type IstioCertificateRequest, type IstioCertificateResponse } from '../../../lib/proto/index.ts';
import { authorizeIdentity, type PodFacts } from './authorize.ts';
import { authenticateCaller, type TokenReviewResult } from './authenticate.ts';

export type { TokenReviewResult } from './authenticate.ts';

export interface CaServiceDeps {
  /** The current signer (it changes on root rotation). */
  ca: () => Pick<CertificateAuthority, 'sign'>;
  reviewToken: (token: string) => Promise<TokenReviewResult>;
  getPod: (namespace: string, name: string) => PodFacts | undefined;
  podsOnNode: (node: string) => readonly PodFacts[];
  trustDomain: string;
  trustedNodeAccounts: ReadonlySet<string>;
  log: Logger;
  registry: Registry;
}

const REFUSED = 'request refused';

function fail(code: grpcStatus, details: string): ServiceError {
  return Object.assign(new Error(details), { code, details, metadata: undefined as unknown as Metadata });
}

export function createCertificateHandler(d: CaServiceDeps): handleUnaryCall<IstioCertificateRequest, IstioCertificateResponse> {
  const csrCount = d.registry.counter('citadel_server_csr_count', 'CSRs received by the CA', []);
  const authFailures = d.registry.counter('citadel_server_authentication_failure_count', 'CSRs refused because the caller could not be authenticated or authorized', []);
  const parseErrors = d.registry.counter('citadel_server_csr_parsing_err_count', 'CSRs refused as malformed', []);
  const issued = d.registry.counter('citadel_server_success_cert_issuance_count', 'Certificates issued', []);
  const rejections = d.registry.counter('istio_ca_rejections_total', 'CSRs refused, by reason', ['reason']);

  return (call, callback) => {
    csrCount.inc();
    const peer = call.getPeer();
    const refuse = (reason: string, detail: string, code: grpcStatus = grpcStatus.UNAUTHENTICATED) => {
      rejections.inc({ reason });
      if (code === grpcStatus.UNAUTHENTICATED) authFailures.inc();
      else parseErrors.inc();
      d.log.warn({ peer, reason, detail }, 'certificate request refused');
      callback(fail(code, code === grpcStatus.UNAUTHENTICATED ? REFUSED : 'invalid certificate request'));
    };
    void (async () => {
      let auth;
      try {
        auth = await authenticateCaller(call.metadata, d.reviewToken);
      } catch (err) {
        rejections.inc({ reason: 'token_review_error' });
        d.log.error({ peer, err: (err as Error).message }, 'TokenReview failed');
        return callback(fail(grpcStatus.UNAVAILABLE, 'cannot authenticate the caller now'));
      }
      if (!auth.ok) return refuse(auth.reason, auth.detail);
      const caller = auth.caller;
      const f: unknown = call.request.metadata?.[IMPERSONATED_IDENTITY];
      const impersonated = typeof f === 'string' ? f : undefined;
      const callerPod = caller.podName ? d.getPod(caller.namespace, caller.podName) : undefined;
      const decision = authorizeIdentity({ caller, ...(impersonated !== undefined ? { impersonated } : {}), trustDomain: d.trustDomain, trustedNodeAccounts: d.trustedNodeAccounts, ...(callerPod ? { callerPod } : {}), podsOnNode: d.podsOnNode });
      if (decision.kind === 'deny') return refuse('not_authorized', `${caller.namespace}/${caller.serviceAccount}: ${decision.reason}`);
      let chain: string[];
      try {
        chain = await d.ca().sign({ csrPem: call.request.csr, identity: decision.identity, ttlSeconds: call.request.validityDuration });
      } catch (err) {
        if (err instanceof CaError) {
          const code = err.code === 'IDENTITY_MISMATCH' || err.code === 'TRUST_DOMAIN_MISMATCH' ? grpcStatus.UNAUTHENTICATED : grpcStatus.INVALID_ARGUMENT;
          return refuse(err.code.toLowerCase(), `${caller.namespace}/${caller.serviceAccount}: ${err.message}`, code);
        }
        d.log.error({ peer, err: (err as Error).message }, 'signing failed');
        return callback(fail(grpcStatus.INTERNAL, 'signing failed'));
      }
      issued.inc();
      d.log.info({ caller: `${caller.namespace}/${caller.serviceAccount}`, identity: spiffeIdString(decision.identity), impersonated: impersonated !== undefined }, 'certificate issued');
      callback(null, { certChain: chain });
    })();
  };
}
