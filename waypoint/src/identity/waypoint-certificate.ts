// The waypoint's one workload certificate (its own service account, no impersonation, like
// ztunnel's PROXY_MODE=dedicated): fetched at start, retried with backoff until the CA answers,
// refreshed at half-life, the still-valid one kept in use while a refresh fails.
import { RootBundleFile } from '../../../lib/identity/root-bundle-file.ts';
import { createCaIssuer, parseCaAddress, type CaClient } from '../../../lib/identity/ca-client.ts';
import type { WorkloadCertificate } from '../../../lib/identity/index.ts';
import { SecretManager, type CertificateDumpEntry, type Issuer } from '../../../lib/identity/secret-manager.ts';
import type { Logger } from '../../../lib/log/logger.ts';
import type { Registry } from '../../../lib/metrics/registry.ts';

export interface WaypointCertificate {
  readonly identity: string;
  /** The valid certificate in hand, or undefined (not fetched yet, or expired and not renewed). */
  current(): WorkloadCertificate | undefined;
  /** Resolves with the first certificate (however many retries it takes); rejects only on close. */
  first(): Promise<WorkloadCertificate>;
  /** For /config_dump. */
  dump(): CertificateDumpEntry[];
  close(): void;
}

export interface CaSettings {
  caAddress: string;
  /** `SYSTEM` = the system roots; only read for an https CA. */
  caRootCaPath: string;
  altCaHostname?: string;
  authTokenPath: string;
  clusterId: string;
  secretTtlS: number;
}

/** The CA client for the waypoint's own identity. Throws when the root bundle cannot be read. */
export function waypointCaClient(s: CaSettings, registry: Registry): CaClient {
  const useRoots = parseCaAddress(s.caAddress).tls && s.caRootCaPath !== 'SYSTEM';
  // Re-read while running, so a rotated root reaches new CA connections.
  let rootCa: RootBundleFile | undefined;
  if (useRoots) {
    try {
      rootCa = new RootBundleFile(s.caRootCaPath);
    } catch (err) {
      throw new Error(`CA_ROOT_CA ${s.caRootCaPath}: cannot read the CA's root certificate: ${(err as Error).message}`, { cause: err });
    }
  }
  return createCaIssuer({
    address: s.caAddress,
    ...(rootCa ? { rootCa } : {}),
    ...(s.altCaHostname ? { serverName: s.altCaHostname } : {}),
    ttlSeconds: s.secretTtlS,
    tokenPath: s.authTokenPath,
    clusterId: s.clusterId,
    impersonate: false,
    maxConcurrent: 1,
    requests: registry.counter('waypoint_ca_requests_total', 'CreateCertificate calls to the CA by result', ['result']),
  });
}

export function startWaypointCertificate(opts: { identity: string; issuer: Issuer; log: Logger }): WaypointCertificate {
  const { identity, log } = opts;
  let resolveFirst!: (c: WorkloadCertificate) => void;
  let rejectFirst!: (e: Error) => void;
  const firstCert = new Promise<WorkloadCertificate>((resolve, reject) => {
    resolveFirst = resolve;
    rejectFirst = reject;
  });
  // Nobody may be waiting for it when close() rejects it.
  firstCert.catch(() => {});
  let have = false;
  // Every fetch, the retries and refreshes SecretManager schedules included, passes here.
  const issuer: Issuer = async (id) => {
    const cert = await opts.issuer(id);
    log.info({ identity: id, notAfter: cert.notAfter.toISOString() }, have ? 'certificate refreshed' : 'certificate issued');
    have = true;
    resolveFirst(cert);
    return cert;
  };
  const secrets = new SecretManager(issuer, (id, err) =>
    log.warn({ identity: id, err: err.message, valid: secrets.current(id) !== undefined }, 'certificate fetch failed; retrying with backoff'),
  );
  secrets.prefetch(identity);
  return {
    identity,
    current: () => secrets.current(identity),
    first: () => firstCert,
    dump: () => secrets.dump(),
    close() {
      rejectFirst(new Error('closed before a certificate was issued'));
      secrets.close();
    },
  };
}
