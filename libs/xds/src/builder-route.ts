/** RouteConfiguration builders: virtual hosts, routes, matches, actions. */
import type { Duration, HeaderValueOption, RegexMatcher, StringMatcher, UInt32Value } from './builder-common';
import type { DecodedAny } from './protos';

export interface HeaderMatcher {
  name: string;
  string_match?: StringMatcher;
  present_match?: boolean;
  invert_match?: boolean;
}

export interface QueryParameterMatcher {
  name: string;
  string_match?: StringMatcher;
  present_match?: boolean;
}

export interface RouteMatch {
  prefix?: string;
  path?: string;
  safe_regex?: RegexMatcher;
  case_sensitive?: { value: boolean };
  headers?: HeaderMatcher[];
  query_parameters?: QueryParameterMatcher[];
  runtime_fraction?: { default_value: { numerator: number; denominator: 'HUNDRED' | 'TEN_THOUSAND' | 'MILLION' } };
}

export interface WeightedCluster {
  name: string;
  weight: UInt32Value;
  request_headers_to_add?: HeaderValueOption[];
  typed_per_filter_config?: Record<string, DecodedAny>;
}

export interface RetryPolicy {
  retry_on: string;
  num_retries?: UInt32Value;
  per_try_timeout?: Duration;
  retriable_status_codes?: number[];
}

export interface HashPolicy {
  header?: { header_name: string };
  cookie?: { name: string; ttl?: Duration; path?: string };
  connection_properties?: { source_ip: boolean };
  terminal?: boolean;
}

export interface RequestMirrorPolicy {
  cluster: string;
  runtime_fraction?: { default_value: { numerator: number; denominator: 'HUNDRED' | 'TEN_THOUSAND' | 'MILLION' } };
}

export interface RouteAction {
  cluster?: string;
  weighted_clusters?: { clusters: WeightedCluster[]; total_weight?: UInt32Value };
  prefix_rewrite?: string;
  regex_rewrite?: { pattern: RegexMatcher; substitution: string };
  host_rewrite_literal?: string;
  timeout?: Duration;
  retry_policy?: RetryPolicy;
  hash_policy?: HashPolicy[];
  request_mirror_policies?: RequestMirrorPolicy[];
  max_stream_duration?: { max_stream_duration?: Duration; grpc_timeout_header_max?: Duration };
}

export interface RedirectAction {
  host_redirect?: string;
  path_redirect?: string;
  prefix_rewrite?: string;
  scheme_redirect?: string;
  port_redirect?: number;
  response_code?: 'MOVED_PERMANENTLY' | 'FOUND' | 'SEE_OTHER' | 'TEMPORARY_REDIRECT' | 'PERMANENT_REDIRECT';
}

export interface DirectResponseAction {
  status: number;
  body?: { inline_string: string };
}

export interface Route {
  name?: string;
  match: RouteMatch;
  route?: RouteAction;
  redirect?: RedirectAction;
  direct_response?: DirectResponseAction;
  /** Needed by proxyless gRPC for routes that are neither route nor redirect. */
  non_forwarding_action?: Record<string, never>;
  request_headers_to_add?: HeaderValueOption[];
  request_headers_to_remove?: string[];
  response_headers_to_add?: HeaderValueOption[];
  response_headers_to_remove?: string[];
  typed_per_filter_config?: Record<string, DecodedAny>;
}

export interface VirtualHost {
  name: string;
  domains: string[];
  routes: Route[];
  typed_per_filter_config?: Record<string, DecodedAny>;
  retry_policy?: RetryPolicy;
}

export interface RouteConfiguration {
  name: string;
  virtual_hosts: VirtualHost[];
  validate_clusters?: { value: boolean };
}

export function routeConfiguration(name: string, virtualHosts: VirtualHost[]): RouteConfiguration {
  return { name, virtual_hosts: virtualHosts };
}

export function virtualHost(name: string, domains: string[], routes: Route[]): VirtualHost {
  return { name, domains, routes };
}

/** A route sending everything matching `prefix` to one cluster. */
export function clusterRoute(prefix: string, cluster: string, extra: Partial<RouteAction> = {}): Route {
  return { match: { prefix }, route: { cluster, ...extra } };
}

/** A route splitting traffic by weight; weights are relative (any positive integers). */
export function weightedRoute(match: RouteMatch, clusters: { name: string; weight: number }[], extra: Partial<RouteAction> = {}): Route {
  return {
    match,
    route: { weighted_clusters: { clusters: clusters.map((c) => ({ name: c.name, weight: { value: c.weight } })) }, ...extra },
  };
}

export function exactHeader(name: string, value: string): HeaderMatcher {
  return { name, string_match: { exact: value } };
}
