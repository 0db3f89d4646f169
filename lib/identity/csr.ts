// Certificate signing requests as ztunnel sends them (fact sheet §5.2): a fresh ECDSA P-256 key per
// request, a SHA-256 PKCS#10 CSR with an empty subject and exactly one URI SAN, the SPIFFE id.
import { spiffeIdString, type SpiffeIdentity } from './spiffe.ts';
import { generateP256KeyPair, privateKeyToPem, signingAlgorithmFor, x509 } from './x509.ts';

export interface KeyAndCsr {
  /** The new private key, PKCS#8 PEM. Never leaves the process that generated it. */
  keyPem: string;
  /** The PKCS#10 request, PEM, as `IstioCertificateRequest.csr` carries it. */
  csrPem: string;
}

export async function createCsr(identity: SpiffeIdentity | string): Promise<KeyAndCsr> {
  const uri = spiffeIdString(identity);
  const keys = await generateP256KeyPair();
  const csr = await x509.Pkcs10CertificateRequestGenerator.create({
    keys,
    signingAlgorithm: signingAlgorithmFor(keys.privateKey),
    extensions: [new x509.SubjectAlternativeNameExtension([{ type: 'url', value: uri }])],
  });
  return { keyPem: await privateKeyToPem(keys.privateKey), csrPem: `${csr.toString('pem').trimEnd()}\n` };
}
