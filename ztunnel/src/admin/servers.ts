// ztunnel's operational endpoints (Istio's ports): admin on localhost:15000 (/config_dump,
// /logging), Prometheus on 15020 (/metrics, /stats/prometheus), readiness on 15021 (/healthz/ready).
import { json, startOpsServer, text, type OpsServer } from '../../../lib/admin/http-server.ts';
import { isLevel, type Logger } from '../../../lib/log/logger.ts';
import { PROMETHEUS_CONTENT_TYPE, type Registry } from '../../../lib/metrics/registry.ts';

export interface OpsPorts {
  admin: { host: string; port: number };
  metrics: { host: string; port: number };
  readiness: { host: string; port: number };
}

export const ISTIO_OPS_PORTS: OpsPorts = {
  admin: { host: '127.0.0.1', port: 15000 },
  metrics: { host: '0.0.0.0', port: 15020 },
  readiness: { host: '0.0.0.0', port: 15021 },
};

export interface OpsInputs {
  log: Logger;
  registry: Registry;
  configDump: () => Record<string, unknown>;
  /** Why the proxy is not ready yet; empty when ready. */
  notReady: () => string[];
}

export async function startOpsServers(ports: OpsPorts, i: OpsInputs): Promise<{ servers: OpsServer[]; close(): Promise<void> }> {
  const onError = (err: Error) => i.log.error({ err: err.message }, 'admin handler failed');
  const metrics = () => ({ contentType: PROMETHEUS_CONTENT_TYPE, body: i.registry.render() });
  const servers = [
    await startOpsServer(ports.admin.host, ports.admin.port, {
      '/config_dump': () => json(i.configDump()),
      '/logging': (req, url) => {
        const level = url.searchParams.get('level');
        if (req.method === 'POST' && level) {
          if (!isLevel(level)) return text(`unknown level ${level}\n`, 400);
          i.log.level = level;
        }
        return text(`current log level is ${i.log.level}\n`);
      },
    }, onError),
    await startOpsServer(ports.metrics.host, ports.metrics.port, { '/metrics': metrics, '/stats/prometheus': metrics }, onError),
    await startOpsServer(ports.readiness.host, ports.readiness.port, {
      '/healthz/ready': () => {
        const why = i.notReady();
        return why.length ? text(`not ready: ${why.join('; ')}\n`, 503) : text('ready\n');
      },
    }, onError),
  ];
  return { servers, close: async () => void (await Promise.all(servers.map((s) => s.close()))) };
}
