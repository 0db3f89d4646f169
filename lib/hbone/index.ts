// Public surface of lib/hbone: the HBONE server, the client pool, byte copy and errors.
export { createHboneServer, HboneServer, type HboneServerOptions, type ServerEvent, type SocketAddress, type TunnelDecision, type TunnelRequest } from './server.ts';
export { HbonePool, poolKeyString, type ConnectRequest, type HbonePoolOptions, type PoolKey, type PoolStats, type Tunnel } from './pool.ts';
export { dialHbone, openTunnel, type DialOptions, type HboneClientConnection, type OpenedTunnel, type OpenTunnelOptions } from './client.ts';
export { copyBidirectional, resetStream, type CopyHandle, type CopyResult, type CopyStats } from './copy.ts';
export { authorityToString, formatAuthority, parseAuthority, type Authority, type AuthorityParseResult } from './authority.ts';
export { buildConnectHeaders, decideConnect, formatForwarded, newTraceparent, type ConnectDecision, type ConnectHeaders } from './connect-request.ts';
export { checkClientIdentity, checkServerIdentity, peerCertificateIdentity, type PeerDecision } from './peer-verify.ts';
export { HboneError, type HboneErrorCode } from './errors.ts';
export * from './settings.ts';
