// A workload's certificate bundle as the data path uses it: identity, chain, key, trust roots and
// validity. Built from a CA response laid out the way ztunnel reads it (fact sheet §5.2): element 0
// the leaf, then intermediates, the last element the root bundle (maybe several roots).
import { X509Certificate, createPrivateKey, type KeyObject } from 'node:crypto';
import { CertificateError } from './errors.ts';
import { spiffeIdentityStrings } from './san.ts';
import { parseSpiffeId, spiffeIdString, type SpiffeIdentity } from './spiffe.ts';
import { splitPemCertificates } from './x509.ts';

export interface WorkloadCertificate {
  identity: SpiffeIdentity;
  /** Leaf first, then intermediates; without roots. What TLS presents to the peer. */
  certChainPem: string[];
  /** PKCS#8 PEM. */
  keyPem: string;
  /** Trust anchors for peers: one or more concatenated PEM roots. */
  rootsPem: string;
  notBefore: Date;
  notAfter: Date;
}

/** Builds and checks a bundle from `IstioCertificateResponse.cert_chain` and the CSR's key. */
export function workloadCertificateFromChain(identity: SpiffeIdentity | string, keyPem: string, certChain: readonly string[]): WorkloadCertificate {
  const want = spiffeIdString(identity);
  if (certChain.length < 2) throw new CertificateError('NO_ROOT', 'no root certificate present: the chain needs a leaf and a root bundle');
  const chain = certChain.slice(0, -1).flatMap((pem, i) => {
    const blocks = splitPemCertificates(pem);
    if (blocks.length === 0) throw new CertificateError('PEM_INVALID', `cert_chain[${i}] is not a PEM certificate`);
    return blocks;
  });
  const rootsPem = certChain[certChain.length - 1]!;
  if (splitPemCertificates(rootsPem).length === 0) throw new CertificateError('PEM_INVALID', 'the root bundle holds no PEM certificate');
  let leaf: X509Certificate;
  let key: KeyObject;
  try {
    leaf = new X509Certificate(chain[0]!);
    key = createPrivateKey(keyPem);
  } catch (err) {
    throw new CertificateError('PEM_INVALID', 'leaf certificate or private key cannot be parsed', { cause: err });
  }
  const ids = spiffeIdentityStrings(leaf);
  if (!ids.includes(want)) {
    throw new CertificateError('IDENTITY_MISMATCH', `leaf identities [${ids.join(', ')}] do not include requested ${want}`);
  }
  if (!leaf.checkPrivateKey(key)) throw new CertificateError('KEY_MISMATCH', 'private key does not match the leaf certificate');
  const parsed = parseSpiffeId(want);
  if (parsed.kind !== 'ok') throw new TypeError(parsed.reason);
  return {
    identity: parsed.identity,
    certChainPem: chain,
    keyPem,
    rootsPem: rootsPem.endsWith('\n') ? rootsPem : `${rootsPem}\n`,
    notBefore: leaf.validFromDate,
    notAfter: leaf.validToDate,
  };
}

/** When to fetch a new certificate: half-way through validity, as ztunnel does. */
export function refreshTime(cert: Pick<WorkloadCertificate, 'notBefore' | 'notAfter'>): Date {
  const from = cert.notBefore.getTime();
  return new Date(from + (cert.notAfter.getTime() - from) / 2);
}

export function needsRefresh(cert: Pick<WorkloadCertificate, 'notBefore' | 'notAfter'>, now: Date = new Date()): boolean {
  return now.getTime() >= refreshTime(cert).getTime();
}

export function isExpired(cert: Pick<WorkloadCertificate, 'notAfter'>, now: Date = new Date()): boolean {
  return now.getTime() >= cert.notAfter.getTime();
}
