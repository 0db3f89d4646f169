// IP-in-CIDR for IPv4 and IPv6 (IPv4-mapped IPv6 addresses compare as IPv4).
import { isIPv4, isIPv6 } from 'node:net';

function v4Bytes(ip: string): number[] {
  return ip.split('.').map(Number);
}

function v6Bytes(ip: string): number[] | undefined {
  let s = ip;
  let tail: number[] = [];
  const lastColon = s.lastIndexOf(':');
  if (s.includes('.')) {
    tail = v4Bytes(s.slice(lastColon + 1));
    s = `${s.slice(0, lastColon + 1)}0:0`;
  }
  const [head, rest] = s.split('::') as [string, string | undefined];
  const h = head ? head.split(':') : [];
  const r = rest !== undefined && rest !== '' ? rest.split(':') : [];
  const fill = rest !== undefined ? 8 - h.length - r.length : 0;
  const groups = [...h, ...Array<string>(fill).fill('0'), ...r];
  if (groups.length !== 8) return undefined;
  const bytes = groups.flatMap((g) => {
    const n = parseInt(g, 16);
    return [n >> 8, n & 0xff];
  });
  if (tail.length) bytes.splice(12, 4, ...tail);
  return bytes;
}

/** Normalises to bytes; `::ffff:a.b.c.d` becomes the IPv4 bytes. */
export function ipBytes(ip: string): number[] | undefined {
  if (isIPv4(ip)) return v4Bytes(ip);
  if (!isIPv6(ip)) return undefined;
  const b = v6Bytes(ip);
  if (b && b.slice(0, 10).every((x) => x === 0) && b[10] === 0xff && b[11] === 0xff) return b.slice(12);
  return b;
}

export function ipInCidr(ip: string, cidr: { address: string; prefixLength: number }): boolean {
  const a = ipBytes(ip);
  const n = ipBytes(cidr.address);
  if (!a || !n || a.length !== n.length) return false;
  let bits = Math.min(cidr.prefixLength, a.length * 8);
  for (let i = 0; bits > 0; i++, bits -= 8) {
    const mask = bits >= 8 ? 0xff : (0xff << (8 - bits)) & 0xff;
    if ((a[i]! & mask) !== (n[i]! & mask)) return false;
  }
  return true;
}
