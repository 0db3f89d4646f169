// HBONE protocol constants (fact sheet §1.1, §1.3, §1.4). One place, so client and server agree and
// a reader can check them against ztunnel's defaults at a glance.
import type { Settings } from 'node:http2';

export const HBONE_PORT = 15008;
export const ALPN_H2 = 'h2';

/** TLS 1.3 AES-GCM suites only: ztunnel offers no ChaCha20. */
export const TLS13_CIPHERSUITES = 'TLS_AES_256_GCM_SHA384:TLS_AES_128_GCM_SHA256';

const KiB = 1024;
const MiB = 1024 * KiB;

export const STREAM_WINDOW_SIZE = 4 * MiB;
export const CONNECTION_WINDOW_SIZE = 16 * MiB;
export const MAX_FRAME_SIZE = 1 * MiB;
export const SERVER_MAX_CONCURRENT_STREAMS = 200;
/** POOL_MAX_STREAMS_PER_CONNECTION. */
export const POOL_MAX_STREAMS_PER_CONNECTION = 100;
export const SERVER_MAX_HEADER_LIST_SIZE = 64 * KiB;
export const CLIENT_MAX_HEADER_LIST_SIZE = 16 * KiB;

export const KEEPALIVE_INTERVAL_MS = 10_000;
export const KEEPALIVE_TIMEOUT_MS = 20_000;
/** POOL_UNUSED_RELEASE_TIMEOUT. */
export const POOL_IDLE_TIMEOUT_MS = 5 * 60_000;
export const CONNECT_TIMEOUT_MS = 10_000;
export const HANDSHAKE_TIMEOUT_MS = 10_000;
/**
 * Grace period of a closing HBONE connection before it is torn down with its tunnels: ztunnel's
 * default connection termination deadline (fact sheet, ztunnel upgrade).
 */
export const DRAIN_TIMEOUT_MS = 5_000;
/**
 * How long a CONNECT waits for the server's response headers. A peer that takes the stream and never
 * answers would otherwise pin the caller (and a pool slot) forever; ztunnel bounds connection setup
 * by the same 10 s as the TCP connect.
 */
export const CONNECT_RESPONSE_TIMEOUT_MS = 10_000;

/**
 * Node counts buffered frame data against maxSessionMemory (default 10 MB) and refuses new streams
 * beyond it; a 16 MiB connection window can legitimately buffer more, so the cap is raised.
 */
export const MAX_SESSION_MEMORY_MB = 64;

export const SERVER_H2_SETTINGS: Settings = {
  enablePush: false,
  initialWindowSize: STREAM_WINDOW_SIZE,
  maxFrameSize: MAX_FRAME_SIZE,
  maxConcurrentStreams: SERVER_MAX_CONCURRENT_STREAMS,
  maxHeaderListSize: SERVER_MAX_HEADER_LIST_SIZE,
};

export const CLIENT_H2_SETTINGS: Settings = {
  enablePush: false,
  initialWindowSize: STREAM_WINDOW_SIZE,
  maxFrameSize: MAX_FRAME_SIZE,
  maxHeaderListSize: CLIENT_MAX_HEADER_LIST_SIZE,
};

export interface KeepaliveOptions {
  intervalMs: number;
  timeoutMs: number;
}

export const DEFAULT_KEEPALIVE: KeepaliveOptions = { intervalMs: KEEPALIVE_INTERVAL_MS, timeoutMs: KEEPALIVE_TIMEOUT_MS };
