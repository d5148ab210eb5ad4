/** RANDOM: a weighted random choice. */
import type { Host, LoadBalancer } from './lb-types';

export class RandomLb implements LoadBalancer {
  pick(hosts: readonly Host[]): Host | undefined {
    const n = hosts.length;
    if (n <= 1) return hosts[0];
    let total = 0;
    for (let i = 0; i < n; i++) total += hosts[i].weight;
    let r = Math.random() * total;
    for (let i = 0; i < n; i++) {
      r -= hosts[i].weight;
      if (r < 0) return hosts[i];
    }
    return hosts[n - 1];
  }
}
