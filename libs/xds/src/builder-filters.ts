/** HTTP filters: router, fault, RBAC (HTTP and network), CORS. */
import type { FractionalPercent, StringMatcher } from './builder-common';
import { durationFromMs, fractionalPercent, typedConfig } from './builder-common';
import type { NetworkFilter } from './builder-listener';
import type { DecodedAny } from './protos';
import { EXTENSION_TYPE_URL } from './protos';

/** envoy.extensions.filters.network.http_connection_manager.v3.HttpFilter. */
export interface HttpFilter {
  name: string;
  typed_config: DecodedAny;
  is_optional?: boolean;
}

export function routerFilter(): HttpFilter {
  return { name: 'envoy.filters.http.router', typed_config: typedConfig(EXTENSION_TYPE_URL.ROUTER, {}) };
}

/** envoy.extensions.filters.http.fault.v3.HTTPFault (also used per route in typed_per_filter_config). */
export interface HttpFault {
  delay?: { fixed_delay: { seconds: string; nanos: number }; percentage: FractionalPercent };
  abort?: { http_status?: number; grpc_status?: number; percentage: FractionalPercent };
}

/** A fault config: delay `delayMs` for `delayPercent`% of requests; abort with a status for `abortPercent`%. */
export function httpFault(opts: {
  delayMs?: number;
  delayPercent?: number;
  abortHttpStatus?: number;
  abortGrpcStatus?: number;
  abortPercent?: number;
}): HttpFault {
  const fault: HttpFault = {};
  if (opts.delayMs !== undefined) {
    fault.delay = { fixed_delay: durationFromMs(opts.delayMs), percentage: fractionalPercent(opts.delayPercent ?? 100) };
  }
  if (opts.abortHttpStatus !== undefined || opts.abortGrpcStatus !== undefined) {
    fault.abort = { percentage: fractionalPercent(opts.abortPercent ?? 100) };
    if (opts.abortHttpStatus !== undefined) fault.abort.http_status = opts.abortHttpStatus;
    else fault.abort.grpc_status = opts.abortGrpcStatus;
  }
  return fault;
}

/** The fault filter in the HCM chain (an empty config: the per-route config decides). */
export function faultFilter(config: HttpFault = {}): HttpFilter {
  return { name: 'envoy.filters.http.fault', typed_config: typedConfig(EXTENSION_TYPE_URL.FAULT, config) };
}

/** envoy.config.rbac.v3 Permission / Principal (the subset we use). */
export interface RbacPermission {
  any?: boolean;
  header?: { name: string; string_match?: StringMatcher; present_match?: boolean };
  url_path?: { path: StringMatcher };
  destination_port?: number;
  and_rules?: { rules: RbacPermission[] };
  or_rules?: { rules: RbacPermission[] };
  not_rule?: RbacPermission;
}

export interface RbacPrincipal {
  any?: boolean;
  authenticated?: { principal_name: StringMatcher };
  direct_remote_ip?: { address_prefix: string; prefix_len: { value: number } };
  header?: { name: string; string_match?: StringMatcher; present_match?: boolean };
  and_ids?: { ids: RbacPrincipal[] };
  or_ids?: { ids: RbacPrincipal[] };
  not_id?: RbacPrincipal;
}

export interface RbacPolicy {
  permissions: RbacPermission[];
  principals: RbacPrincipal[];
}

export interface RbacRules {
  action: 'ALLOW' | 'DENY' | 'LOG';
  policies: Record<string, RbacPolicy>;
}

export function httpRbacFilter(rules: RbacRules): HttpFilter {
  return { name: 'envoy.filters.http.rbac', typed_config: typedConfig(EXTENSION_TYPE_URL.HTTP_RBAC, { rules }) };
}

export function networkRbacFilter(rules: RbacRules, statPrefix: string): NetworkFilter {
  return {
    name: 'envoy.filters.network.rbac',
    typed_config: typedConfig(EXTENSION_TYPE_URL.NETWORK_RBAC, { rules, stat_prefix: statPrefix }),
  };
}

/** The CORS filter (policies live on virtual hosts/routes as CorsPolicy typed_per_filter_config). */
export function corsFilter(): HttpFilter {
  return { name: 'envoy.filters.http.cors', typed_config: typedConfig(EXTENSION_TYPE_URL.CORS, {}) };
}

/** envoy.extensions.filters.http.cors.v3.CorsPolicy. */
export interface CorsPolicy {
  allow_origin_string_match?: StringMatcher[];
  allow_methods?: string;
  allow_headers?: string;
  expose_headers?: string;
  max_age?: string;
  allow_credentials?: { value: boolean };
}

export function corsPolicyConfig(policy: CorsPolicy): DecodedAny {
  return typedConfig(EXTENSION_TYPE_URL.CORS_POLICY, policy);
}

/** Per-route fault config for typed_per_filter_config['envoy.filters.http.fault']. */
export function faultPerRouteConfig(fault: HttpFault): DecodedAny {
  return typedConfig(EXTENSION_TYPE_URL.FAULT, fault);
}
