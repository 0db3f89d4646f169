// TLS material for HBONE: TLS 1.3 only, the AES-GCM suites only, trust = the mesh roots only.
// Contexts are built once per workload certificate bundle (parsing PEM and keys is too slow to
// repeat per connection); a rotated certificate is a new bundle object and gets a new context.
import tls from 'node:tls';
import type { WorkloadCertificate } from '../identity/certificate.ts';
import { TLS13_CIPHERSUITES } from './settings.ts';

/** Options shared by client contexts and server listeners. */
export function tlsContextOptions(cert: WorkloadCertificate): tls.SecureContextOptions {
  return {
    cert: cert.certChainPem.join(''),
    key: cert.keyPem,
    // `ca` replaces Node's bundled public roots: only the mesh roots are trusted.
    ca: cert.rootsPem,
    minVersion: 'TLSv1.3',
    maxVersion: 'TLSv1.3',
    // Node routes TLS_* names to the TLS 1.3 suite list; no TLS 1.2 cipher remains enabled.
    ciphers: TLS13_CIPHERSUITES,
  };
}

const contexts = new WeakMap<WorkloadCertificate, tls.SecureContext>();

/** The client-side context for a bundle, built once. */
export function secureContextFor(cert: WorkloadCertificate): tls.SecureContext {
  let ctx = contexts.get(cert);
  if (!ctx) {
    ctx = tls.createSecureContext(tlsContextOptions(cert));
    contexts.set(cert, ctx);
  }
  return ctx;
}
