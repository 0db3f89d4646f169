// Test support: workload certificates with arbitrary SANs, signed by a real root, so peer checks can
// be driven with what a broken or hostile issuer would hand out (several URI SANs, none, DNS only).
// Production never builds certificates here; the CA refuses such CSRs.
import type { CaMaterial } from './ca.ts';
import type { WorkloadCertificate } from './certificate.ts';
import { parseSpiffeId } from './spiffe.ts';
import { certificateToPem, generateP256KeyPair, importSigningKey, privateKeyToPem, signingAlgorithmFor, x509 } from './x509.ts';

export type TestSan = { type: 'url' | 'dns' | 'ip'; value: string };

/**
 * A leaf with exactly `sans` (server and client auth), signed by `root`, as a bundle the HBONE code
 * can serve or dial with. `identity` is what the bundle claims locally (the TLS code does not check it).
 */
export async function forgeWorkloadCertificate(root: CaMaterial, identity: string, sans: readonly TestSan[]): Promise<WorkloadCertificate> {
  const parsed = parseSpiffeId(identity);
  if (parsed.kind !== 'ok') throw new TypeError(parsed.reason);
  const signer = new x509.X509Certificate(root.certPem);
  const signingKey = await importSigningKey(root.keyPem);
  const keys = await generateP256KeyPair();
  const notBefore = new Date(Date.now() - 60_000);
  const notAfter = new Date(Date.now() + 3600_000);
  const leaf = await x509.X509CertificateGenerator.create({
    subject: '',
    issuer: signer.subjectName,
    publicKey: keys.publicKey,
    signingKey,
    signingAlgorithm: signingAlgorithmFor(signingKey),
    notBefore,
    notAfter,
    extensions: [
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyEncipherment, true),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth, x509.ExtendedKeyUsage.clientAuth]),
      new x509.BasicConstraintsExtension(false, undefined, true),
      authorityKeyId(signer) ?? (await x509.AuthorityKeyIdentifierExtension.create(signer.publicKey)),
      ...(sans.length ? [new x509.SubjectAlternativeNameExtension([...sans], true)] : []),
    ],
  });
  return {
    identity: parsed.identity,
    certChainPem: [certificateToPem(leaf)],
    keyPem: await privateKeyToPem(keys.privateKey),
    rootsPem: root.certPem.endsWith('\n') ? root.certPem : `${root.certPem}\n`,
    notBefore,
    notAfter,
  };
}

function authorityKeyId(signer: x509.X509Certificate): x509.AuthorityKeyIdentifierExtension | undefined {
  const ski = signer.getExtension(x509.SubjectKeyIdentifierExtension);
  return ski ? new x509.AuthorityKeyIdentifierExtension(ski.keyId) : undefined;
}
