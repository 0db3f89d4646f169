// The waypoint's operational endpoints on Istio's ports: admin on localhost:15000 (Envoy's
// /config_dump, /clusters, /stats/prometheus, /logging, /ready), Prometheus on 15020 (/metrics,
// /stats/prometheus) and readiness on 15021 (/healthz/ready, the pod's probe).
import { json, startOpsServer, text, type OpsServer } from '../../../lib/admin/http-server.ts';
import type { ListenAddress } from '../../../lib/config/env.ts';
import { isLevel, type Logger } from '../../../lib/log/logger.ts';
import { PROMETHEUS_CONTENT_TYPE, type Registry } from '../../../lib/metrics/registry.ts';
import type { WaypointConfig } from '../config/types.ts';
import { renderClusters, type HealthFlags } from './clusters.ts';

export interface OpsAddresses {
  admin: ListenAddress;
  stats: ListenAddress;
  readiness: ListenAddress;
}

export interface OpsInputs {
  log: Logger;
  registry: Registry;
  configDump: () => unknown;
  config: () => WaypointConfig | undefined;
  /** Why the waypoint is not ready (no certificate, no xDS sync, draining); empty when ready. */
  notReady: () => string[];
  draining: () => boolean;
  /** Runtime health of endpoints (outlier ejections) for /clusters; EDS health alone without it. */
  healthFlags?: HealthFlags;
}

export interface OpsServers {
  ports: { admin: number; stats: number; readiness: number };
  close(): Promise<void>;
}

export async function startOpsServers(addrs: OpsAddresses, i: OpsInputs): Promise<OpsServers> {
  const onError = (err: Error) => i.log.error({ err: err.message, stack: err.stack }, 'admin handler failed');
  const metrics = () => ({ contentType: PROMETHEUS_CONTENT_TYPE, body: i.registry.render() });
  const started: OpsServer[] = [];
  try {
    const admin = await startOpsServer(addrs.admin.host, addrs.admin.port, {
      '/config_dump': () => json(i.configDump()),
      '/clusters': () => text(renderClusters(i.config(), i.healthFlags)),
      '/stats/prometheus': metrics,
      '/logging': (req, url) => {
        const level = url.searchParams.get('level');
        if (level) {
          // Envoy changes levels on POST only; a GET shows them.
          if (req.method !== 'POST') return text('use POST to change the log level\n', 405);
          if (!isLevel(level)) return text(`unknown level ${level}\n`, 400);
          i.log.level = level;
          i.log.info({ level }, 'log level changed');
        }
        return text(`active loggers:\n  waypoint: ${i.log.level}\n`);
      },
      // Envoy's server states: LIVE, or why not.
      '/ready': () => (i.draining() ? text('DRAINING\n', 503) : i.notReady().length ? text('INITIALIZING\n', 503) : text('LIVE\n')),
    }, onError);
    started.push(admin);
    const stats = await startOpsServer(addrs.stats.host, addrs.stats.port, { '/metrics': metrics, '/stats/prometheus': metrics }, onError);
    started.push(stats);
    const readiness = await startOpsServer(addrs.readiness.host, addrs.readiness.port, {
      '/healthz/ready': () => {
        const why = i.notReady();
        return why.length ? text(`not ready: ${why.join('; ')}\n`, 503) : text('ready\n');
      },
    }, onError);
    started.push(readiness);
    return {
      ports: { admin: admin.port, stats: stats.port, readiness: readiness.port },
      close: async () => void (await Promise.all(started.map((s) => s.close()))),
    };
  } catch (err) {
    await Promise.all(started.map((s) => s.close()));
    throw err;
  }
}
