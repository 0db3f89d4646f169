// Issuing a workload certificate in-process: CSR, CA signature and bundle checks in one call, the
// same steps a CA client performs over gRPC. Used by standalone mode (no istiod) and by tests.
import type { CertificateAuthority } from './ca.ts';
import { workloadCertificateFromChain, type WorkloadCertificate } from './certificate.ts';
import { createCsr } from './csr.ts';
import type { SpiffeIdentity } from './spiffe.ts';

export async function issueWorkloadCertificate(
  ca: CertificateAuthority,
  identity: SpiffeIdentity | string,
  opts: { ttlSeconds?: number; now?: Date } = {},
): Promise<WorkloadCertificate> {
  const { keyPem, csrPem } = await createCsr(identity);
  const chain = await ca.sign({ csrPem, identity, ...opts });
  return workloadCertificateFromChain(identity, keyPem, chain);
}
