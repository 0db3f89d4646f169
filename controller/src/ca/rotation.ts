// Root rotation without a restart and without a failed connection. The CA's material (the
// `cacerts` Secret, else `istio-ca-secret`) is re-read while running; what changes is applied in
// an order that keeps every pair of workloads able to verify each other:
// 1. trust first: a new signer's roots join the trust bundle (the last element of every chain
//    issued, and the published `istio-ca-root-cert`) while the old signer keeps signing, for
//    `spreadMs` — long enough for every workload certificate to be renewed with the wider bundle;
// 2. switch: the new signer signs (and the 15012 serving certificate is re-issued);
// 3. retire: the old roots stay in the bundle until every leaf the old signer issued has expired
//    (at least `retireMs`), then leave it.
// A root the operator drops from the bundle (Istio's manual procedure, last step) retires the same
// way. The published bundle doubles as the record across restarts: roots it holds that the material
// no longer has are kept as retiring.
import { createHash, X509Certificate } from 'node:crypto';
import { CertificateAuthority, splitPemCertificates, type SignRequest } from '../../../lib/identity/index.ts';
import type { Logger } from '../../../lib/log/logger.ts';
import type { Registry } from '../../../lib/metrics/registry.ts';
import type { LoadedCa } from './root.ts';

export interface RotationOptions {
  /** How long a new root is trusted before its signer signs. */
  spreadMs: number;
  /** The least time a root stays trusted after its signer stopped signing. */
  retireMs: number;
  log: Logger;
  registry: Registry;
  now?: () => number;
}

export type OfferResult = 'unchanged' | 'roots-changed' | 'spreading' | 'switched';

export interface RotationChange {
  bundleChanged: boolean;
  signerChanged: boolean;
}

interface TrustedRoot {
  pem: string;
  /** When it joined the bundle. */
  since: number;
  /** When it leaves (undefined: it anchors the active or the pending signer). */
  retireAt?: number;
}

const normalise = (pem: string) => `${pem.replace(/\r/g, '').trim()}\n`;
const fingerprint = (pem: string) => new X509Certificate(pem).fingerprint256;
const rootsOf = (l: LoadedCa) => splitPemCertificates(l.material.rootsPem ?? l.rootPem).map(normalise);

/** Identifies the material: a change of signer, chain or roots is a change. */
export function materialDigest(l: LoadedCa): string {
  const m = l.material;
  return createHash('sha256').update([normalise(m.signer.certPem), ...(m.intermediatesPem ?? []).map(normalise), ...rootsOf(l)].join('|')).digest('hex');
}

const signerOf = (l: LoadedCa) => fingerprint(splitPemCertificates(l.material.signer.certPem)[0] ?? l.material.signer.certPem);

export class CaRotation {
  readonly #opts: RotationOptions;
  readonly #now: () => number;
  #active: LoadedCa;
  #activeDigest: string;
  #pending: { loaded: LoadedCa; digest: string; switchAt: number } | undefined;
  readonly #trusted = new Map<string, TrustedRoot>();
  /** The latest notAfter of anything the active signer issued (old roots outlive it). */
  #latestNotAfter = 0;
  #ca!: CertificateAuthority;
  #bundle = '';
  readonly #listeners = new Set<(c: RotationChange) => void>();
  readonly #events;
  readonly #trustedGauge;
  readonly #rootExpiry;

  private constructor(initial: LoadedCa, opts: RotationOptions) {
    this.#opts = opts;
    this.#now = opts.now ?? Date.now;
    this.#active = initial;
    this.#activeDigest = materialDigest(initial);
    this.#events = opts.registry.counter('istio_ca_root_rotation_events_total', 'Root rotation steps: trust_added (a new root joined the bundle), signer_switched, root_retired', ['event']);
    this.#trustedGauge = opts.registry.gauge('istio_ca_trusted_roots', 'Roots in the trust bundle the CA hands out and publishes');
    this.#rootExpiry = opts.registry.gauge('citadel_server_root_cert_expiry_timestamp', 'Unix time (s) at which the root of the active signer expires');
  }

  /**
   * Starts from the material in force and the bundle published before (if any): its roots the
   * material lacks stay trusted as retiring, so a restart mid-rotation drops no trust.
   */
  static async create(initial: LoadedCa, opts: RotationOptions, publishedBundlePem?: string): Promise<CaRotation> {
    const r = new CaRotation(initial, opts);
    const now = r.#now();
    // The material's roots count as spread: nothing else signs, so no one waits on them.
    for (const pem of rootsOf(initial)) r.#trusted.set(fingerprint(pem), { pem, since: now - opts.spreadMs });
    let kept = 0;
    for (const pem of splitPemCertificates(publishedBundlePem ?? '').map(normalise)) {
      let fp: string;
      try {
        fp = fingerprint(pem);
      } catch {
        continue;
      }
      if (r.#trusted.has(fp)) continue;
      r.#trusted.set(fp, { pem, since: now - opts.spreadMs, retireAt: now + opts.retireMs });
      kept++;
    }
    if (kept) opts.log.warn({ roots: kept, retireInMs: opts.retireMs }, 'CA: the published bundle holds roots the CA material no longer has; they stay trusted until retired');
    await r.#rebuild();
    return r;
  }

  /** The CA that signs now; its chains end with the whole trust bundle. */
  get ca(): CertificateAuthority {
    return this.#ca;
  }

  /** Every root trusted now (PEM), the active signer's first: what `istio-ca-root-cert` carries. */
  get bundlePem(): string {
    return this.#bundle;
  }

  get source(): LoadedCa['source'] {
    return this.#active.source;
  }

  /** `spreading` while a new signer waits for its roots to reach every workload. */
  get phase(): 'steady' | 'spreading' {
    return this.#pending ? 'spreading' : 'steady';
  }

  onChange(listener: (c: RotationChange) => void): void {
    this.#listeners.add(listener);
  }

  /** Signs with the active signer, remembering the leaf's expiry (old roots outlive every leaf). */
  async sign(req: SignRequest): Promise<string[]> {
    const chain = await this.#ca.sign(req);
    this.#noteIssued(chain[0]!);
    return chain;
  }

  async issueServingCertificate(opts: Parameters<CertificateAuthority['issueServingCertificate']>[0]): Promise<{ certChainPem: string; keyPem: string }> {
    const r = await this.#ca.issueServingCertificate(opts);
    this.#noteIssued(r.certChainPem);
    return r;
  }

  /** Material just read from the Secrets; applies what changed in rotation order. */
  async offer(next: LoadedCa): Promise<OfferResult> {
    const digest = materialDigest(next);
    const now = this.#now();
    if (digest === this.#activeDigest) {
      if (!this.#pending) return 'unchanged';
      // The operator went back before the switch: the pending roots leave now (nothing they anchor was issued).
      this.#opts.log.info({}, 'CA: the new material was withdrawn before it signed; keeping the active signer');
      for (const pem of rootsOf(this.#pending.loaded)) this.#retireUnlessActive(fingerprint(pem), now);
      this.#pending = undefined;
      await this.#apply(this.#tidy(now), false);
      return 'roots-changed';
    }
    if (this.#pending?.digest === digest) return 'unchanged';
    if (signerOf(next) === signerOf(this.#active)) {
      // Same signer, new chain or roots (e.g. a second root added for a coming rotation).
      const before = new Set(rootsOf(this.#active).map(fingerprint));
      this.#active = next;
      this.#activeDigest = digest;
      const added = this.#trust(rootsOf(next), now);
      for (const fp of before) if (!rootsOf(next).some((p) => fingerprint(p) === fp)) this.#retire(fp, now);
      this.#opts.log.info({ added, source: next.source }, 'CA: the signer\'s root bundle changed');
      await this.#apply(true, false);
      return 'roots-changed';
    }
    if (this.#pending) for (const pem of rootsOf(this.#pending.loaded)) this.#retireUnlessActive(fingerprint(pem), now);
    const roots = rootsOf(next);
    const added = this.#trust(roots, now);
    const switchAt = Math.max(...roots.map((p) => this.#trusted.get(fingerprint(p))!.since + this.#opts.spreadMs));
    this.#pending = { loaded: next, digest, switchAt };
    this.#opts.log.info({ source: next.source, newRoots: added, switchInMs: Math.max(0, switchAt - now) }, 'CA: new signing material; its roots are trusted first, it signs once they have spread');
    await this.#apply(true, false);
    if (switchAt <= now) {
      await this.tick();
      return 'switched';
    }
    return 'spreading';
  }

  /** Switches a pending signer whose spread is over and retires expired roots. */
  async tick(): Promise<void> {
    const now = this.#now();
    let signerChanged = false;
    if (this.#pending && now >= this.#pending.switchAt) {
      const old = this.#active;
      this.#active = this.#pending.loaded;
      this.#activeDigest = this.#pending.digest;
      this.#pending = undefined;
      const keep = new Set(rootsOf(this.#active).map(fingerprint));
      for (const pem of rootsOf(old)) {
        const fp = fingerprint(pem);
        if (!keep.has(fp)) this.#retire(fp, now);
      }
      for (const fp of keep) delete this.#trusted.get(fp)!.retireAt;
      this.#latestNotAfter = 0;
      signerChanged = true;
      this.#events.inc({ event: 'signer_switched' });
      this.#opts.log.info({ source: this.#active.source }, 'CA: switched to the new signer; the old roots stay trusted until its leaves expire');
    }
    const retired = this.#tidy(now);
    if (signerChanged || retired) await this.#apply(retired || signerChanged, signerChanged);
  }

  /** Adds roots (those already trusted keep their `since` and stop retiring); returns how many were new. */
  #trust(pems: readonly string[], now: number): number {
    let added = 0;
    for (const pem of pems) {
      const fp = fingerprint(pem);
      const t = this.#trusted.get(fp);
      if (t) delete t.retireAt;
      else {
        this.#trusted.set(fp, { pem, since: now });
        this.#events.inc({ event: 'trust_added' });
        added++;
      }
    }
    return added;
  }

  #retire(fp: string, now: number): void {
    const t = this.#trusted.get(fp);
    if (t && t.retireAt === undefined) t.retireAt = Math.max(now + this.#opts.retireMs, this.#latestNotAfter);
  }

  #retireUnlessActive(fp: string, now: number): void {
    if (rootsOf(this.#active).some((p) => fingerprint(p) === fp)) return;
    const t = this.#trusted.get(fp);
    if (t) t.retireAt = now;
  }

  /** Drops roots whose retirement is due; true when one left. */
  #tidy(now: number): boolean {
    let left = false;
    for (const [fp, t] of this.#trusted) {
      if (t.retireAt !== undefined && t.retireAt <= now) {
        this.#trusted.delete(fp);
        this.#events.inc({ event: 'root_retired' });
        this.#opts.log.info({ root: fp }, 'CA: retired a root from the trust bundle');
        left = true;
      }
    }
    return left;
  }

  #noteIssued(pem: string): void {
    const first = splitPemCertificates(pem)[0];
    if (first) this.#latestNotAfter = Math.max(this.#latestNotAfter, Date.parse(new X509Certificate(first).validTo));
  }

  async #apply(bundleChanged: boolean, signerChanged: boolean): Promise<void> {
    await this.#rebuild();
    for (const l of this.#listeners) l({ bundleChanged, signerChanged });
  }

  async #rebuild(): Promise<void> {
    const active = new Set(rootsOf(this.#active).map(fingerprint));
    const ordered = [...this.#trusted.entries()].sort(([a, x], [b, y]) => Number(active.has(b)) - Number(active.has(a)) || x.since - y.since);
    this.#bundle = ordered.map(([, t]) => t.pem).join('');
    this.#ca = await CertificateAuthority.create({ ...this.#active.material, rootsPem: this.#bundle });
    this.#trustedGauge.set({}, ordered.length);
    const root = rootsOf(this.#active)[0];
    if (root) this.#rootExpiry.set({}, Math.floor(Date.parse(new X509Certificate(root).validTo) / 1000));
  }
}
