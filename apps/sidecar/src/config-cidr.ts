/**
 * envoy.config.core.v3.CidrRange compiled for matching: addresses as 4 or 16 bytes, compared on the first
 * prefix_len bits. IPv4-mapped IPv6 addresses (::ffff:a.b.c.d, as Node reports them on dual-stack
 * sockets) are treated as the IPv4 address.
 */
import { isIPv4, isIPv6 } from 'node:net';
import { str, wrappedNum, type Issues, type Obj } from './config-fields';

export interface Cidr {
  bytes: Uint8Array;
  len: number;
  text: string;
}

/** 4 bytes for IPv4 (and IPv4-mapped IPv6), 16 for IPv6, undefined for anything else. */
export function parseIp(ip: string): Uint8Array | undefined {
  let s = ip;
  if (s.startsWith('::ffff:') && s.includes('.')) s = s.slice(7);
  if (isIPv4(s)) return Uint8Array.from(s.split('.').map(Number));
  const zone = s.indexOf('%');
  if (zone >= 0) s = s.slice(0, zone);
  if (!isIPv6(s)) return undefined;
  if (s.includes('.')) {
    // an embedded IPv4 address is the last two groups
    const cut = s.lastIndexOf(':');
    const v4 = s.slice(cut + 1).split('.').map(Number);
    s = `${s.slice(0, cut + 1)}${((v4[0] << 8) | v4[1]).toString(16)}:${((v4[2] << 8) | v4[3]).toString(16)}`;
  }
  const gap = s.indexOf('::');
  const head = gap >= 0 ? s.slice(0, gap) : s;
  const tail = gap >= 0 ? s.slice(gap + 2) : '';
  const h = head ? head.split(':') : [];
  const t = tail ? tail.split(':') : [];
  const groups = [...h, ...Array<string>(gap >= 0 ? 8 - h.length - t.length : 0).fill('0'), ...t].map((g) => parseInt(g, 16));
  if (groups.length !== 8) return undefined;
  const out = new Uint8Array(16);
  for (let i = 0; i < 8; i++) {
    out[i * 2] = groups[i] >> 8;
    out[i * 2 + 1] = groups[i] & 0xff;
  }
  if (out.subarray(0, 10).every((b) => b === 0) && out[10] === 0xff && out[11] === 0xff) return out.slice(12);
  return out;
}

export function compileCidr(o: Obj, path: string, issues: Issues): Cidr | undefined {
  const prefix = str(o, 'address_prefix');
  const bytes = parseIp(prefix);
  if (!bytes) {
    issues.add(`${path}.address_prefix`, `malformed IP address: "${prefix}"`);
    return undefined;
  }
  const bits = bytes.length * 8;
  const len = wrappedNum(o, 'prefix_len', 0);
  if (!Number.isInteger(len) || len < 0 || len > bits) {
    issues.add(`${path}.prefix_len`, `must be 0..${bits} for ${prefix}, got ${len}`);
    return undefined;
  }
  return { bytes, len, text: `${prefix}/${len}` };
}

/** True when `ip` (parsed) lies inside `c`. */
export function cidrContains(c: Cidr, ip: Uint8Array | undefined): boolean {
  if (!ip || ip.length !== c.bytes.length) return false;
  const full = c.len >> 3;
  for (let i = 0; i < full; i++) if (ip[i] !== c.bytes[i]) return false;
  const rem = c.len & 7;
  if (rem === 0) return true;
  const mask = (0xff << (8 - rem)) & 0xff;
  return (ip[full] & mask) === (c.bytes[full] & mask);
}
