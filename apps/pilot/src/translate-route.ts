/**
 * VirtualService http routes -> Envoy routes for one service port (Istio's route translation): matches,
 * weighted destinations with subsets, rewrite, redirect, direct response, timeout, retries, fault,
 * mirror, header operations, CORS, and consistent-hash policies from the destination's DestinationRule.
 */
import { parseDuration } from '@mesh/runtime';
import {
  corsPolicyConfig, durationFromMs, faultPerRouteConfig, fractionalPercent, httpFault,
  type HashPolicy, type HeaderValueOption, type Route, type RouteAction, type RetryPolicy, type VirtualHost,
} from '@mesh/xds';
import type { Destination, HeaderOps, HttpRoute, ServicePort } from '@mesh/config';
import type { ProxyScope } from './proxy-scope';
import type { PushContext } from './push-context';
import { labelsMatch, type Service } from './registry';
import { outboundClusterName } from './translate-cluster';
import { routeMatch, stringMatcher } from './translate-route-match';
import { mergedPolicy } from './translate-traffic-policy';
import { expandHttpRoutes } from './translate-delegate';
import { destinationRuleFor, visibleVirtualServices } from './translate-visibility';

/** Istio's defaults: no route timeout; 2 retries on connection-level and gRPC-unavailable failures. */
export const DEFAULT_RETRY: RetryPolicy = {
  retry_on: 'connect-failure,refused-stream,unavailable,cancelled,retriable-status-codes',
  num_retries: { value: 2 },
  retriable_status_codes: [503],
};

const GRPC_CODES: Record<string, number> = {
  OK: 0, CANCELLED: 1, UNKNOWN: 2, INVALID_ARGUMENT: 3, DEADLINE_EXCEEDED: 4, NOT_FOUND: 5, ALREADY_EXISTS: 6,
  PERMISSION_DENIED: 7, RESOURCE_EXHAUSTED: 8, FAILED_PRECONDITION: 9, ABORTED: 10, OUT_OF_RANGE: 11,
  UNIMPLEMENTED: 12, INTERNAL: 13, UNAVAILABLE: 14, DATA_LOSS: 15, UNAUTHENTICATED: 16,
};

const REDIRECT_CODES = { 301: 'MOVED_PERMANENTLY', 302: 'FOUND', 303: 'SEE_OTHER', 307: 'TEMPORARY_REDIRECT', 308: 'PERMANENT_REDIRECT' } as const;

interface RouteInput {
  push: PushContext;
  scope: ProxyScope;
  namespace: string;
  listenerPort: number;
}

function headerOptions(ops: HeaderOps | undefined): { add: HeaderValueOption[]; remove: string[] } {
  const add: HeaderValueOption[] = [];
  for (const [key, value] of Object.entries(ops?.set ?? {})) add.push({ header: { key, value }, append_action: 'OVERWRITE_IF_EXISTS_OR_ADD' });
  for (const [key, value] of Object.entries(ops?.add ?? {})) add.push({ header: { key, value }, append_action: 'APPEND_IF_EXISTS_OR_ADD' });
  return { add, remove: ops?.remove ?? [] };
}

/** The cluster a destination names: its port, or the only port of its service, or the listener's port. */
export function destinationCluster(input: Pick<RouteInput, 'push' | 'namespace' | 'listenerPort'>, dest: Destination): { name: string; host: string; port: number } {
  const host = input.push.resolveHost(dest.host, input.namespace);
  const svc = input.push.registry.service(host);
  const port = dest.port?.number ?? (svc && svc.ports.length === 1 ? (svc.ports[0]?.number ?? input.listenerPort) : input.listenerPort);
  return { name: outboundClusterName(port, dest.subset ?? '', host), host, port };
}

function hashPolicies(input: RouteInput, dest: Destination): HashPolicy[] {
  const { host, port } = destinationCluster(input, dest);
  const ch = mergedPolicy(destinationRuleFor(input.push, input.scope.namespace, host)?.spec, dest.subset ?? '', port)?.loadBalancer?.consistentHash;
  if (!ch) return [];
  if (ch.httpHeaderName) return [{ header: { header_name: ch.httpHeaderName } }];
  if (input.scope.generator === 'grpc') return [];
  if (ch.httpCookie) {
    const ttl = ch.httpCookie.ttl ? parseDuration(ch.httpCookie.ttl) : undefined;
    return [{ cookie: { name: ch.httpCookie.name, ...(ttl !== undefined ? { ttl: durationFromMs(ttl) } : {}), ...(ch.httpCookie.path ? { path: ch.httpCookie.path } : {}) } }];
  }
  if (ch.useSourceIp) return [{ connection_properties: { source_ip: true } }];
  return [];
}

function retryPolicy(r: HttpRoute, generator: ProxyScope['generator']): RetryPolicy | undefined {
  if (!r.retries) return DEFAULT_RETRY;
  if (!r.retries.attempts) return undefined;
  const policy: RetryPolicy = { retry_on: r.retries.retryOn ?? DEFAULT_RETRY.retry_on, num_retries: { value: r.retries.attempts } };
  if (r.retries.perTryTimeout) policy.per_try_timeout = durationFromMs(parseDuration(r.retries.perTryTimeout) ?? 0);
  if (generator === 'envoy' && policy.retry_on.includes('retriable-status-codes')) policy.retriable_status_codes = [503];
  return policy;
}

function routeAction(input: RouteInput, r: HttpRoute): RouteAction {
  const action: RouteAction = {};
  const dests = r.route ?? [];
  if (dests.length === 1 && dests[0]) {
    action.cluster = destinationCluster(input, dests[0].destination).name;
  } else {
    action.weighted_clusters = {
      clusters: dests.filter((d) => (d.weight ?? 0) > 0).map((d) => {
        const wc: { name: string; weight: { value: number }; request_headers_to_add?: HeaderValueOption[] } = {
          name: destinationCluster(input, d.destination).name,
          weight: { value: d.weight ?? 0 },
        };
        const h = headerOptions(d.headers?.request);
        if (h.add.length > 0) wc.request_headers_to_add = h.add;
        return wc;
      }),
    };
  }
  const timeoutMs = r.timeout !== undefined ? (parseDuration(r.timeout) ?? 0) : 0;
  action.timeout = durationFromMs(timeoutMs);
  if (timeoutMs > 0) action.max_stream_duration = { max_stream_duration: durationFromMs(timeoutMs), grpc_timeout_header_max: durationFromMs(timeoutMs) };
  const retry = retryPolicy(r, input.scope.generator);
  if (retry) action.retry_policy = retry;
  const hash = dests[0] ? hashPolicies(input, dests[0].destination) : [];
  if (hash.length > 0) action.hash_policy = hash;
  if (r.rewrite?.uri !== undefined) action.prefix_rewrite = r.rewrite.uri;
  if (r.rewrite?.uriRegexRewrite) action.regex_rewrite = { pattern: { regex: r.rewrite.uriRegexRewrite.match }, substitution: r.rewrite.uriRegexRewrite.rewrite };
  if (r.rewrite?.authority) action.host_rewrite_literal = r.rewrite.authority;
  if (input.scope.generator === 'envoy') {
    const mirrors = r.mirror ? [{ destination: r.mirror, percentage: r.mirrorPercentage }] : (r.mirrors ?? []);
    if (mirrors.length > 0) {
      action.request_mirror_policies = mirrors.map((m) => ({
        cluster: destinationCluster(input, m.destination).name,
        runtime_fraction: { default_value: fractionalPercent(m.percentage?.value ?? 100) },
      }));
    }
  }
  return action;
}

function faultConfig(r: HttpRoute): ReturnType<typeof httpFault> | undefined {
  const f = r.fault;
  if (!f) return undefined;
  return httpFault({
    ...(f.delay ? { delayMs: parseDuration(f.delay.fixedDelay ?? '0s') ?? 0, delayPercent: f.delay.percentage?.value ?? f.delay.percent ?? 100 } : {}),
    ...(f.abort?.httpStatus !== undefined ? { abortHttpStatus: f.abort.httpStatus } : {}),
    ...(f.abort?.grpcStatus !== undefined ? { abortGrpcStatus: GRPC_CODES[f.abort.grpcStatus.toUpperCase()] ?? Number(f.abort.grpcStatus) } : {}),
    ...(f.abort ? { abortPercent: f.abort.percentage?.value ?? 100 } : {}),
  });
}

/** The Envoy routes of one VirtualService http route (one per match, as Istio does). */
export function translateHttpRoute(input: RouteInput, r: HttpRoute, index: number): Route[] {
  const matches = (r.match ?? [undefined]).filter((m) => {
    if (m?.port !== undefined && m.port !== input.listenerPort) return false;
    if (m?.sourceLabels && !labelsMatch(m.sourceLabels, input.scope.labels)) return false;
    if (m?.sourceNamespace && m.sourceNamespace !== input.scope.namespace) return false;
    return true;
  });
  const out: Route[] = [];
  for (const m of matches) {
    const route: Route = { name: r.name ?? m?.name ?? `route-${index}`, match: routeMatch(m) };
    if (r.redirect) {
      route.redirect = {
        ...(r.redirect.uri !== undefined ? { path_redirect: r.redirect.uri } : {}),
        ...(r.redirect.authority !== undefined ? { host_redirect: r.redirect.authority } : {}),
        ...(r.redirect.port !== undefined ? { port_redirect: r.redirect.port } : {}),
        ...(r.redirect.scheme !== undefined ? { scheme_redirect: r.redirect.scheme } : {}),
        response_code: REDIRECT_CODES[(r.redirect.redirectCode ?? 301) as keyof typeof REDIRECT_CODES] ?? 'MOVED_PERMANENTLY',
      };
    } else if (r.directResponse) {
      const body = r.directResponse.body?.string ?? (r.directResponse.body?.bytes ? Buffer.from(r.directResponse.body.bytes, 'base64').toString() : undefined);
      route.direct_response = { status: r.directResponse.status, ...(body !== undefined ? { body: { inline_string: body } } : {}) };
    } else {
      route.route = routeAction(input, r);
    }
    const req = headerOptions(r.headers?.request);
    const res = headerOptions(r.headers?.response);
    if (req.add.length) route.request_headers_to_add = req.add;
    if (req.remove.length) route.request_headers_to_remove = req.remove;
    if (res.add.length) route.response_headers_to_add = res.add;
    if (res.remove.length) route.response_headers_to_remove = res.remove;
    const perFilter: Record<string, ReturnType<typeof faultPerRouteConfig>> = {};
    const fault = faultConfig(r);
    if (fault) perFilter['envoy.filters.http.fault'] = faultPerRouteConfig(fault);
    if (r.corsPolicy && input.scope.generator === 'envoy') {
      const c = r.corsPolicy;
      perFilter['envoy.filters.http.cors'] = corsPolicyConfig({
        ...(c.allowOrigins ? { allow_origin_string_match: c.allowOrigins.map(stringMatcher) } : {}),
        ...(c.allowMethods ? { allow_methods: c.allowMethods.join(',') } : {}),
        ...(c.allowHeaders ? { allow_headers: c.allowHeaders.join(',') } : {}),
        ...(c.exposeHeaders ? { expose_headers: c.exposeHeaders.join(',') } : {}),
        ...(c.maxAge ? { max_age: String(Math.round((parseDuration(c.maxAge) ?? 0) / 1000)) } : {}),
        ...(c.allowCredentials !== undefined ? { allow_credentials: { value: c.allowCredentials } } : {}),
      });
    }
    if (Object.keys(perFilter).length > 0) route.typed_per_filter_config = perFilter;
    out.push(route);
  }
  return out;
}

/** The virtual host of one service port: VirtualService routes if any, else a default route to the service. */
export function serviceVirtualHost(push: PushContext, scope: ProxyScope, service: Service, port: ServicePort, domains: string[]): VirtualHost {
  const routes: Route[] = [];
  // exportTo and the Sidecar's egress hosts decide which VirtualServices this proxy sees.
  const visible = visibleVirtualServices(push, service.hostname, scope.namespace, scope.egressHosts);
  for (const vs of visible) {
    for (const e of expandHttpRoutes(push, vs)) {
      routes.push(...translateHttpRoute({ push, scope, namespace: e.namespace, listenerPort: port.number }, e.route, e.index));
    }
  }
  if (visible.length === 0) {
    const input: RouteInput = { push, scope, namespace: service.namespace, listenerPort: port.number };
    routes.push(...translateHttpRoute(input, { route: [{ destination: { host: service.hostname, port: { number: port.number } } }] }, 0).map((r) => ({ ...r, name: 'default' })));
  }
  return { name: `${service.hostname}:${port.number}`, domains, routes };
}
