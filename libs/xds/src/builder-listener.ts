/** Listener builders: socket listeners (Envoy) and api_listener listeners (proxyless gRPC). */
import type { Address, BoolValue, Duration } from './builder-common';
import { socketAddress, typedConfig } from './builder-common';
import type { HttpConnectionManager } from './builder-hcm';
import type { TransportSocket } from './builder-tls';
import type { DecodedAny } from './protos';
import { EXTENSION_TYPE_URL } from './protos';

/** envoy.config.listener.v3.Filter. */
export interface NetworkFilter {
  name: string;
  typed_config: DecodedAny;
}

/** envoy.config.listener.v3.ListenerFilter (e.g. tls_inspector, original_dst). */
export interface ListenerFilter {
  name: string;
  typed_config: DecodedAny;
}

export interface FilterChainMatch {
  destination_port?: { value: number };
  prefix_ranges?: { address_prefix: string; prefix_len: { value: number } }[];
  server_names?: string[];
  transport_protocol?: string;
  application_protocols?: string[];
}

export interface FilterChain {
  name?: string;
  filter_chain_match?: FilterChainMatch;
  filters: NetworkFilter[];
  transport_socket?: TransportSocket;
}

export interface Listener {
  name: string;
  address?: Address;
  filter_chains?: FilterChain[];
  default_filter_chain?: FilterChain;
  listener_filters?: ListenerFilter[];
  use_original_dst?: BoolValue;
  bind_to_port?: BoolValue;
  traffic_direction?: 'UNSPECIFIED' | 'INBOUND' | 'OUTBOUND';
  listener_filters_timeout?: Duration;
  /** Proxyless gRPC only (Envoy refuses it over LDS). */
  api_listener?: { api_listener: DecodedAny };
}

/** The HttpConnectionManager network filter. */
export function hcmNetworkFilter(hcm: HttpConnectionManager): NetworkFilter {
  return {
    name: 'envoy.filters.network.http_connection_manager',
    typed_config: typedConfig(EXTENSION_TYPE_URL.HTTP_CONNECTION_MANAGER, hcm),
  };
}

/** A socket listener on address:port with the given filter chains (for Envoy). */
export function socketListener(opts: {
  name: string;
  address: string;
  port: number;
  filterChains: FilterChain[];
  direction?: Listener['traffic_direction'];
  listenerFilters?: ListenerFilter[];
}): Listener {
  const listener: Listener = {
    name: opts.name,
    address: socketAddress(opts.address, opts.port),
    filter_chains: opts.filterChains,
  };
  if (opts.direction) listener.traffic_direction = opts.direction;
  if (opts.listenerFilters) listener.listener_filters = opts.listenerFilters;
  return listener;
}

/** A socket listener with one filter chain holding one HttpConnectionManager. */
export function httpListener(opts: { name: string; address: string; port: number; hcm: HttpConnectionManager }): Listener {
  return socketListener({ name: opts.name, address: opts.address, port: opts.port, filterChains: [{ filters: [hcmNetworkFilter(opts.hcm)] }] });
}

/**
 * An api_listener for proxyless gRPC clients: the name is the target authority (`host:port`) and the HCM
 * must end with the router filter.
 */
export function apiListener(name: string, hcm: HttpConnectionManager): Listener {
  return { name, api_listener: { api_listener: typedConfig(EXTENSION_TYPE_URL.HTTP_CONNECTION_MANAGER, hcm) } };
}
