// The CONNECT `:authority` of an HBONE stream (fact sheet §1.2): `ip:port`, IPv6 bracketed; the
// hostname form `host:port` only for double-HBONE inner tunnels. Pure parsing and formatting.
import { isIPv4, isIPv6 } from 'node:net';

export type Authority =
  | { kind: 'ip'; ip: string; port: number; family: 4 | 6 }
  | { kind: 'hostname'; hostname: string; port: number };

export type AuthorityParseResult = { kind: 'ok'; authority: Authority } | { kind: 'error'; reason: string };

// RFC 1123 labels; the hostname form only ever names a service (`svc.ns.svc.cluster.local`).
const HOSTNAME_RE = /^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/;

export function parseAuthority(text: string): AuthorityParseResult {
  const err = (reason: string): AuthorityParseResult => ({ kind: 'error', reason: `authority ${JSON.stringify(text)}: ${reason}` });
  let host: string;
  let portText: string;
  if (text.startsWith('[')) {
    const close = text.indexOf(']');
    if (close < 0 || text[close + 1] !== ':') return err('expected [ipv6]:port');
    host = text.slice(1, close);
    portText = text.slice(close + 2);
    if (!isIPv6(host) || host.includes('%')) return err('not an IPv6 address');
  } else {
    const colon = text.lastIndexOf(':');
    if (colon <= 0) return err('expected host:port');
    host = text.slice(0, colon);
    portText = text.slice(colon + 1);
    if (host.includes(':')) return err('IPv6 addresses must be bracketed');
  }
  if (!/^[0-9]{1,5}$/.test(portText)) return err('port is not a number');
  const port = Number(portText);
  if (port < 1 || port > 65535) return err('port out of range');
  if (text.startsWith('[')) return { kind: 'ok', authority: { kind: 'ip', ip: host, port, family: 6 } };
  if (isIPv4(host)) return { kind: 'ok', authority: { kind: 'ip', ip: host, port, family: 4 } };
  // Dotted digits that are not a valid IPv4 address (999.1.1.1, 010.0.0.1) are malformed, not names.
  if (/^[0-9.]+$/.test(host)) return err('not a valid IPv4 address');
  if (!HOSTNAME_RE.test(host)) return err('not an IP address or hostname');
  return { kind: 'ok', authority: { kind: 'hostname', hostname: host, port } };
}

export function formatAuthority(host: string, port: number): string {
  return isIPv6(host) ? `[${host}]:${port}` : `${host}:${port}`;
}

export function authorityToString(a: Authority): string {
  return a.kind === 'ip' ? formatAuthority(a.ip, a.port) : `${a.hostname}:${a.port}`;
}
