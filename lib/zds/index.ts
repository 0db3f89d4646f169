// lib/zds: Istio's ZDS protocol (node agent → ztunnel over unix SOCK_SEQPACKET, one protobuf message
// per datagram of at most 1 KiB, the pod netns fd as SCM_RIGHTS on AddWorkload): the message codec
// and the agent-side server. ztunnel's side lives in ztunnel/src/inpod.
export {
  checkRequestDatagram,
  decodeAck,
  decodeHello,
  decodeRequest,
  encodeAck,
  encodeHello,
  encodeRequest,
  ZDS_MAX_MESSAGE_BYTES,
  type ZdsRequest,
  type ZdsResult,
  type ZdsWorkloadInfo,
} from './codec.ts';
export { ZdsError, type ZdsErrorCode } from './errors.ts';
export { ZdsServer, type ZdsPeerRefusal, type ZdsServerOptions } from './server.ts';
export { ZdsServerConnection, type ZdsConnectionState, type ZdsSnapshotEntry } from './server-connection.ts';

/** Istio's default socket path (ztunnel env INPOD_UDS; agent flag ztunnel-uds-address). */
export const DEFAULT_ZDS_PATH = '/var/run/ztunnel/ztunnel.sock';
