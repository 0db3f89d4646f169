// What a CA checks in a CSR before signing it. Parsing and the signature check need WebCrypto
// (async); the decision about the SANs is a pure function over the parsed names.
import { CaError } from './errors.ts';
import { parseSpiffeId, spiffeIdString, type SpiffeIdentity } from './spiffe.ts';
import { x509 } from './x509.ts';

export interface CsrSan {
  /** @peculiar/x509 general-name type: 'url' for URI, 'dns', 'ip', 'email', … */
  type: string;
  value: string;
}

export interface ParsedCsr {
  publicKey: x509.PublicKey;
  sans: CsrSan[];
}

export type SanDecision =
  | { kind: 'ok'; identity: SpiffeIdentity; uri: string }
  | { kind: 'reject'; error: CaError };

/**
 * Decides whether the CSR's SANs may be signed for `expected`: exactly one SAN, a URI holding a
 * workload SPIFFE id equal to `expected`, inside `trustDomain`.
 */
export function checkCsrSans(sans: readonly CsrSan[], expected: SpiffeIdentity | string, trustDomain: string): SanDecision {
  const reject = (code: CaError['code'], msg: string): SanDecision => ({ kind: 'reject', error: new CaError(code, msg) });
  if (sans.length !== 1) return reject('SAN_COUNT', `CSR must carry exactly one SAN, found ${sans.length}`);
  const san = sans[0]!;
  if (san.type !== 'url') return reject('SAN_NOT_SPIFFE', `CSR SAN is a ${san.type} name, expected a SPIFFE URI`);
  const parsed = parseSpiffeId(san.value);
  if (parsed.kind === 'error') return reject('SAN_NOT_SPIFFE', `CSR SAN: ${parsed.reason}`);
  const want = spiffeIdString(expected);
  if (san.value !== want) return reject('IDENTITY_MISMATCH', `CSR asks for ${san.value}, caller may only have ${want}`);
  if (parsed.identity.trustDomain !== trustDomain) {
    return reject('TRUST_DOMAIN_MISMATCH', `identity ${san.value} is outside trust domain ${trustDomain}`);
  }
  return { kind: 'ok', identity: parsed.identity, uri: san.value };
}

/** Parses a PEM CSR and verifies its self-signature; any failure is CSR_INVALID. */
export async function parseCsr(csrPem: string): Promise<ParsedCsr> {
  let csr: x509.Pkcs10CertificateRequest;
  try {
    csr = new x509.Pkcs10CertificateRequest(csrPem);
  } catch (err) {
    throw new CaError('CSR_INVALID', 'CSR is not a PEM PKCS#10 request', { cause: err });
  }
  let valid: boolean;
  try {
    valid = await csr.verify();
  } catch (err) {
    throw new CaError('CSR_INVALID', 'CSR signature cannot be checked (unsupported key or algorithm)', { cause: err });
  }
  if (!valid) throw new CaError('CSR_INVALID', 'CSR signature does not verify');
  let sans: CsrSan[];
  try {
    sans = csr.extensions
      .filter((ext): ext is x509.SubjectAlternativeNameExtension => ext instanceof x509.SubjectAlternativeNameExtension)
      .flatMap((ext) => ext.names.items.map((n) => ({ type: n.type, value: n.value })));
  } catch (err) {
    // e.g. an otherName SAN, which the parser refuses; none of those are acceptable anyway.
    throw new CaError('SAN_NOT_SPIFFE', 'CSR carries a SAN of an unsupported kind', { cause: err });
  }
  return { publicKey: csr.publicKey, sans };
}
