// What both HBONE ends of a waypoint's Envoy config share: the ADS config source and the TLS context
// (TLS 1.3 only, ALPN h2, the certificate and roots by SDS name, peers of the trust domain).
import { ApiVersion, type MessageInput } from '../../../lib/proto/index.ts';
import type * as envoy from '../../../lib/proto/index.ts';
import { SDS_DEFAULT, SDS_ROOT_CA } from './names.ts';

export const ADS: MessageInput<envoy.ConfigSource> = { configSourceSpecifier: { $case: 'ads', ads: {} }, resourceApiVersion: ApiVersion.V3 };

export function hboneCommonTlsContext(trustDomain: string): MessageInput<envoy.CommonTlsContext> {
  return {
    tlsParams: { tlsMinimumProtocolVersion: 4 /* TLSv1_3 */, tlsMaximumProtocolVersion: 4 },
    alpnProtocols: ['h2'],
    tlsCertificateSdsSecretConfigs: [{ name: SDS_DEFAULT, sdsConfig: ADS }],
    validationContextType: {
      $case: 'combinedValidationContext',
      combinedValidationContext: {
        defaultValidationContext: { matchTypedSubjectAltNames: [{ sanType: 3 /* URI */, matcher: { matchPattern: { $case: 'prefix', prefix: `spiffe://${trustDomain}/` } } }] },
        validationContextSdsSecretConfig: { name: SDS_ROOT_CA, sdsConfig: ADS },
      },
    },
  };
}
