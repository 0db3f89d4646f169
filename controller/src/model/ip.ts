import { ipFromBytes } from '../../../lib/net/ip-bytes.ts';
// IP text from Kubernetes and Istio objects into the raw bytes the workload API carries (4 bytes
// for IPv4, 16 for IPv6, IPv4-mapped IPv6 kept as 16), with the strictness of Go's net/netip so we
// accept and refuse the same strings istiod does. Bytes are Buffers, the form lib/proto decodes
// bytes into, so a value compares equal to itself after a trip over the wire.

/** `a.b.c.d` with decimal fields 0–255 and no leading zeros; undefined if not exactly that. */
function parseIpv4(text: string): Uint8Array | undefined {
  const parts = text.split('.');
  if (parts.length !== 4) return undefined;
  const out = Buffer.alloc(4);
  for (let i = 0; i < 4; i++) {
    const p = parts[i]!;
    if (!/^[0-9]{1,3}$/.test(p) || (p.length > 1 && p.startsWith('0'))) return undefined;
    const n = Number(p);
    if (n > 255) return undefined;
    out[i] = n;
  }
  return out;
}

function parseIpv6(text: string): Uint8Array | undefined {
  // Zones (`%eth0`) never appear in pod or Service IPs and the wire has no place for them.
  if (text.includes('%')) return undefined;
  const halves = text.split('::');
  if (halves.length > 2) return undefined;
  const groups = (s: string): number[] | undefined => {
    if (s === '') return [];
    const out: number[] = [];
    const fields = s.split(':');
    for (let i = 0; i < fields.length; i++) {
      const f = fields[i]!;
      if (i === fields.length - 1 && f.includes('.')) {
        const v4 = parseIpv4(f);
        if (!v4) return undefined;
        out.push((v4[0]! << 8) | v4[1]!, (v4[2]! << 8) | v4[3]!);
      } else {
        if (!/^[0-9a-fA-F]{1,4}$/.test(f)) return undefined;
        out.push(parseInt(f, 16));
      }
    }
    return out;
  };
  const head = groups(halves[0]!);
  const tail = halves.length === 2 ? groups(halves[1]!) : [];
  if (!head || !tail) return undefined;
  // A trailing dotted quad is only allowed at the very end of the address.
  if (halves.length === 2 && halves[0]!.includes('.')) return undefined;
  let all: number[];
  if (halves.length === 2) {
    const missing = 8 - head.length - tail.length;
    if (missing < 1) return undefined;
    all = [...head, ...new Array<number>(missing).fill(0), ...tail];
  } else {
    all = head;
  }
  if (all.length !== 8) return undefined;
  const out = Buffer.alloc(16);
  all.forEach((g, i) => {
    out[2 * i] = g >> 8;
    out[2 * i + 1] = g & 0xff;
  });
  return out;
}

/** Raw bytes of an IP address, or undefined when `text` is not one. */
export function parseIp(text: string): Uint8Array | undefined {
  return text.includes(':') ? parseIpv6(text) : parseIpv4(text);
}

export interface ParsedPrefix {
  address: Uint8Array;
  /** Prefix length; the full width (32 or 128) for a bare address. */
  length: number;
}

/**
 * An IP block as AuthorizationPolicies write it: `ip` or `ip/len`. Like istiod, the address is kept
 * as written (not masked to the prefix); ztunnel masks when it compares.
 */
export function parseIpBlock(text: string): ParsedPrefix | undefined {
  const slash = text.indexOf('/');
  const address = parseIp(slash < 0 ? text : text.slice(0, slash));
  if (!address) return undefined;
  const full = address.length * 8;
  if (slash < 0) return { address, length: full };
  const bits = text.slice(slash + 1);
  if (!/^(0|[1-9][0-9]{0,2})$/.test(bits)) return undefined;
  const length = Number(bits);
  return length <= full ? { address, length } : undefined;
}

/** Canonical text of raw IP bytes (lib/net/ip-bytes.ts); throws on a length that is no IP. */
export function formatIp(b: Uint8Array): string {
  const text = ipFromBytes(b);
  if (text === undefined) throw new RangeError(`an IP address has 4 or 16 bytes, not ${b.length}`);
  return text;
}
