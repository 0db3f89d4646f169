// A small certificate authority for workload identities: creates a self-signed root (tests,
// standalone ztunnel, the controller's CA), signs intermediates, and signs workload CSRs into the
// chain layout Istio's CA returns (fact sheet §0.2, §5.3): leaf, intermediates…, root bundle last.
import { X509Certificate as NodeX509, createPrivateKey } from 'node:crypto';
import { checkCsrSans, parseCsr } from './csr-check.ts';
import { CaError } from './errors.ts';
import type { SpiffeIdentity } from './spiffe.ts';
import {
  certificateToPem,
  generateP256KeyPair,
  importSigningKey,
  privateKeyToPem,
  signingAlgorithmFor,
  splitPemCertificates,
  x509,
  type CryptoKey,
} from './x509.ts';

export const DEFAULT_TRUST_DOMAIN = 'cluster.local';
/** Istio's DEFAULT_WORKLOAD_CERT_TTL. */
export const DEFAULT_WORKLOAD_TTL_SECONDS = 24 * 3600;
/** Istio's MAX_WORKLOAD_CERT_TTL. */
export const MAX_WORKLOAD_TTL_SECONDS = 90 * 24 * 3600;
/** Istio's self-signed root lifetime. */
export const DEFAULT_ROOT_TTL_SECONDS = 10 * 365 * 24 * 3600;
/** Leaves are backdated a little so a peer whose clock lags ours still accepts them. */
const CLOCK_SKEW_MS = 60_000;

export interface CaMaterial {
  certPem: string;
  /** PKCS#8, SEC1 or PKCS#1 PEM. */
  keyPem: string;
}

export interface RootOptions {
  trustDomain?: string;
  ttlSeconds?: number;
  now?: Date;
}

/** A self-signed ECDSA P-256 root, subject `O=<trust domain>` like Istio's self-signed CA. */
export async function createSelfSignedRoot(opts: RootOptions = {}): Promise<CaMaterial> {
  const now = opts.now ?? new Date();
  const keys = await generateP256KeyPair();
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    name: [{ O: [opts.trustDomain ?? DEFAULT_TRUST_DOMAIN] }],
    keys,
    notBefore: new Date(now.getTime() - CLOCK_SKEW_MS),
    notAfter: new Date(now.getTime() + (opts.ttlSeconds ?? DEFAULT_ROOT_TTL_SECONDS) * 1000),
    signingAlgorithm: signingAlgorithmFor(keys.privateKey),
    extensions: caExtensions(await x509.SubjectKeyIdentifierExtension.create(keys.publicKey)),
  });
  return { certPem: certificateToPem(cert), keyPem: await privateKeyToPem(keys.privateKey) };
}

export interface CertificateAuthorityOptions {
  /** The certificate and key that sign leaves: the root itself, or an intermediate. */
  signer: CaMaterial;
  /** Certificates between the signer and the root, signer's issuer first; the root is not listed. */
  intermediatesPem?: string[];
  /** Root bundle handed out as the last chain element; defaults to the signer when it is a root. */
  rootsPem?: string;
  trustDomain?: string;
  defaultTtlSeconds?: number;
  maxTtlSeconds?: number;
}

export interface SignRequest {
  csrPem: string;
  /** The identity the caller is entitled to (its own, or the impersonated one). */
  identity: SpiffeIdentity | string;
  /** Requested lifetime; missing or non-positive means the default, larger values are capped. */
  ttlSeconds?: number;
  now?: Date;
}

/** Decides a leaf's validity window (pure): Istio's TTL rules, never beyond the signer's expiry. */
export function leafValidity(
  now: Date,
  requestedTtlSeconds: number | undefined,
  limits: { defaultTtlSeconds: number; maxTtlSeconds: number; signerNotAfter: Date },
): { notBefore: Date; notAfter: Date } {
  const ttl = requestedTtlSeconds === undefined || !(requestedTtlSeconds > 0) ? limits.defaultTtlSeconds : Math.min(requestedTtlSeconds, limits.maxTtlSeconds);
  const notAfterMs = Math.min(now.getTime() + ttl * 1000, limits.signerNotAfter.getTime());
  return { notBefore: new Date(now.getTime() - CLOCK_SKEW_MS), notAfter: new Date(notAfterMs) };
}

export class CertificateAuthority {
  readonly trustDomain: string;
  /** The root bundle (one or more PEM certificates), the last element of every chain returned. */
  readonly rootsPem: string;
  readonly #signer: x509.X509Certificate;
  readonly #signerPem: string;
  readonly #key: CryptoKey;
  readonly #intermediates: string[];
  readonly #signerIsRoot: boolean;
  readonly #defaultTtl: number;
  readonly #maxTtl: number;

  private constructor(init: {
    signer: x509.X509Certificate;
    signerPem: string;
    key: CryptoKey;
    intermediates: string[];
    rootsPem: string;
    signerIsRoot: boolean;
    opts: CertificateAuthorityOptions;
  }) {
    this.#signer = init.signer;
    this.#signerPem = init.signerPem;
    this.#key = init.key;
    this.#intermediates = init.intermediates;
    this.rootsPem = init.rootsPem;
    this.#signerIsRoot = init.signerIsRoot;
    this.trustDomain = init.opts.trustDomain ?? DEFAULT_TRUST_DOMAIN;
    this.#defaultTtl = init.opts.defaultTtlSeconds ?? DEFAULT_WORKLOAD_TTL_SECONDS;
    this.#maxTtl = init.opts.maxTtlSeconds ?? MAX_WORKLOAD_TTL_SECONDS;
  }

  /** Loads and checks signer material: a CA certificate whose key is the given key. */
  static async create(opts: CertificateAuthorityOptions): Promise<CertificateAuthority> {
    const signerPem = splitPemCertificates(opts.signer.certPem)[0];
    if (!signerPem) throw new CaError('CA_INVALID', 'signer certificate is not PEM');
    let nodeCert: NodeX509;
    try {
      nodeCert = new NodeX509(signerPem);
      if (!nodeCert.checkPrivateKey(createPrivateKey(opts.signer.keyPem))) {
        throw new CaError('CA_INVALID', 'signer key does not match signer certificate');
      }
    } catch (err) {
      if (err instanceof CaError) throw err;
      throw new CaError('CA_INVALID', 'signer certificate or key cannot be parsed', { cause: err });
    }
    if (!nodeCert.ca) throw new CaError('CA_INVALID', 'signer certificate is not a CA (basicConstraints cA=false)');
    const signer = new x509.X509Certificate(signerPem);
    const signerIsRoot = await signer.isSelfSigned();
    const rootsPem = opts.rootsPem ?? (signerIsRoot ? signerPem : undefined);
    if (!rootsPem || splitPemCertificates(rootsPem).length === 0) {
      throw new CaError('CA_INVALID', 'an intermediate signer needs rootsPem');
    }
    const key = await importSigningKey(opts.signer.keyPem);
    return new CertificateAuthority({
      signer,
      signerPem,
      key,
      intermediates: (opts.intermediatesPem ?? []).flatMap(splitPemCertificates),
      rootsPem: rootsPem.endsWith('\n') ? rootsPem : `${rootsPem}\n`,
      signerIsRoot,
      opts,
    });
  }

  /**
   * Validates the CSR and returns the chain as `IstioCertificateResponse.cert_chain`: leaf, the
   * signer if it is an intermediate, further intermediates, then the root bundle. Throws CaError.
   */
  async sign(req: SignRequest): Promise<string[]> {
    const csr = await parseCsr(req.csrPem);
    const decision = checkCsrSans(csr.sans, req.identity, this.trustDomain);
    if (decision.kind === 'reject') throw decision.error;
    const { notBefore, notAfter } = leafValidity(req.now ?? new Date(), req.ttlSeconds, {
      defaultTtlSeconds: this.#defaultTtl,
      maxTtlSeconds: this.#maxTtl,
      signerNotAfter: this.#signer.notAfter,
    });
    const leaf = await this.#leaf(csr.publicKey, [{ type: 'url', value: decision.uri }], notBefore, notAfter);
    return [leaf, ...this.chainBelowRoot, this.rootsPem];
  }

  /** Signs a new intermediate CA below this one (plug-in CA setups, chain tests). */
  async issueIntermediate(opts: { organization?: string; ttlSeconds?: number; now?: Date } = {}): Promise<CaMaterial> {
    const now = opts.now ?? new Date();
    const keys = await generateP256KeyPair();
    const notAfterMs = Math.min(now.getTime() + (opts.ttlSeconds ?? 365 * 24 * 3600) * 1000, this.#signer.notAfter.getTime());
    const cert = await x509.X509CertificateGenerator.create({
      subject: [{ O: [opts.organization ?? this.trustDomain] }, { CN: ['Intermediate CA'] }],
      issuer: this.#signer.subjectName,
      publicKey: keys.publicKey,
      signingKey: this.#key,
      signingAlgorithm: signingAlgorithmFor(this.#key),
      notBefore: new Date(now.getTime() - CLOCK_SKEW_MS),
      notAfter: new Date(notAfterMs),
      extensions: [...caExtensions(await x509.SubjectKeyIdentifierExtension.create(keys.publicKey)), await this.#authorityKeyId()],
    });
    return { certPem: certificateToPem(cert), keyPem: await privateKeyToPem(keys.privateKey) };
  }

  /**
   * A serving certificate for the control plane itself (istiod's DNS names, as ztunnel checks them on
   * 15012): DNS and IP SANs plus the server's SPIFFE id, server and client auth. Returns the chain
   * without the root (TLS presents it) and a fresh P-256 key.
   */
  async issueServingCertificate(opts: { dnsNames: string[]; ipAddresses?: string[]; spiffeId?: string; ttlSeconds?: number; now?: Date }): Promise<{ certChainPem: string; keyPem: string }> {
    const now = opts.now ?? new Date();
    const keys = await generateP256KeyPair();
    const { notBefore, notAfter } = leafValidity(now, opts.ttlSeconds, { defaultTtlSeconds: this.#defaultTtl, maxTtlSeconds: this.#maxTtl, signerNotAfter: this.#signer.notAfter });
    const names = [
      ...opts.dnsNames.map((value) => ({ type: 'dns' as const, value })),
      ...(opts.ipAddresses ?? []).map((value) => ({ type: 'ip' as const, value })),
      ...(opts.spiffeId ? [{ type: 'url' as const, value: opts.spiffeId }] : []),
    ];
    const leaf = await this.#leaf(keys.publicKey, names, notBefore, notAfter);
    return { certChainPem: [leaf, ...this.chainBelowRoot].join(''), keyPem: await privateKeyToPem(keys.privateKey) };
  }

  /** The issuers of an intermediate's leaves, to pass as `intermediatesPem` for a CA built on it. */
  get chainBelowRoot(): string[] {
    return [...(this.#signerIsRoot ? [] : [this.#signerPem]), ...this.#intermediates];
  }

  /** A leaf (PEM) for `publicKey` with `names` as its only identity: server and client auth. */
  async #leaf(publicKey: x509.PublicKey | CryptoKey, names: x509.JsonGeneralName[], notBefore: Date, notAfter: Date): Promise<string> {
    const cert = await x509.X509CertificateGenerator.create({
      // Istio leaves have an empty subject; the SAN is then critical (RFC 5280 §4.2.1.6).
      subject: '',
      issuer: this.#signer.subjectName,
      publicKey,
      signingKey: this.#key,
      signingAlgorithm: signingAlgorithmFor(this.#key),
      notBefore,
      notAfter,
      extensions: [
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyEncipherment, true),
        new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth, x509.ExtendedKeyUsage.clientAuth]),
        new x509.BasicConstraintsExtension(false, undefined, true),
        await this.#authorityKeyId(),
        new x509.SubjectAlternativeNameExtension(names, true),
      ],
    });
    return certificateToPem(cert);
  }

  async #authorityKeyId(): Promise<x509.AuthorityKeyIdentifierExtension> {
    // Reuse the signer's own key id when it has one: plug-in CAs may not derive it from SHA-1.
    const ski = this.#signer.getExtension(x509.SubjectKeyIdentifierExtension);
    return ski ? new x509.AuthorityKeyIdentifierExtension(ski.keyId) : x509.AuthorityKeyIdentifierExtension.create(this.#signer.publicKey);
  }
}

function caExtensions(ski: x509.SubjectKeyIdentifierExtension): x509.Extension[] {
  return [
    new x509.BasicConstraintsExtension(true, undefined, true),
    new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign | x509.KeyUsageFlags.digitalSignature, true),
    ski,
  ];
}
