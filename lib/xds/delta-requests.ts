// The pure half of the delta xDS client: which requests to send (subscribe on every stream, ACK,
// NACK), how the held name→version table changes after a response, and how an xDS address is read.
// No sockets here; lib/xds/delta-client.ts does the I/O.
import type { DeltaDiscoveryRequest, Node } from '../proto/index.ts';

/** A resource the handler refused, with why (becomes `name: reason` in the NACK). */
export interface XdsRejection {
  name: string;
  reason: string;
}

/** google.rpc.Code INVALID_ARGUMENT: the code a NACK's error_detail carries. */
export const NACK_STATUS_CODE = 3;

function request(typeUrl: string, fields: Partial<DeltaDiscoveryRequest>): DeltaDiscoveryRequest {
  return {
    typeUrl,
    resourceNamesSubscribe: [],
    resourceNamesUnsubscribe: [],
    resourceLocatorsSubscribe: [],
    resourceLocatorsUnsubscribe: [],
    initialResourceVersions: {},
    responseNonce: '',
    ...fields,
  };
}

/**
 * The first request of a type on a new stream: a wildcard subscription (no names) carrying the node
 * and every name→version we hold, so the server can skip what we already have and tell us what
 * disappeared while we were away.
 */
export function subscribeRequest(node: Node, typeUrl: string, held: ReadonlyMap<string, string>): DeltaDiscoveryRequest {
  return request(typeUrl, { node, initialResourceVersions: Object.fromEntries(held) });
}

/** The NACK message: `name: reason` per rejected resource, joined by `; `. */
export function nackMessage(rejected: readonly XdsRejection[]): string {
  return rejected.map((r) => `${r.name}: ${r.reason}`).join('; ');
}

/** ACK when nothing was rejected; otherwise a NACK of the same nonce with the reasons. */
export function ackRequest(typeUrl: string, nonce: string, rejected: readonly XdsRejection[] = [], message?: string): DeltaDiscoveryRequest {
  if (rejected.length === 0 && message === undefined) return request(typeUrl, { responseNonce: nonce });
  const text = [message, rejected.length ? nackMessage(rejected) : undefined].filter((s) => s !== undefined).join('; ');
  return request(typeUrl, { responseNonce: nonce, errorDetail: { code: NACK_STATUS_CODE, message: text, details: [] } });
}

/**
 * The versions held after a response: accepted resources take their new version, rejected ones
 * keep whatever was held before (their last good config is still in force), removed names go.
 */
export function nextVersions(
  held: ReadonlyMap<string, string>,
  resources: readonly { name: string; version: string }[],
  removed: readonly string[],
  rejected: readonly XdsRejection[],
): Map<string, string> {
  const refused = new Set(rejected.map((r) => r.name));
  const out = new Map(held);
  for (const r of resources) if (!refused.has(r.name)) out.set(r.name, r.version);
  for (const name of removed) out.delete(name);
  return out;
}

/** Where to dial: grpc-js target `host:port`, TLS or not, and the host name TLS verifies. */
export interface XdsEndpoint {
  target: string;
  host: string;
  tls: boolean;
}

export type XdsAddressResult = { ok: true; value: XdsEndpoint } | { ok: false; error: string };

/** `https://host:port` (TLS) or `http://host:port` (plaintext, for labs); the port defaults to 15012. */
export function parseXdsAddress(address: string): XdsAddressResult {
  let url: URL;
  try {
    url = new URL(address);
  } catch {
    return { ok: false, error: `not a URL: ${JSON.stringify(address)} (expected https://host:port or http://host:port)` };
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') return { ok: false, error: `scheme must be https or http: ${address}` };
  if (!url.hostname) return { ok: false, error: `no host: ${address}` };
  if ((url.pathname !== '/' && url.pathname !== '') || url.search || url.hash || url.username) {
    return { ok: false, error: `only scheme, host and port are allowed: ${address}` };
  }
  // URL drops a port equal to the scheme's default; Istio's default xDS port is used only when none was written.
  const written = /^[a-z]+:\/\/(\[[^\]]*\]|[^/:]*):\d+\/?$/i.test(address);
  const port = url.port || (written ? (url.protocol === 'https:' ? '443' : '80') : '15012');
  const host = url.hostname.replace(/^\[|\]$/g, '');
  const target = host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
  return { ok: true, value: { target, host, tls: url.protocol === 'https:' } };
}
