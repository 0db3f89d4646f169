// Workload certificates of the identities a proxy serves (ztunnel: one per pod identity; waypoint:
// its own): fetched on first use (concurrent callers share one request), refreshed at half-life,
// retried with backoff while the still-valid one stays in use, dropped on `forget`. The issuer is
// the CA client, or a local CA in standalone mode.
import { X509Certificate } from 'node:crypto';
import { refreshTime, type WorkloadCertificate } from './certificate.ts';

export type Issuer = (identity: string) => Promise<WorkloadCertificate>;

/** One identity in a proxy's `/config_dump` `certificates` (Istio's ztunnel shape). */
export interface CertificateDumpEntry {
  identity: string;
  state: 'Available' | 'Initializing' | 'Unavailable';
  certChain: { pem: string; serialNumber: string; validFrom: string; expirationTime: string }[];
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

export class SecretManager {
  private readonly entries = new Map<string, Entry>();
  private readonly issuer: Issuer;
  private readonly onError: (identity: string, err: Error) => void;

  constructor(issuer: Issuer, onError: (identity: string, err: Error) => void = () => {}) {
    this.issuer = issuer;
    this.onError = onError;
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

  forget(identity: string): void {
    const e = this.entries.get(identity);
    if (e?.timer) clearTimeout(e.timer);
    this.entries.delete(identity);
  }

  close(): void {
    for (const id of [...this.entries.keys()]) this.forget(id);
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
        this.schedule(identity, e, Math.max(1000, refreshTime(cert).getTime() - Date.now()));
        return cert;
      },
      (err: Error) => {
        e.pending = undefined;
        e.failures++;
        e.lastError = err.message;
        this.onError(identity, err);
        // ztunnel's retry: exponential from 2 s, capped at 150 s; `current` stays in use until it expires.
        this.schedule(identity, e, Math.min(1000 * 2 ** Math.min(e.failures, 8), MAX_RETRY_BACKOFF_MS));
        throw err;
      },
    );
    return e.pending;
  }

  private schedule(identity: string, e: Entry, ms: number): void {
    if (e.timer) clearTimeout(e.timer);
    // Node fires longer timers at once (with a warning); refreshing a very long-lived cert early is harmless.
    e.timer = setTimeout(() => {
      if (this.entries.get(identity) === e) void this.fetch(identity, e).catch(() => {});
    }, Math.min(ms, MAX_TIMER_MS));
    e.timer.unref();
  }

  /** For /config_dump: each identity with its chain (or why it is missing). */
  dump(): CertificateDumpEntry[] {
    return [...this.entries.entries()].map(([identity, e]) => ({
      identity,
      state: e.current ? 'Available' : e.pending ? 'Initializing' : 'Unavailable',
      certChain: (e.current?.certChainPem ?? []).map((pem) => {
        const x = new X509Certificate(pem);
        return { pem, serialNumber: x.serialNumber, validFrom: new Date(x.validFrom).toISOString(), expirationTime: new Date(x.validTo).toISOString() };
      }),
    }));
  }
}
