/**
 * LEAST_REQUEST: power of `choiceCount` random choices, keeping the host with the fewest active requests
 * (Envoy's default for equal weights).
 */
import type { Host, LoadBalancer } from './lb-types';

export class LeastRequestLb implements LoadBalancer {
  constructor(private readonly choiceCount: number) {}

  pick(hosts: readonly Host[]): Host | undefined {
    const n = hosts.length;
    if (n <= 1) return hosts[0];
    let best = hosts[(Math.random() * n) | 0];
    for (let i = 1; i < this.choiceCount; i++) {
      const h = hosts[(Math.random() * n) | 0];
      if (h.activeRequests < best.activeRequests) best = h;
    }
    return best;
  }
}
