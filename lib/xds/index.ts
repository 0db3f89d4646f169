// lib/xds: delta ADS, both sides: the client (and the pure request/version planning it uses) and the
// server (and its pure subscription/diff planning and push debouncer). Resource meaning lives with
// each component's handlers and stores.
export {
  DeltaXdsClient,
  type DeltaXdsClientOptions,
  type DeltaXdsClientState,
  type DeltaXdsClientStats,
  type XdsApplyResult,
  type XdsBackoffOptions,
  type XdsHandler,
  type XdsResource,
  type XdsResponseInfo,
  type XdsUpdate,
} from './delta-client.ts';
export { ackRequest, NACK_STATUS_CODE, nackMessage, nextVersions, parseXdsAddress, subscribeRequest, type XdsAddressResult, type XdsEndpoint, type XdsRejection } from './delta-requests.ts';
export {
  DeltaXdsServer,
  type DeltaXdsServerOptions,
  type ResourceStore,
  type XdsAuthContext,
  type XdsAuthResult,
  type XdsConnectionDump,
  type XdsProxy,
  type XdsServerDump,
  type XdsTypeDump,
} from './server.ts';
export { WILDCARD, type XdsSnapshot, type XdsStoredResource } from './server-watch.ts';
export { compositeStore } from './composite-store.ts';
export { tokenFileReader } from './token-file.ts';
export type { DebounceOptions } from './server-debounce.ts';
