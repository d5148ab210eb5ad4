/**
 * What /stats and /stats/prometheus print for one proxy (one worker process): Envoy-style counters
 * (cluster.<name>.*, http.downstream.*, filter counters, listener_manager, control_plane, xDS rejections)
 * and the Prometheus text (Istio metrics plus the same counters). Under --concurrency every worker builds
 * its own report and the admin worker sums them (stats-workers.ts).
 */
import type { ClusterManager } from './cluster-manager';
import type { ConfigStore, TypeState } from './config-store';
import type { ListenerManager } from './listener-manager';
import type { MeshStats, PromLine } from './stats';
import { processCounters } from './stats-counters';

export interface StatsSources {
  store: ConfigStore;
  clusters: ClusterManager;
  listeners: ListenerManager;
  stats: MeshStats;
  xdsConnected(): boolean;
}

export class StatsReport {
  constructor(private readonly d: StatsSources) {}

  /** Envoy-style counters, sorted by name. */
  counters(): [string, number][] {
    const out: [string, number][] = [];
    for (const c of this.d.clusters.clusters.values()) {
      for (const [k, v] of Object.entries(c.counters)) out.push([`cluster.${c.config.name}.${k}`, v]);
      out.push([`cluster.${c.config.name}.membership_total`, c.hosts.length], [`cluster.${c.config.name}.membership_healthy`, c.available.length]);
      out.push([`cluster.${c.config.name}.upstream_rq_active`, c.breaker.activeRequests], [`cluster.${c.config.name}.circuit_breakers.default.rq_open`, c.breaker.activeRequests >= c.config.breakers.maxRequests ? 1 : 0]);
    }
    for (const [k, v] of Object.entries(this.d.stats.server)) out.push([`http.downstream.${k}`, v]);
    for (const e of processCounters.entries()) out.push(e);
    out.push(['listener_manager.total_listeners_active', this.d.listeners.list().filter((l) => l.state === 'active').length]);
    out.push(['control_plane.connected_state', this.d.xdsConnected() ? 1 : 0]);
    const s = this.d.store;
    for (const [name, st] of [['lds', s.listeners], ['cds', s.clusters], ['rds', s.routes], ['eds', s.endpoints]] as const) {
      out.push([`${name}.update_rejected`, (st as TypeState<unknown>).lastError ? 1 : 0]);
    }
    return out.sort((a, b) => a[0].localeCompare(b[0]));
  }

  /** `name: value` lines, as Envoy's /stats prints them. */
  statsText(): string {
    return this.counters().map(([n, v]) => `${n}: ${v}`).join('\n') + '\n';
  }

  prometheus(): string {
    return this.d.stats.prometheus(this.promCounters());
  }

  private promCounters(): PromLine[] {
    const lines: PromLine[] = [];
    const clusters = [...this.d.clusters.clusters.values()];
    const first = clusters[0];
    const keys = first ? Object.keys(first.counters) : [];
    for (const k of keys) {
      for (const c of clusters) lines.push([`envoy_cluster_${k}`, `cluster_name="${c.config.name.replace(/"/g, '\\"')}"`, c.counters[k as keyof typeof c.counters]]);
    }
    for (const [k, v] of Object.entries(this.d.stats.server)) lines.push([`envoy_http_${k}`, '', v]);
    for (const [k, v] of processCounters.entries()) lines.push([`envoy_${k.replace(/[^A-Za-z0-9_]/g, '_')}`, '', v]);
    lines.push(['envoy_control_plane_connected_state', '', this.d.xdsConnected() ? 1 : 0]);
    return lines;
  }
}
