/** Pilot's Prometheus metrics (names as Istio's pilot exports them). */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export interface PilotMetrics {
  registry: Registry;
  pushes: Counter<'type'>;
  internalErrors: Counter;
  pushErrors: Counter<'type'>;
  connected: Gauge;
  convergence: Histogram;
  invalidConfig: Counter;
}

export function createMetrics(): PilotMetrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  return {
    registry,
    pushes: new Counter({ name: 'pilot_xds_pushes', help: 'xDS pushes by type (one per proxy per type)', labelNames: ['type'], registers: [registry] }),
    internalErrors: new Counter({ name: 'pilot_total_xds_internal_errors', help: 'Config generation or snapshot errors inside pilot', registers: [registry] }),
    pushErrors: new Counter({ name: 'pilot_total_xds_rejects', help: 'Config rejected by proxies (NACKs) by type', labelNames: ['type'], registers: [registry] }),
    connected: new Gauge({ name: 'pilot_xds', help: 'Connected xDS proxies', registers: [registry] }),
    convergence: new Histogram({
      name: 'pilot_proxy_convergence_time',
      help: 'Seconds from a config change to a proxy acknowledging the config it caused',
      buckets: [0.1, 0.25, 0.5, 1, 3, 5, 10, 20, 30],
      registers: [registry],
    }),
    invalidConfig: new Counter({ name: 'pilot_total_config_invalid', help: 'Invalid config documents seen in --config-dir', registers: [registry] }),
  };
}
