/**
 * Outlier detection: consecutive 5xx / gateway failures eject a host for base_ejection_time x times
 * ejected, never more than max_ejection_percent of the cluster (at least one host is always kept when the
 * percentage allows none). Checked on each result; un-ejection on a coarse interval.
 */
import type { OutlierPolicy } from './config-cluster';

export interface OutlierHost {
  consecutive5xx: number;
  consecutiveGateway: number;
  ejectedUntil: number;
  timesEjected: number;
}

export class OutlierDetector {
  constructor(
    private readonly policy: OutlierPolicy,
    /** called when the set of ejected hosts changes */
    private readonly onChange: () => void,
  ) {}

  /** Records an upstream result; `gateway` for 502/503/504 and connect failures. Returns true when the host was ejected now. */
  record(host: OutlierHost, status: number, gateway: boolean, all: readonly OutlierHost[], now: number): boolean {
    if (status < 500 && !gateway) {
      host.consecutive5xx = 0;
      host.consecutiveGateway = 0;
      return false;
    }
    host.consecutive5xx++;
    if (gateway) host.consecutiveGateway++;
    const p = this.policy;
    const by5xx = p.consecutive5xx > 0 && host.consecutive5xx >= p.consecutive5xx && Math.random() * 100 < p.enforcing5xx;
    const byGw = p.consecutiveGatewayFailure > 0 && host.consecutiveGateway >= p.consecutiveGatewayFailure && Math.random() * 100 < p.enforcingGateway;
    if (!by5xx && !byGw) return false;
    if (host.ejectedUntil > now) return false;
    let ejected = 0;
    for (const h of all) if (h.ejectedUntil > now) ejected++;
    // Envoy allows ejecting at least one host even when the percentage rounds to zero.
    if (ejected > 0 && ((ejected + 1) * 100) / all.length > p.maxEjectionPercent) return false;
    host.timesEjected++;
    host.ejectedUntil = now + p.baseEjectionMs * host.timesEjected;
    host.consecutive5xx = 0;
    host.consecutiveGateway = 0;
    this.onChange();
    return true;
  }

  /** Un-ejects hosts whose time is up; returns true when something changed. */
  sweep(all: readonly OutlierHost[], now: number): boolean {
    let changed = false;
    for (const h of all) {
      if (h.ejectedUntil !== 0 && h.ejectedUntil <= now) {
        h.ejectedUntil = 0;
        changed = true;
      }
    }
    return changed;
  }
}
