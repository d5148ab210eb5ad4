/** Cluster builders (EDS, STATIC, STRICT_DNS, LOGICAL_DNS). */
import type { Duration, UInt32Value } from './builder-common';
import { adsConfigSource, durationFromMs, typedConfig } from './builder-common';
import type { ConfigSource } from './builder-common';
import type { ClusterLoadAssignment } from './builder-endpoint';
import type { TransportSocket } from './builder-tls';
import type { DecodedAny } from './protos';
import { EXTENSION_TYPE_URL } from './protos';

export type LbPolicy = 'ROUND_ROBIN' | 'LEAST_REQUEST' | 'RING_HASH' | 'RANDOM' | 'MAGLEV' | 'CLUSTER_PROVIDED';

export interface CircuitBreakerThresholds {
  priority?: 'DEFAULT' | 'HIGH';
  max_connections?: UInt32Value;
  max_pending_requests?: UInt32Value;
  max_requests?: UInt32Value;
  max_retries?: UInt32Value;
}

export interface OutlierDetection {
  consecutive_5xx?: UInt32Value;
  consecutive_gateway_failure?: UInt32Value;
  interval?: Duration;
  base_ejection_time?: Duration;
  max_ejection_percent?: UInt32Value;
  enforcing_consecutive_5xx?: UInt32Value;
  enforcing_consecutive_gateway_failure?: UInt32Value;
}

export interface Cluster {
  name: string;
  type?: 'STATIC' | 'STRICT_DNS' | 'LOGICAL_DNS' | 'EDS' | 'ORIGINAL_DST';
  eds_cluster_config?: { eds_config: ConfigSource; service_name?: string };
  connect_timeout?: Duration;
  lb_policy?: LbPolicy;
  ring_hash_lb_config?: { minimum_ring_size?: { value: string }; maximum_ring_size?: { value: string } };
  load_assignment?: ClusterLoadAssignment;
  circuit_breakers?: { thresholds: CircuitBreakerThresholds[] };
  outlier_detection?: OutlierDetection;
  transport_socket?: TransportSocket;
  typed_extension_protocol_options?: Record<string, DecodedAny>;
  common_lb_config?: Record<string, unknown>;
  dns_lookup_family?: 'AUTO' | 'V4_ONLY' | 'V6_ONLY' | 'V4_PREFERRED' | 'ALL';
  respect_dns_ttl?: boolean;
  per_connection_buffer_limit_bytes?: UInt32Value;
  ignore_health_on_host_removal?: boolean;
  metadata?: { filter_metadata: Record<string, unknown> };
  track_cluster_stats?: Record<string, boolean>;
  close_connections_on_host_set_change?: boolean;
  use_tcp_for_dns_lookups?: boolean;
  alt_stat_name?: string;
  upstream_connection_options?: { tcp_keepalive?: Record<string, UInt32Value> };
  preconnect_policy?: Record<string, unknown>;
  dns_refresh_rate?: Duration;
}

/** An EDS cluster whose endpoints come over ADS (service name defaults to the cluster name). */
export function edsCluster(opts: {
  name: string;
  serviceName?: string;
  lbPolicy?: LbPolicy;
  connectTimeoutMs?: number;
  http2?: boolean;
}): Cluster {
  const cluster: Cluster = {
    name: opts.name,
    type: 'EDS',
    eds_cluster_config: opts.serviceName
      ? { eds_config: adsConfigSource(), service_name: opts.serviceName }
      : { eds_config: adsConfigSource() },
    connect_timeout: durationFromMs(opts.connectTimeoutMs ?? 5000),
    lb_policy: opts.lbPolicy ?? 'ROUND_ROBIN',
  };
  if (opts.http2) cluster.typed_extension_protocol_options = http2ProtocolOptions();
  return cluster;
}

/** A STATIC cluster with inline endpoints (Envoy only: grpc-js-xds does not support STATIC). */
export function staticCluster(name: string, loadAssignment: ClusterLoadAssignment, http2 = false): Cluster {
  const cluster: Cluster = {
    name,
    type: 'STATIC',
    connect_timeout: durationFromMs(5000),
    lb_policy: 'ROUND_ROBIN',
    load_assignment: { ...loadAssignment, cluster_name: name },
  };
  if (http2) cluster.typed_extension_protocol_options = http2ProtocolOptions();
  return cluster;
}

/** typed_extension_protocol_options selecting HTTP/2 to the upstream. */
export function http2ProtocolOptions(): Record<string, DecodedAny> {
  return {
    'envoy.extensions.upstreams.http.v3.HttpProtocolOptions': typedConfig(EXTENSION_TYPE_URL.HTTP_PROTOCOL_OPTIONS, {
      explicit_http_config: { http2_protocol_options: {} },
    }),
  };
}
