/** TCP proxy network filter. */
import type { Duration } from './builder-common';
import { typedConfig } from './builder-common';
import type { NetworkFilter } from './builder-listener';
import { EXTENSION_TYPE_URL } from './protos';

export interface TcpProxy {
  stat_prefix: string;
  cluster?: string;
  weighted_clusters?: { clusters: { name: string; weight: number }[] };
  idle_timeout?: Duration;
}

export function tcpProxyFilter(config: TcpProxy): NetworkFilter {
  return { name: 'envoy.filters.network.tcp_proxy', typed_config: typedConfig(EXTENSION_TYPE_URL.TCP_PROXY, config) };
}
