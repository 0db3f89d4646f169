// The one list of .proto files lib/proto speaks: the generator (scripts/gen-proto.ts) makes types
// for these and everything they import; the run-time loader (loader.ts) parses the same files.
// Istio's are our own copies (./protos); Envoy's, xDS's, validate's and googleapis' come from the
// raw trees the @grpc/grpc-js-xds package ships.
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Our .proto sources, relative to PROTO_DIR. */
export const PROTO_DIR = fileURLToPath(new URL('./protos/', import.meta.url));

/** Proto trees of @grpc/grpc-js-xds, as import roots, in lookup order. */
export const XDS_DEPS_DIR = join(dirname(createRequire(import.meta.url).resolve('@grpc/grpc-js-xds/package.json')), 'deps');
export const XDS_DEPS_ROOTS = ['envoy-api', 'xds', 'googleapis', 'protoc-gen-validate'] as const;

/** What ztunnel, the CNI and the CA need: loaded at first use of any codec. */
export const CORE_PROTO_FILES = [
  'istio/workload/workload.proto',
  'istio/security/authorization.proto',
  'istio/workload/zds/zds.proto',
  'istio/v1/auth/ca.proto',
  'envoy/service/discovery/v3/discovery.proto',
  'envoy/service/discovery/v3/ads.proto',
  'google/rpc/status.proto',
] as const;

/** Envoy's listener/route/cluster/endpoint API and the extensions a waypoint configures: loaded at first use of an Envoy codec. */
export const ENVOY_PROTO_FILES = [
  'envoy/config/listener/v3/listener.proto',
  'envoy/config/route/v3/route.proto',
  'envoy/config/cluster/v3/cluster.proto',
  'envoy/config/endpoint/v3/endpoint.proto',
  'envoy/config/core/v3/address.proto',
  'envoy/config/core/v3/base.proto',
  'envoy/config/rbac/v3/rbac.proto',
  'envoy/extensions/filters/network/http_connection_manager/v3/http_connection_manager.proto',
  'envoy/extensions/filters/network/tcp_proxy/v3/tcp_proxy.proto',
  'envoy/extensions/filters/http/router/v3/router.proto',
  'envoy/extensions/filters/http/rbac/v3/rbac.proto',
  'envoy/extensions/filters/http/fault/v3/fault.proto',
  'envoy/extensions/filters/http/cors/v3/cors.proto',
  'envoy/extensions/upstreams/http/v3/http_protocol_options.proto',
  'envoy/extensions/transport_sockets/tls/v3/tls.proto',
  'envoy/extensions/transport_sockets/internal_upstream/v3/internal_upstream.proto',
  'envoy/extensions/bootstrap/internal_listener/v3/internal_listener.proto',
  'envoy/admin/v3/config_dump.proto',
  'envoy/type/matcher/v3/string.proto',
  'envoy/type/matcher/v3/regex.proto',
] as const;

export const PROTO_FILES = [...CORE_PROTO_FILES, ...ENVOY_PROTO_FILES] as const;
