// The waypoint's /config_dump in Envoy's shape (envoy.admin.v3.ConfigDump as proto3 JSON with
// snake_case names): listeners, clusters, route configurations and endpoints, each dynamic resource
// with its active_state (or, for clusters, the active entry) and, when the last update of it was
// refused, Envoy's error_state (failed_configuration, last_update_attempt, details).
import {
  CLUSTER_TYPE_URL,
  clusterCodec,
  clusterLoadAssignmentCodec,
  ENDPOINT_TYPE_URL,
  LISTENER_TYPE_URL,
  listenerCodec,
  ROUTE_TYPE_URL,
  routeConfigurationCodec,
  toEnvoyJson,
  type JsonValue,
  type MessageCodec,
} from '../../../lib/proto/index.ts';
import type { EnvoyKind } from './compile.ts';
import type { FailedResource, ResourceTable, ResourceTables } from './resources.ts';

type JsonObject = { [key: string]: JsonValue };

const ADMIN = 'type.googleapis.com/envoy.admin.v3.';

function typed(typeUrl: string, codec: MessageCodec<unknown>, message: unknown): JsonObject {
  return { '@type': typeUrl, ...toEnvoyJson(codec, message) };
}

function errorState(f: FailedResource | undefined, typeUrl: string, codec: MessageCodec<unknown>): JsonObject {
  if (!f) return {};
  const failed: JsonObject = f.message !== undefined ? typed(typeUrl, codec, f.message) : { '@type': f.any.typeUrl, value: Buffer.from(f.any.value).toString('base64') };
  return { error_state: { failed_configuration: failed, last_update_attempt: f.lastUpdateAttempt.toISOString(), details: f.details } };
}

/** Every name with an active version or a refusal, sorted, with both. */
function entries<K extends EnvoyKind>(t: ResourceTable<K>) {
  const names = [...new Set([...t.active.keys(), ...t.failed.keys()])].sort();
  return names.map((name) => ({ name, active: t.active.get(name), failed: t.failed.get(name) }));
}

export function configDump(tables: ResourceTables): { configs: JsonObject[] } {
  const lc = listenerCodec as MessageCodec<unknown>;
  const cc = clusterCodec as MessageCodec<unknown>;
  const rc = routeConfigurationCodec as MessageCodec<unknown>;
  const ec = clusterLoadAssignmentCodec as MessageCodec<unknown>;
  const { listener: listeners, cluster: clusters, route: routes, endpoint: endpoints } = tables;
  return {
    configs: [
      {
        '@type': `${ADMIN}ListenersConfigDump`,
        version_info: listeners.versionInfo,
        dynamic_listeners: entries(listeners).map(({ name, active, failed }) => ({
          name,
          ...(active ? { active_state: { version_info: active.version, listener: typed(LISTENER_TYPE_URL, lc, active.message), last_updated: active.lastUpdated.toISOString() } } : {}),
          ...errorState(failed, LISTENER_TYPE_URL, lc),
        })),
      },
      {
        '@type': `${ADMIN}ClustersConfigDump`,
        version_info: clusters.versionInfo,
        dynamic_active_clusters: entries(clusters).map(({ active, failed }) => ({
          ...(active ? { version_info: active.version, cluster: typed(CLUSTER_TYPE_URL, cc, active.message), last_updated: active.lastUpdated.toISOString() } : {}),
          ...errorState(failed, CLUSTER_TYPE_URL, cc),
        })),
      },
      {
        '@type': `${ADMIN}RoutesConfigDump`,
        dynamic_route_configs: entries(routes).map(({ active, failed }) => ({
          ...(active ? { version_info: active.version, route_config: typed(ROUTE_TYPE_URL, rc, active.message), last_updated: active.lastUpdated.toISOString() } : {}),
          ...errorState(failed, ROUTE_TYPE_URL, rc),
        })),
      },
      {
        '@type': `${ADMIN}EndpointsConfigDump`,
        dynamic_endpoint_configs: entries(endpoints).map(({ active, failed }) => ({
          ...(active ? { version_info: active.version, endpoint_config: typed(ENDPOINT_TYPE_URL, ec, active.message), last_updated: active.lastUpdated.toISOString() } : {}),
          ...errorState(failed, ENDPOINT_TYPE_URL, ec),
        })),
      },
    ],
  };
}
