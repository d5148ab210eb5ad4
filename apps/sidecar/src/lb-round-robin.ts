/**
 * ROUND_ROBIN: smooth weighted round robin (equal weights degrade to plain rotation), deterministic so a
 * split over N requests is exact.
 */
import type { Host, LoadBalancer } from './lb-types';

export class RoundRobinLb implements LoadBalancer {
  private next = 0;
  private current: number[] = [];

  pick(hosts: readonly Host[]): Host | undefined {
    const n = hosts.length;
    if (n === 0) return undefined;
    if (n === 1) return hosts[0];
    let equal = true;
    const w0 = hosts[0].weight;
    for (let i = 1; i < n && equal; i++) equal = hosts[i].weight === w0;
    if (equal) {
      const h = hosts[this.next % n];
      this.next = (this.next + 1) % n;
      return h;
    }
    if (this.current.length !== n) this.current = new Array<number>(n).fill(0);
    let total = 0;
    let best = 0;
    for (let i = 0; i < n; i++) {
      const w = hosts[i].weight;
      this.current[i] += w;
      total += w;
      if (this.current[i] > this.current[best]) best = i;
    }
    this.current[best] -= total;
    return hosts[best];
  }
}
