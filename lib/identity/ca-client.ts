// The client for Istio's CA (`istio.v1.auth.IstioCertificateService/CreateCertificate`, fact
// sheet §5), shared by ztunnel (impersonating the pods of its node) and the waypoint (its own
// identity): per identity a fresh P-256 key and CSR, one unary call with the caller's bearer token
// and cluster id, and a checked response turned into a WorkloadCertificate. Caching, refresh and
// backoff belong to SecretManager; this module only fetches, at most `maxConcurrent` at a time.
import { X509Certificate } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { createSecureContext } from 'node:tls';
import { Client, Metadata, credentials, experimental, status as grpcStatus, type ServiceError } from '@grpc/grpc-js';
import type { Counter } from '../metrics/registry.ts';
import { IMPERSONATED_IDENTITY, createCertificateMethod, structFromJson, type IstioCertificateRequest, type IstioCertificateResponse } from '../proto/index.ts';
import { workloadCertificateFromChain, type WorkloadCertificate } from './certificate.ts';
import { createCsr } from './csr.ts';
import { CertificateError } from './errors.ts';
import { uriSans } from './san.ts';
import { spiffeIdString } from './spiffe.ts';
import { splitPemCertificates } from './x509.ts';
import type { Issuer } from './secret-manager.ts';

/** Istio's SECRET_TTL default. */
export const DEFAULT_SECRET_TTL_SECONDS = 24 * 3600;
/** At most this many CreateCertificate calls run at once (ztunnel's limit). */
export const DEFAULT_MAX_CONCURRENT_FETCHES = 8;
export const DEFAULT_CA_TIMEOUT_MS = 10_000;

export type CaClientErrorCode =
  /** The CA could not be reached or did not answer in time (connection, TLS, deadline). */
  | 'unavailable'
  /** The CA answered with an error status (e.g. UNAUTHENTICATED when impersonation is refused). */
  | 'rejected'
  /** The CA answered, but the chain cannot be served (wrong identity, wrong key, no root, bad PEM). */
  | 'bad-response'
  /** The bearer token file cannot be read or is empty. */
  | 'token'
  /** The client was closed before or while the fetch ran. */
  | 'closed';

export class CaClientError extends Error {
  readonly code: CaClientErrorCode;
  /** The identity whose certificate was being fetched. */
  readonly identity: string;
  /** The gRPC status code the call ended with, when it ended with one. */
  readonly grpcCode: grpcStatus | undefined;

  constructor(code: CaClientErrorCode, identity: string, message: string, options?: ErrorOptions & { grpcCode?: grpcStatus }) {
    super(message, options);
    this.name = 'CaClientError';
    this.code = code;
    this.identity = identity;
    this.grpcCode = options?.grpcCode;
  }
}

export interface CaClientOptions {
  /** `https://host:port` (TLS, the default when no scheme is given) or `http://host:port` (plaintext, labs only). */
  address: string;
  /** PEM root bundle the CA's server certificate must chain to (CA_ROOT_CA); system roots when absent. */
  rootCaPem?: string;
  /** The same as a provider whose bundle may change (a reloaded root file); wins over rootCaPem. */
  rootCa?: experimental.CertificateProvider;
  /** Name to verify in the server certificate instead of the address host (ALT_CA_HOSTNAME). */
  serverName?: string;
  /** Requested certificate lifetime in seconds (SECRET_TTL). */
  ttlSeconds?: number;
  /** Projected service account token, re-read for every call; no `authorization` header when absent. */
  tokenPath?: string;
  /** Sent as the `clusterid` header; omitted when absent. */
  clusterId?: string;
  /** Extra metadata on every call (CA_HEADER_<name>). */
  headers?: Readonly<Record<string, string>>;
  /** Ask for other identities via ImpersonatedIdentity (shared node proxy). False in dedicated mode. */
  impersonate?: boolean;
  /** Deadline of each CreateCertificate call. */
  timeoutMs?: number;
  maxConcurrent?: number;
  /** Counts calls by `result`: `ok` or a CaClientErrorCode. */
  requests?: Counter;
}

export interface CaClient {
  issuer: Issuer;
  /** Fails queued and running fetches with code `closed` and closes the channel. */
  close(): void;
}

export interface CaTarget {
  /** grpc-js target, `host:port`. */
  target: string;
  tls: boolean;
}

/** Pure: where and how to connect for a CA_ADDRESS value. Throws TypeError on a malformed address. */
export function parseCaAddress(address: string): CaTarget {
  const withScheme = /^[a-z][a-z0-9+.-]*:\/\//i.test(address) ? address : `https://${address}`;
  let url: URL;
  try {
    url = new URL(withScheme);
  } catch {
    throw new TypeError(`CA address is not a URL: ${JSON.stringify(address)}`);
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new TypeError(`CA address scheme must be http or https: ${address}`);
  if (!url.hostname) throw new TypeError(`CA address has no host: ${address}`);
  const tls = url.protocol === 'https:';
  // URL drops a port equal to the scheme default, so put it back: grpc-js would otherwise use 443.
  return { target: `${url.hostname}:${url.port || (tls ? '443' : '80')}`, tls };
}

/** Pure: the request for one identity (fact sheet §5.2); impersonation only for a shared node proxy. */
export function buildCertificateRequest(identity: string, csrPem: string, opts: { ttlSeconds: number; impersonate: boolean }): IstioCertificateRequest {
  return {
    csr: csrPem,
    validityDuration: opts.ttlSeconds,
    ...(opts.impersonate ? { metadata: structFromJson({ [IMPERSONATED_IDENTITY]: identity }) } : {}),
  };
}

/** Pure: whether a failed call means "could not reach the CA" or "the CA said no". */
export function classifyStatus(code: grpcStatus): 'unavailable' | 'rejected' {
  switch (code) {
    case grpcStatus.UNAVAILABLE:
    case grpcStatus.DEADLINE_EXCEEDED:
    case grpcStatus.CANCELLED:
    case grpcStatus.RESOURCE_EXHAUSTED:
      return 'unavailable';
    default:
      return 'rejected';
  }
}

/**
 * Checks a CreateCertificate response against what was asked for and builds the bundle: at least a
 * leaf and a root bundle; the leaf's only URI SAN is the requested identity; the leaf holds our
 * key; every element parses; each certificate is signed by the next, the last by one of the roots.
 * Throws CaClientError `bad-response`.
 */
export function certificateFromResponse(identity: string, keyPem: string, certChain: readonly string[]): WorkloadCertificate {
  const bad = (message: string, cause?: unknown): CaClientError =>
    new CaClientError('bad-response', identity, `CA response for ${identity}: ${message}`, cause === undefined ? undefined : { cause });
  let cert: WorkloadCertificate;
  try {
    cert = workloadCertificateFromChain(identity, keyPem, certChain);
  } catch (err) {
    if (err instanceof CertificateError) throw bad(err.message, err);
    throw err;
  }
  let chain: X509Certificate[];
  let roots: X509Certificate[];
  try {
    chain = cert.certChainPem.map((pem) => new X509Certificate(pem));
    roots = splitPemCertificates(cert.rootsPem).map((pem) => new X509Certificate(pem));
  } catch (err) {
    throw bad('a certificate in cert_chain cannot be parsed', err);
  }
  const leaf = chain[0]!;
  // Peers take the first URI SAN as our identity, so a second one (even a SPIFFE id) is refused.
  const uris = uriSans(leaf);
  if (uris.length !== 1 || uris[0] !== identity) throw bad(`leaf URI SANs [${uris.join(', ')}] are not exactly the requested ${identity}`);
  for (let i = 0; i + 1 < chain.length; i++) {
    if (!issuedBy(chain[i]!, chain[i + 1]!)) throw bad(`cert_chain[${i}] is not signed by cert_chain[${i + 1}]`);
  }
  const top = chain[chain.length - 1]!;
  if (!roots.some((r) => r.fingerprint256 === top.fingerprint256 || issuedBy(top, r))) {
    throw bad('the chain does not lead to any certificate of the root bundle');
  }
  return cert;
}

function issuedBy(cert: X509Certificate, issuer: X509Certificate): boolean {
  return cert.checkIssued(issuer) && cert.verify(issuer.publicKey);
}

/** FIFO admission of at most `max` concurrent tasks. */
class Limiter {
  readonly #max: number;
  #active = 0;
  readonly #waiting: Array<{ resolve: () => void; reject: (err: Error) => void }> = [];

  constructor(max: number) {
    this.#max = max;
  }

  acquire(): Promise<void> {
    if (this.#active < this.#max) {
      this.#active++;
      return Promise.resolve();
    }
    return new Promise((resolve, reject) => this.#waiting.push({ resolve, reject }));
  }

  /** Hands the slot to the next waiter, if any. */
  release(): void {
    const next = this.#waiting.shift();
    if (next) next.resolve();
    else this.#active--;
  }

  /** Fails every waiter; they never held a slot, so they must not release one. */
  rejectWaiting(err: Error): void {
    for (const w of this.#waiting.splice(0)) w.reject(err);
  }
}

export function createCaIssuer(opts: CaClientOptions): CaClient {
  const { target, tls } = parseCaAddress(opts.address);
  const ttlSeconds = opts.ttlSeconds ?? DEFAULT_SECRET_TTL_SECONDS;
  if (!(ttlSeconds > 0)) throw new TypeError(`CA client ttlSeconds must be positive, got ${ttlSeconds}`);
  const impersonate = opts.impersonate ?? true;
  const timeoutMs = opts.timeoutMs ?? DEFAULT_CA_TIMEOUT_MS;
  // A provider's bundle applies to each new connection (a rotated root); open calls stay up.
  const creds = tls && opts.rootCa
    ? experimental.createCertificateProviderChannelCredentials(opts.rootCa, null)
    : tls
    ? credentials.createFromSecureContext(createSecureContext({ minVersion: 'TLSv1.3', ...(opts.rootCaPem ? { ca: opts.rootCaPem } : {}) }))
    : credentials.createInsecure();
  const client = new Client(target, creds, {
    // Same liveness settings as the control-plane channel (fact sheet §4.1).
    'grpc.keepalive_time_ms': 30_000,
    'grpc.keepalive_timeout_ms': 10_000,
    ...(opts.serverName ? { 'grpc.ssl_target_name_override': opts.serverName, 'grpc.default_authority': opts.serverName } : {}),
  });
  const limiter = new Limiter(opts.maxConcurrent ?? DEFAULT_MAX_CONCURRENT_FETCHES);
  const running = new Set<{ cancel(): void }>();
  let closed = false;

  const closedError = (identity: string): CaClientError => new CaClientError('closed', identity, `CA client closed; no certificate for ${identity}`);

  async function metadataFor(identity: string): Promise<Metadata> {
    const md = new Metadata();
    if (opts.tokenPath) {
      let token: string;
      try {
        token = (await readFile(opts.tokenPath, 'utf8')).trim();
      } catch (err) {
        throw new CaClientError('token', identity, `cannot read CA token ${opts.tokenPath}: ${(err as Error).message}`, { cause: err });
      }
      if (!token) throw new CaClientError('token', identity, `CA token file ${opts.tokenPath} is empty`);
      md.set('authorization', `Bearer ${token}`);
    }
    if (opts.clusterId) md.set('clusterid', opts.clusterId);
    for (const [k, v] of Object.entries(opts.headers ?? {})) md.set(k, v);
    return md;
  }

  function call(identity: string, request: IstioCertificateRequest, md: Metadata): Promise<IstioCertificateResponse> {
    return new Promise((resolve, reject) => {
      const m = createCertificateMethod;
      const handle = client.makeUnaryRequest(
        m.path,
        m.requestSerialize,
        m.responseDeserialize,
        request,
        md,
        { deadline: Date.now() + timeoutMs },
        (err: ServiceError | null, res?: IstioCertificateResponse) => {
          running.delete(handle);
          if (err) {
            if (closed) return reject(closedError(identity));
            const code = classifyStatus(err.code);
            const what = code === 'unavailable' ? `CA ${opts.address} unavailable` : `CA ${opts.address} refused the certificate`;
            return reject(new CaClientError(code, identity, `${what} for ${identity}: ${grpcStatus[err.code]}: ${err.details}`, { cause: err, grpcCode: err.code }));
          }
          if (!res) return reject(new CaClientError('bad-response', identity, `CA ${opts.address} sent no response message for ${identity}`));
          resolve(res);
        },
      );
      running.add(handle);
    });
  }

  async function fetch(identity: string): Promise<WorkloadCertificate> {
    const id = spiffeIdString(identity);
    if (closed) throw closedError(id);
    await limiter.acquire().catch(() => {
      throw closedError(id);
    });
    try {
      if (closed) throw closedError(id);
      const { keyPem, csrPem } = await createCsr(id);
      const md = await metadataFor(id);
      if (closed) throw closedError(id);
      const res = await call(id, buildCertificateRequest(id, csrPem, { ttlSeconds, impersonate }), md);
      return certificateFromResponse(id, keyPem, res.certChain);
    } finally {
      limiter.release();
    }
  }

  const issuer: Issuer = async (identity) => {
    try {
      const cert = await fetch(identity);
      opts.requests?.inc({ result: 'ok' });
      return cert;
    } catch (err) {
      opts.requests?.inc({ result: err instanceof CaClientError ? err.code : 'error' });
      throw err;
    }
  };

  return {
    issuer,
    close() {
      if (closed) return;
      closed = true;
      limiter.rejectWaiting(new Error('closed'));
      for (const h of running) h.cancel();
      client.close();
    },
  };
}
