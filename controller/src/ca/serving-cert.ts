// The 15012 serving certificate as a grpc-js certificate provider: issued at start, re-issued from
// the CA at 80% of its lifetime and handed to every listener, so grpc-js swaps the TLS server's
// secure context in place (setSecureContext): new handshakes get the new certificate, open streams
// stay up.
import { X509Certificate } from 'node:crypto';
import type { experimental } from '@grpc/grpc-js';
import type { Logger } from 'pino';
import type { Registry } from '../../../lib/metrics/registry.ts';

type IdentityUpdate = experimental.IdentityCertificateUpdate;
type IdentityListener = experimental.IdentityCertificateUpdateListener;

export interface ServingCertificateDeps {
  /** Issues a fresh serving certificate (leaf first, then intermediates) and its key, both PEM. */
  issue: () => Promise<{ certChainPem: string; keyPem: string }>;
  log: Logger;
  registry: Registry;
  /** Fraction of the lifetime after which it is renewed (0.8). */
  renewAt?: number;
  /** Wait after a failed renewal before the next try (10 s, never past expiry). */
  retryMs?: number;
}

/**
 * Delay until `renewAt` of what is left of a just-issued certificate's life has passed (notBefore is
 * backdated for clock skew, so the issue time is now, not notBefore); never under 250 ms, so an
 * expired or nearly expired signer cannot make a tight loop.
 */
export function renewalDelayMs(certPem: string, renewAt: number, now = Date.now()): number {
  const to = Date.parse(new X509Certificate(certPem).validTo);
  return Math.max(250, (to - now) * renewAt);
}

export class ServingCertificateProvider implements experimental.CertificateProvider {
  readonly #deps: ServingCertificateDeps;
  readonly #listeners = new Set<IdentityListener>();
  #current: IdentityUpdate;
  #certPem: string;
  #timer: NodeJS.Timeout | undefined;
  #stopped = false;
  readonly #renewals;
  readonly #expiry;

  private constructor(deps: ServingCertificateDeps, first: { certChainPem: string; keyPem: string }) {
    this.#deps = deps;
    this.#renewals = deps.registry.counter('pilot_serving_cert_renewals_total', 'Renewals of the xDS/CA TLS serving certificate (15012), by result', ['result']);
    this.#expiry = deps.registry.gauge('pilot_serving_cert_expiry_timestamp', 'Unix time (s) at which the current 15012 serving certificate expires');
    this.#certPem = first.certChainPem;
    this.#current = ServingCertificateProvider.#update(first);
    this.#setExpiry();
    this.#schedule(renewalDelayMs(this.#certPem, deps.renewAt ?? 0.8));
  }

  static async start(deps: ServingCertificateDeps): Promise<ServingCertificateProvider> {
    return new ServingCertificateProvider(deps, await deps.issue());
  }

  /** The certificate chain (PEM) now served. */
  get certChainPem(): string {
    return this.#certPem;
  }

  addCaCertificateListener(): void {}
  removeCaCertificateListener(): void {}

  addIdentityCertificateListener(listener: IdentityListener): void {
    this.#listeners.add(listener);
    // Not synchronously: grpc-js subscribes before it registers its watcher, so a synchronous first
    // update would be lost and the listener would refuse every connection.
    queueMicrotask(() => {
      if (this.#listeners.has(listener)) listener(this.#current);
    });
  }

  removeIdentityCertificateListener(listener: IdentityListener): void {
    this.#listeners.delete(listener);
  }

  stop(): void {
    this.#stopped = true;
    clearTimeout(this.#timer);
  }

  static #update(c: { certChainPem: string; keyPem: string }): IdentityUpdate {
    return { certificate: Buffer.from(c.certChainPem), privateKey: Buffer.from(c.keyPem) };
  }

  #setExpiry(): void {
    this.#expiry.set({}, Math.floor(Date.parse(new X509Certificate(this.#certPem).validTo) / 1000));
  }

  #schedule(delayMs: number): void {
    if (this.#stopped) return;
    this.#timer = setTimeout(() => void this.#renew(), delayMs);
    this.#timer.unref();
  }

  async #renew(): Promise<void> {
    try {
      const next = await this.#deps.issue();
      if (this.#stopped) return;
      this.#certPem = next.certChainPem;
      this.#current = ServingCertificateProvider.#update(next);
      for (const l of this.#listeners) l(this.#current);
      this.#setExpiry();
      this.#renewals.inc({ result: 'success' });
      const cert = new X509Certificate(next.certChainPem);
      this.#deps.log.info({ serial: cert.serialNumber, notAfter: cert.validTo }, 'renewed the serving certificate');
      this.#schedule(renewalDelayMs(next.certChainPem, this.#deps.renewAt ?? 0.8));
    } catch (err) {
      this.#renewals.inc({ result: 'failure' });
      const left = Date.parse(new X509Certificate(this.#certPem).validTo) - Date.now();
      this.#deps.log.error({ err: (err as Error).message, expiresInMs: left }, 'renewing the serving certificate failed; retrying');
      this.#schedule(Math.max(0, Math.min(this.#deps.retryMs ?? 10_000, left / 2)));
    }
  }
}
