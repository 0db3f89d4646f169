// lib/xds: the delta ADS client side of xDS (the client and the pure request/version planning it
// uses). Resource meaning lives with each component's handlers.
export {
  DeltaXdsClient,
  type DeltaXdsClientOptions,
  type DeltaXdsClientState,
  type DeltaXdsClientStats,
  type XdsApplyResult,
  type XdsBackoffOptions,
  type XdsHandler,
  type XdsResource,
  type XdsUpdate,
} from './delta-client.ts';
export { ackRequest, NACK_STATUS_CODE, nackMessage, nextVersions, parseXdsAddress, subscribeRequest, type XdsAddressResult, type XdsEndpoint, type XdsRejection } from './delta-requests.ts';
