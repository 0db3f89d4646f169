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
export function renewalDelayMs(notAfterMs: number, renewAt: number, now = Date.now()): number {
  return Math.max(250, (notAfterMs - now) * renewAt);
}

export class ServingCertificateProvider implements experimental.CertificateProvider {
  readonly #deps: ServingCertificateDeps;
  readonly #listeners = new Set<IdentityListener>();
  #current!: IdentityUpdate;
  #certPem!: string;
  #notAfterMs!: number;
  #timer: NodeJS.Timeout | undefined;
  #stopped = false;
  readonly #renewals;
  readonly #expiry;

  private constructor(deps: ServingCertificateDeps, first: { certChainPem: string; keyPem: string }) {
    this.#deps = deps;
    this.#renewals = deps.registry.counter('pilot_serving_cert_renewals_total', 'Renewals of the xDS/CA TLS serving certificate (15012), by result', ['result']);
    this.#expiry = deps.registry.gauge('pilot_serving_cert_expiry_timestamp', 'Unix time (s) at which the current 15012 serving certificate expires');
    this.#install(first);
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

  /** Re-issues now (the signer changed), without waiting for 80% of the current lifetime. */
  renewNow(): void {
    if (this.#stopped) return;
    clearTimeout(this.#timer);
    void this.#renew();
  }

  stop(): void {
    this.#stopped = true;
    clearTimeout(this.#timer);
  }

  /** Makes `c` the served certificate (parsed once) and schedules its renewal; returns the leaf. */
  #install(c: { certChainPem: string; keyPem: string }): X509Certificate {
    const leaf = new X509Certificate(c.certChainPem);
    this.#certPem = c.certChainPem;
    this.#notAfterMs = Date.parse(leaf.validTo);
    this.#current = { certificate: Buffer.from(c.certChainPem), privateKey: Buffer.from(c.keyPem) };
    this.#expiry.set({}, Math.floor(this.#notAfterMs / 1000));
    this.#schedule(renewalDelayMs(this.#notAfterMs, this.#deps.renewAt ?? 0.8));
    return leaf;
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
      const leaf = this.#install(next);
      for (const l of this.#listeners) l(this.#current);
      this.#renewals.inc({ result: 'success' });
      this.#deps.log.info({ serial: leaf.serialNumber, notAfter: leaf.validTo }, 'renewed the serving certificate');
    } catch (err) {
      this.#renewals.inc({ result: 'failure' });
      const left = this.#notAfterMs - Date.now();
      this.#deps.log.error({ err: (err as Error).message, expiresInMs: left }, 'renewing the serving certificate failed; retrying');
      this.#schedule(Math.max(0, Math.min(this.#deps.retryMs ?? 10_000, left / 2)));
    }
  }
}
