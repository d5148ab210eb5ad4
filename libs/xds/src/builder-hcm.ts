/** HttpConnectionManager builder (RDS over ADS or an inline route configuration). */
import type { BoolValue, ConfigSource, Duration } from './builder-common';
import { adsConfigSource } from './builder-common';
import type { HttpFilter } from './builder-filters';
import { routerFilter } from './builder-filters';
import type { RouteConfiguration } from './builder-route';

export interface HttpConnectionManager {
  stat_prefix: string;
  codec_type?: 'AUTO' | 'HTTP1' | 'HTTP2' | 'HTTP3';
  rds?: { route_config_name: string; config_source: ConfigSource };
  route_config?: RouteConfiguration;
  http_filters: HttpFilter[];
  stream_idle_timeout?: Duration;
  common_http_protocol_options?: { idle_timeout?: Duration };
  use_remote_address?: BoolValue;
  forward_client_cert_details?: 'SANITIZE' | 'FORWARD_ONLY' | 'APPEND_FORWARD' | 'SANITIZE_SET' | 'ALWAYS_FORWARD_ONLY';
  upgrade_configs?: { upgrade_type: string }[];
}

/**
 * An HCM whose routes come from RDS (`routeConfigName`) or inline (`routeConfig`). The router filter is
 * appended last when `filters` does not already end with it.
 */
export function httpConnectionManager(opts: {
  statPrefix: string;
  routeConfigName?: string;
  routeConfig?: RouteConfiguration;
  filters?: HttpFilter[];
}): HttpConnectionManager {
  const filters = [...(opts.filters ?? [])];
  if (filters.length === 0 || filters[filters.length - 1].name !== 'envoy.filters.http.router') filters.push(routerFilter());
  const hcm: HttpConnectionManager = { stat_prefix: opts.statPrefix, http_filters: filters };
  if (opts.routeConfigName !== undefined) hcm.rds = { route_config_name: opts.routeConfigName, config_source: adsConfigSource() };
  else if (opts.routeConfig) hcm.route_config = opts.routeConfig;
  return hcm;
}
