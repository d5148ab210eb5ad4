/**
 * RING_HASH: a consistent-hash ring (minimum_ring_size..maximum_ring_size entries, spread by weight). The
 * ring is built once per host set; a pick is a binary search. Without a hash value it picks at random.
 */
import type { Host, LoadBalancer } from './lb-types';

/** 32-bit FNV-1a: cheap, stable across processes, good enough spread for a ring. */
export function hash32(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  // final avalanche (murmur3 fmix32)
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

export class RingHashLb implements LoadBalancer {
  private ringHosts: readonly Host[] | undefined = undefined;
  private points = new Uint32Array(0);
  private owners: Host[] = [];

  constructor(
    private readonly minSize: number,
    private readonly maxSize: number,
  ) {}

  private build(hosts: readonly Host[]): void {
    const total = hosts.reduce((s, h) => s + h.weight, 0);
    const size = Math.min(this.maxSize, Math.max(this.minSize, hosts.length));
    const entries: { p: number; h: Host }[] = [];
    for (const h of hosts) {
      const count = Math.max(1, Math.round((size * h.weight) / total));
      for (let i = 0; i < count; i++) entries.push({ p: hash32(`${h.address}_${i}`), h });
    }
    entries.sort((a, b) => a.p - b.p);
    this.points = Uint32Array.from(entries, (e) => e.p);
    this.owners = entries.map((e) => e.h);
    this.ringHosts = hosts;
  }

  pick(hosts: readonly Host[], hash?: number): Host | undefined {
    if (hosts.length <= 1) return hosts[0];
    if (this.ringHosts !== hosts) this.build(hosts);
    const h = hash === undefined ? (Math.random() * 0x100000000) >>> 0 : hash;
    const pts = this.points;
    let lo = 0;
    let hi = pts.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (pts[mid] < h) lo = mid + 1;
      else hi = mid;
    }
    return this.owners[lo === pts.length ? 0 : lo];
  }
}
