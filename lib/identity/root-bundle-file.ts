// A root bundle file (CA_ROOT_CA / XDS_ROOT_CA: the mounted `istio-ca-root-cert` ConfigMap) kept
// fresh while the process runs: re-read every `pollMs`, and when its certificates change (a root
// rotation adds the new root, later drops the old) the new bundle is handed to every listener. It
// is a grpc-js certificate provider, so channels built on it verify new connections against the
// current bundle while open streams stay up. A bundle that stops parsing is refused (counted and
// logged) and the last good one stays in force.
import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { experimental } from '@grpc/grpc-js';
import type { Counter } from '../metrics/registry.ts';
import { splitPemCertificates } from './x509.ts';

type CaListener = experimental.CaCertificateUpdateListener;

export interface RootBundleFileOptions {
  /** How often the file is re-read (1 s). */
  pollMs?: number;
  /** Reloads by result (`changed`, `invalid`, `unreadable`). */
  reloads?: Counter;
  log?: { info(o: object, msg: string): void; warn(o: object, msg: string): void };
}

/** The certificates of a PEM bundle, each parsed; throws when there is none or one does not parse. */
export function parseRootBundle(pem: string): X509Certificate[] {
  const certs = splitPemCertificates(pem).map((c) => new X509Certificate(c));
  if (certs.length === 0) throw new Error('no PEM certificate in the bundle');
  return certs;
}

const fingerprints = (certs: readonly X509Certificate[]) => certs.map((c) => c.fingerprint256).join(',');

export class RootBundleFile implements experimental.CertificateProvider {
  readonly path: string;
  readonly #opts: RootBundleFileOptions;
  readonly #caListeners = new Set<CaListener>();
  readonly #changeListeners = new Set<(pem: string) => void>();
  #pem: string;
  #fingerprints: string;
  #lastRefusal = '';
  readonly #timer: NodeJS.Timeout;

  /** Reads the file now (throws when it is missing or holds no valid certificate) and starts polling. */
  constructor(path: string, opts: RootBundleFileOptions = {}) {
    this.path = path;
    this.#opts = opts;
    this.#pem = readFileSync(path, 'utf8');
    this.#fingerprints = fingerprints(parseRootBundle(this.#pem));
    this.#timer = setInterval(() => this.reload(), opts.pollMs ?? 1000);
    this.#timer.unref();
  }

  /** The bundle in force (PEM). */
  get pem(): string {
    return this.#pem;
  }

  /** Calls `listener` with the new bundle after each change. */
  onChange(listener: (pem: string) => void): () => void {
    this.#changeListeners.add(listener);
    return () => this.#changeListeners.delete(listener);
  }

  /** Re-reads the file; returns true when the bundle changed. */
  reload(): boolean {
    let text: string;
    try {
      text = readFileSync(this.path, 'utf8');
    } catch (err) {
      this.#refuse('unreadable', (err as Error).message);
      return false;
    }
    if (text === this.#pem) return false;
    let fp: string;
    try {
      fp = fingerprints(parseRootBundle(text));
    } catch (err) {
      this.#refuse('invalid', (err as Error).message);
      return false;
    }
    this.#pem = text;
    this.#lastRefusal = '';
    if (fp === this.#fingerprints) return false;
    this.#fingerprints = fp;
    this.#opts.reloads?.inc({ result: 'changed' });
    this.#opts.log?.info({ path: this.path, roots: fp.split(',').length }, 'root bundle reloaded');
    const update = { caCertificate: Buffer.from(text) };
    for (const l of this.#caListeners) l(update);
    for (const l of this.#changeListeners) l(text);
    return true;
  }

  close(): void {
    clearInterval(this.#timer);
  }

  addCaCertificateListener(listener: CaListener): void {
    this.#caListeners.add(listener);
    // After the caller's own registration (grpc-js subscribes before it starts watching).
    queueMicrotask(() => {
      if (this.#caListeners.has(listener)) listener({ caCertificate: Buffer.from(this.#pem) });
    });
  }

  removeCaCertificateListener(listener: CaListener): void {
    this.#caListeners.delete(listener);
  }

  addIdentityCertificateListener(): void {}
  removeIdentityCertificateListener(): void {}

  /** Counted and logged once per distinct problem, not every poll. */
  #refuse(result: 'invalid' | 'unreadable', message: string): void {
    if (this.#lastRefusal === `${result}:${message}`) return;
    this.#lastRefusal = `${result}:${message}`;
    this.#opts.reloads?.inc({ result });
    this.#opts.log?.warn({ path: this.path, result, err: message }, 'root bundle not reloaded; keeping the last good one');
  }
}
