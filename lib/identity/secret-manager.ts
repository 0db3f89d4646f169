// Workload certificates of the identities a proxy serves (ztunnel: one per pod identity; waypoint:
// its own): fetched on first use (concurrent callers share one request), refreshed at half-life,
// retried with backoff while the still-valid one stays in use, dropped on `forget`. The issuer is
// the CA client, or a local CA in standalone mode.
//
// Lifetime: users `hold` the identities they serve (ztunnel: one hold per pod on the node); when the
// last hold of an identity is released its certificate is dropped and its refresh stops, since the
// CA would refuse it anyway once no pod of that identity runs on the node. With `heldOnly`, an
// identity fetched without a hold (a request racing a pod's removal) is dropped at its next refresh
// instead of being refreshed forever.
import { X509Certificate } from 'node:crypto';
import { refreshTime, type WorkloadCertificate } from './certificate.ts';
import { splitPemCertificates } from './x509.ts';

export type Issuer = (identity: string) => Promise<WorkloadCertificate>;

/** One certificate of a dump entry: the serial as node:crypto prints it (hex), times as ISO strings. */
export interface CertificateDumpCert { pem: string; serialNumber: string; validFrom: string; expirationTime: string }

/** One identity in a proxy's `/config_dump` `certificates` (Istio's ztunnel names; ztunnel's admin re-encodes the values). */
export interface CertificateDumpEntry {
  identity: string;
  state: 'Available' | 'Initializing' | 'Unavailable';
  /** Leaf first, then intermediates. */
  certChain: CertificateDumpCert[];
  /** The trust anchors the identity's peers are checked against. */
  rootCerts: CertificateDumpCert[];
}

function dumpCertificate(pem: string): CertificateDumpCert {
  const x = new X509Certificate(pem);
  return { pem, serialNumber: x.serialNumber, validFrom: new Date(x.validFrom).toISOString(), expirationTime: new Date(x.validTo).toISOString() };
}

/** Longest wait between failed fetches (fact sheet §5.2). */
export const MAX_RETRY_BACKOFF_MS = 150_000;
const MAX_TIMER_MS = 2 ** 31 - 1;

interface Entry {
  current?: WorkloadCertificate;
  pending?: Promise<WorkloadCertificate>;
  timer?: NodeJS.Timeout;
  failures: number;
  lastError?: string;
}

export interface SecretManagerOptions {
  /** Refresh only identities someone holds; others are dropped when their refresh comes due. */
  heldOnly?: boolean;
  /** Called when an identity's certificate is dropped because nobody holds it any more. */
  onDropped?: (identity: string) => void;
}

export class SecretManager {
  private readonly entries = new Map<string, Entry>();
  private readonly holds = new Map<string, number>();
  private readonly issuer: Issuer;
  private readonly onError: (identity: string, err: Error) => void;
  private readonly opts: SecretManagerOptions;

  constructor(issuer: Issuer, onError: (identity: string, err: Error) => void = () => {}, opts: SecretManagerOptions = {}) {
    this.issuer = issuer;
    this.onError = onError;
    this.opts = opts;
  }

  /**
   * Keeps `identity`'s certificate (and its refresh) alive until the returned release is called;
   * holds are counted, release is idempotent, and the last release drops the certificate.
   */
  hold(identity: string): () => void {
    this.holds.set(identity, (this.holds.get(identity) ?? 0) + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const n = (this.holds.get(identity) ?? 1) - 1;
      if (n > 0) {
        this.holds.set(identity, n);
        return;
      }
      this.holds.delete(identity);
      if (this.entries.has(identity)) {
        this.forget(identity);
        this.opts.onDropped?.(identity);
      }
    };
  }

  /** Number of holds on `identity` (for /config_dump and tests). */
  holders(identity: string): number {
    return this.holds.get(identity) ?? 0;
  }

  /** The current certificate, fetching it first if needed. */
  async get(identity: string): Promise<WorkloadCertificate> {
    const e = this.entry(identity);
    if (e.current && e.current.notAfter.getTime() > Date.now()) return e.current;
    return this.fetch(identity, e);
  }

  /** The certificate in hand while it is still valid; never fetches (for synchronous callers). */
  current(identity: string): WorkloadCertificate | undefined {
    const c = this.entries.get(identity)?.current;
    return c && c.notAfter.getTime() > Date.now() ? c : undefined;
  }

  /** Starts fetching ahead of the first connection (a pod was added). */
  prefetch(identity: string): void {
    void this.get(identity).catch(() => {});
  }

  /**
   * Re-fetches every certificate in hand now rather than at its half-life (the trust bundle
   * changed: a root rotation reaches this node's chains in seconds). The current ones stay in use
   * until their replacements arrive.
   */
  refreshAll(): void {
    for (const [identity, e] of this.entries) if (!e.pending) this.schedule(identity, e, 0);
  }

  forget(identity: string): void {
    const e = this.entries.get(identity);
    if (e?.timer) clearTimeout(e.timer);
    this.entries.delete(identity);
  }

  close(): void {
    for (const id of [...this.entries.keys()]) this.forget(id);
    this.holds.clear();
  }

  private entry(identity: string): Entry {
    let e = this.entries.get(identity);
    if (!e) this.entries.set(identity, (e = { failures: 0 }));
    return e;
  }

  private fetch(identity: string, e: Entry): Promise<WorkloadCertificate> {
    e.pending ??= this.issuer(identity).then(
      (cert) => {
        e.pending = undefined;
        e.current = cert;
        e.failures = 0;
        e.lastError = undefined;
        // Forgotten while the request was out: the caller still gets it, nothing is kept or refreshed.
        if (this.entries.get(identity) === e) this.schedule(identity, e, Math.max(1000, refreshTime(cert).getTime() - Date.now()));
        return cert;
      },
      (err: Error) => {
        e.pending = undefined;
        e.failures++;
        e.lastError = err.message;
        this.onError(identity, err);
        // ztunnel's retry: exponential from 2 s, capped at 150 s; `current` stays in use until it expires.
        if (this.entries.get(identity) === e) this.schedule(identity, e, Math.min(1000 * 2 ** Math.min(e.failures, 8), MAX_RETRY_BACKOFF_MS));
        throw err;
      },
    );
    return e.pending;
  }

  private schedule(identity: string, e: Entry, ms: number): void {
    if (e.timer) clearTimeout(e.timer);
    // Node fires longer timers at once (with a warning); refreshing a very long-lived cert early is harmless.
    e.timer = setTimeout(() => {
      if (this.entries.get(identity) !== e) return;
      if (this.opts.heldOnly && !this.holds.has(identity)) {
        this.forget(identity);
        this.opts.onDropped?.(identity);
        return;
      }
      void this.fetch(identity, e).catch(() => {});
    }, Math.min(ms, MAX_TIMER_MS));
    e.timer.unref();
  }

  /** For /config_dump: each identity with its chain (or why it is missing). */
  dump(): CertificateDumpEntry[] {
    return [...this.entries.entries()].map(([identity, e]) => ({
      identity,
      state: e.current ? 'Available' : e.pending ? 'Initializing' : 'Unavailable',
      certChain: (e.current?.certChainPem ?? []).map(dumpCertificate),
      rootCerts: e.current ? splitPemCertificates(e.current.rootsPem).map(dumpCertificate) : [],
    }));
  }
}
