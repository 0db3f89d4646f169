// Where the CA's signing material comes from, in Istio's order: a user-provided `cacerts` Secret
// (plug-in CA: an intermediate with its chain and root) wins; else the self-signed root in
// `istio-ca-secret`, created at first start when missing (a replica that loses the creation race
// reads the winner's). Kubernetes access is behind a small interface so the choice is testable.
import { CertificateAuthority, createSelfSignedRoot, splitPemCertificates, type CertificateAuthorityOptions } from '../../../lib/identity/index.ts';
import type { Logger } from '../../../lib/log/logger.ts';

export const PLUGIN_CA_SECRET = 'cacerts';
export const SELF_SIGNED_CA_SECRET = 'istio-ca-secret';

/** Secret data as text (the caller does the base64). */
export interface SecretStore {
  get(namespace: string, name: string): Promise<Record<string, string> | undefined>;
  /** Resolves false when the Secret already exists (409), true when created. */
  create(namespace: string, name: string, data: Record<string, string>): Promise<boolean>;
}

export type CaSource = 'cacerts' | 'istio-ca-secret' | 'created';

export interface LoadedCa {
  ca: CertificateAuthority;
  source: CaSource;
  /** PEM root bundle, as published in ConfigMap istio-ca-root-cert. */
  rootPem: string;
  /** What `ca` was built from, to rebuild it with a wider trust bundle during a root rotation. */
  material: CertificateAuthorityOptions;
}

const normalise = (pem: string) => pem.replace(/\r/g, '').trim();

/** Workload leaf lifetimes (istiod's DEFAULT_WORKLOAD_CERT_TTL / MAX_WORKLOAD_CERT_TTL). */
export interface LeafTtls {
  defaultTtlSeconds?: number;
  maxTtlSeconds?: number;
}

async function fromPlugin(data: Record<string, string>, trustDomain: string, ttls: LeafTtls): Promise<LoadedCa> {
  const need = (k: string) => {
    const v = data[k];
    if (!v?.trim()) throw new Error(`Secret ${PLUGIN_CA_SECRET} has no ${k}`);
    return v;
  };
  const caCert = need('ca-cert.pem');
  const rootPem = need('root-cert.pem');
  const roots = new Set(splitPemCertificates(rootPem).map(normalise));
  const signer = normalise(splitPemCertificates(caCert)[0] ?? '');
  // cert-chain.pem: the signer's chain up to the root; keep only what lies between them.
  const intermediates = splitPemCertificates(data['cert-chain.pem'] ?? '').filter((c) => normalise(c) !== signer && !roots.has(normalise(c)));
  const material = { signer: { certPem: caCert, keyPem: need('ca-key.pem') }, intermediatesPem: intermediates, rootsPem: rootPem, trustDomain, ...ttls };
  const ca = await CertificateAuthority.create(material);
  return { ca, source: 'cacerts', rootPem: ca.rootsPem, material };
}

export async function loadCa(store: SecretStore, opts: { namespace: string; trustDomain: string; /** Absent on periodic reloads (nothing to say unless it changed). */ log?: Logger; ttls?: LeafTtls }): Promise<LoadedCa> {
  const plugin = await store.get(opts.namespace, PLUGIN_CA_SECRET);
  if (plugin) {
    const loaded = await fromPlugin(plugin, opts.trustDomain, opts.ttls ?? {});
    opts.log?.info({ secret: `${opts.namespace}/${PLUGIN_CA_SECRET}` }, 'CA: using the plug-in certificates');
    return loaded;
  }
  let data = await store.get(opts.namespace, SELF_SIGNED_CA_SECRET);
  let source: CaSource = 'istio-ca-secret';
  if (!data) {
    const root = await createSelfSignedRoot({ trustDomain: opts.trustDomain });
    const fresh = { 'ca-cert.pem': root.certPem, 'ca-key.pem': root.keyPem, 'root-cert.pem': root.certPem, 'cert-chain.pem': '' };
    if (await store.create(opts.namespace, SELF_SIGNED_CA_SECRET, fresh)) {
      data = fresh;
      source = 'created';
    } else {
      data = await store.get(opts.namespace, SELF_SIGNED_CA_SECRET);
      if (!data) throw new Error(`Secret ${opts.namespace}/${SELF_SIGNED_CA_SECRET} exists but cannot be read`);
    }
  }
  const certPem = data['ca-cert.pem'];
  const keyPem = data['ca-key.pem'];
  if (!certPem || !keyPem) throw new Error(`Secret ${opts.namespace}/${SELF_SIGNED_CA_SECRET} lacks ca-cert.pem or ca-key.pem`);
  const material = { signer: { certPem, keyPem }, trustDomain: opts.trustDomain, ...opts.ttls };
  const ca = await CertificateAuthority.create(material);
  opts.log?.info({ secret: `${opts.namespace}/${SELF_SIGNED_CA_SECRET}`, source }, 'CA: using the self-signed root');
  return { ca, source, rootPem: ca.rootsPem, material };
}
