// `/config_dump` of ztunnel's admin port, shaped like Istio's: workloads, services, policies (the
// flattened proxy state), certificates, and the static config and version.
import type { CertificateDumpEntry } from '../../../lib/identity/secret-manager.ts';
import type { ProxyState } from '../state/proxy-state.ts';
import { workloadIdentity } from '../state/types.ts';

export interface ConfigDumpInputs {
  state: ProxyState;
  certificates: () => CertificateDumpEntry[];
  staticConfig: Record<string, unknown>;
  version: string;
}

export function configDump(i: ConfigDumpInputs): Record<string, unknown> {
  return {
    workloads: i.state.workloads().map((w) => ({ ...w, identity: workloadIdentity(w) })),
    services: i.state.services().map((s) => ({ ...s, endpoints: i.state.serviceEndpoints(`${s.namespace}/${s.hostname}`).map((w) => w.uid) })),
    policies: i.state.policies(),
    certificates: i.certificates(),
    staticConfig: i.staticConfig,
    version: i.version,
  };
}
