/**
 * RouteConfiguration (RDS) validated and compiled into matchers that the hot path only calls: virtual hosts
 * by domain, routes by path/headers/query, and each route's action with everything resolved to numbers.
 */
import { headerMutations, type HeaderMutations } from './config-headers';
import { compileHttpLocalRateLimit, HTTP_LOCAL_RATELIMIT, type HttpLocalRateLimit } from './config-local-ratelimit';
import {
  arr, bool, durationMs, fullRegex, isObj, Issues, num, obj, oneof, str, stringMatcher, typeName, wrappedBool, wrappedNum,
  type Obj, type ValidationResult,
} from './config-fields';

export type { HeaderMutations, HeaderOp } from './config-headers';

/** Request headers as the matchers see them (lower-case names; pseudo headers :method, :path, :authority, :scheme). */
export interface HeaderSource {
  header(name: string): string | undefined;
}

export interface RetryPolicy {
  on5xx: boolean;
  gatewayError: boolean;
  connectFailure: boolean;
  retriable4xx: boolean;
  reset: boolean;
  retriableStatusCodes: number[];
  numRetries: number;
  perTryTimeoutMs: number;
  backoffBaseMs: number;
  backoffMaxMs: number;
}

export interface FaultPolicy {
  delayMs: number;
  /** Probability 0..1 */
  delayFraction: number;
  abortStatus: number;
  abortFraction: number;
  /** gRPC status to answer with instead of an HTTP status (0 = unset) */
  abortGrpcStatus: number;
}

export interface CorsPolicy {
  allowOrigin: ((origin: string) => boolean)[];
  allowMethods: string;
  allowHeaders: string;
  exposeHeaders: string;
  maxAge: string;
  allowCredentials: boolean;
}

export interface HashPolicy {
  kind: 'header' | 'cookie' | 'source_ip';
  /** header name (lower case) or cookie name */
  name: string;
  terminal: boolean;
}

export interface WeightedCluster {
  name: string;
  weight: number;
  headers: HeaderMutations;
  responseHeaders: HeaderMutations;
}

export interface RouteAction {
  kind: 'route';
  clusters: WeightedCluster[];
  totalWeight: number;
  prefixRewrite: string | undefined;
  regexRewrite: { re: RegExp; substitution: string } | undefined;
  hostRewrite: string | undefined;
  autoHostRewrite: boolean;
  timeoutMs: number;
  idleTimeoutMs: number;
  retry: RetryPolicy | undefined;
  mirrors: { cluster: string; fraction: number }[];
  hashPolicy: HashPolicy[];
}

export interface RedirectAction {
  kind: 'redirect';
  scheme: string | undefined;
  host: string | undefined;
  port: number;
  path: string | undefined;
  prefixRewrite: string | undefined;
  status: number;
  stripQuery: boolean;
}

export interface DirectAction {
  kind: 'direct';
  status: number;
  body: string;
}

export interface Route {
  name: string;
  /** 0 prefix, 1 exact path, 2 safe_regex, 3 path_separated_prefix, 4 connect */
  pathKind: 0 | 1 | 2 | 3 | 4;
  pathValue: string;
  regex: RegExp | undefined;
  caseSensitive: boolean;
  headers: ((h: HeaderSource) => boolean)[];
  query: ((params: URLSearchParams) => boolean)[];
  action: RouteAction | RedirectAction | DirectAction;
  request: HeaderMutations;
  response: HeaderMutations;
  fault: FaultPolicy | undefined;
  cors: CorsPolicy | undefined;
  /** envoy.filters.http.local_ratelimit in typed_per_filter_config (its own token bucket) */
  rateLimit: HttpLocalRateLimit | undefined;
}

export interface VirtualHost {
  name: string;
  domains: string[];
  routes: Route[];
  request: HeaderMutations;
  response: HeaderMutations;
  retry: RetryPolicy | undefined;
  cors: CorsPolicy | undefined;
  rateLimit: HttpLocalRateLimit | undefined;
}

export interface RouteTable {
  name: string;
  virtualHosts: VirtualHost[];
  /** exact domain (lower case, with port when given) -> vhost */
  exact: Map<string, VirtualHost>;
  /** '*.suffix' entries, longest first */
  suffixes: { suffix: string; vh: VirtualHost }[];
  /** 'prefix.*' entries, longest first */
  prefixes: { prefix: string; vh: VirtualHost }[];
  star: VirtualHost | undefined;
  request: HeaderMutations;
  response: HeaderMutations;
  ignorePort: boolean;
}

function fraction(p: Obj | undefined): number {
  if (!p) return 0;
  const n = num(p, 'numerator', 0);
  const d = str(p, 'denominator');
  const denom = d === 'MILLION' ? 1e6 : d === 'TEN_THOUSAND' ? 1e4 : 100;
  return Math.min(1, n / denom);
}

export function compileRetry(o: Obj | undefined, path: string, issues: Issues): RetryPolicy | undefined {
  if (!o) return undefined;
  const on = new Set(str(o, 'retry_on').split(',').map((s) => s.trim()).filter(Boolean));
  const known = ['5xx', 'gateway-error', 'connect-failure', 'retriable-4xx', 'reset', 'retriable-status-codes', 'refused-stream', 'unavailable', 'cancelled', 'deadline-exceeded', 'resource-exhausted', 'internal', 'envoy-ratelimited', 'retriable-headers', 'http3-post-connect-failure', 'reset-before-request'];
  for (const k of on) if (!known.includes(k)) issues.add(`${path}.retry_on`, `unknown retry condition "${k}"`);
  const backoff = obj(o, 'retry_back_off', path, issues) ?? {};
  const base = durationMs(backoff, 'base_interval', 25, `${path}.retry_back_off`, issues);
  const codes = arr(o, 'retriable_status_codes', path, issues).map(Number).filter((n) => Number.isInteger(n));
  return {
    on5xx: on.has('5xx'),
    gatewayError: on.has('gateway-error') || on.has('5xx'),
    connectFailure: on.has('connect-failure') || on.has('5xx') || on.has('gateway-error'),
    retriable4xx: on.has('retriable-4xx'),
    reset: on.has('reset') || on.has('5xx') || on.has('gateway-error'),
    retriableStatusCodes: on.has('retriable-status-codes') ? codes : [],
    numRetries: wrappedNum(o, 'num_retries', 1),
    perTryTimeoutMs: durationMs(o, 'per_try_timeout', 0, path, issues),
    backoffBaseMs: Math.max(1, base),
    backoffMaxMs: durationMs(backoff, 'max_interval', base * 10, `${path}.retry_back_off`, issues),
  };
}

export function compileFault(o: Obj, path: string, issues: Issues): FaultPolicy {
  const delay = obj(o, 'delay', path, issues);
  const abort = obj(o, 'abort', path, issues);
  const status = abort ? num(abort, 'http_status', 0) : 0;
  const grpc = abort ? num(abort, 'grpc_status', 0) : 0;
  if (abort && oneof(abort, ['http_status', 'grpc_status', 'header_abort']) === 'http_status' && (status < 200 || status >= 600)) {
    issues.add(`${path}.abort.http_status`, `must be in [200, 600), got ${status}`);
  }
  return {
    delayMs: delay ? durationMs(delay, 'fixed_delay', 0, `${path}.delay`, issues) : 0,
    delayFraction: delay ? fraction(obj(delay, 'percentage', `${path}.delay`, issues)) : 0,
    abortStatus: status,
    abortGrpcStatus: grpc,
    abortFraction: abort ? fraction(obj(abort, 'percentage', `${path}.abort`, issues)) : 0,
  };
}

export function compileCors(o: Obj, path: string, issues: Issues): CorsPolicy {
  return {
    allowOrigin: arr(o, 'allow_origin_string_match', path, issues).map((m, i) =>
      isObj(m) ? stringMatcher(m, `${path}.allow_origin_string_match[${i}]`, issues) : () => false,
    ),
    allowMethods: str(o, 'allow_methods'),
    allowHeaders: str(o, 'allow_headers'),
    exposeHeaders: str(o, 'expose_headers'),
    maxAge: str(o, 'max_age'),
    allowCredentials: wrappedBool(o, 'allow_credentials', false),
  };
}

interface PerFilter {
  fault: FaultPolicy | undefined;
  cors: CorsPolicy | undefined;
  rateLimit: HttpLocalRateLimit | undefined;
}

/** typed_per_filter_config: fault, CORS and local rate limit per route / virtual host. */
function perFilter(o: Obj, path: string, issues: Issues): PerFilter {
  let fault: FaultPolicy | undefined;
  let cors: CorsPolicy | undefined;
  let rateLimit: HttpLocalRateLimit | undefined;
  const cfg = obj(o, 'typed_per_filter_config', path, issues);
  if (!cfg) return { fault, cors, rateLimit };
  for (const [filter, raw] of Object.entries(cfg)) {
    if (!isObj(raw)) continue;
    const p = `${path}.typed_per_filter_config["${filter}"]`;
    // FilterConfig wraps the real config with an `config` Any.
    const inner = typeName(raw) === 'envoy.config.route.v3.FilterConfig' && isObj(raw.config) ? raw.config : raw;
    const t = typeName(inner);
    if (t === 'envoy.extensions.filters.http.fault.v3.HTTPFault') fault = compileFault(inner, p, issues);
    else if (t === 'envoy.extensions.filters.http.cors.v3.CorsPolicy') cors = compileCors(inner, p, issues);
    else if (t === HTTP_LOCAL_RATELIMIT) rateLimit = compileHttpLocalRateLimit(inner, p, issues);
  }
  return { fault, cors, rateLimit };
}

function compileAction(r: Obj, path: string, issues: Issues): RouteAction {
  const p = `${path}.route`;
  const a = obj(r, 'route', path, issues) ?? {};
  const which = oneof(a, ['cluster', 'weighted_clusters', 'cluster_header', 'cluster_specifier_plugin', 'inline_cluster_specifier_plugin']);
  const clusters: WeightedCluster[] = [];
  const none: HeaderMutations = { add: [], remove: [] };
  if (which === 'cluster') clusters.push({ name: str(a, 'cluster'), weight: 1, headers: none, responseHeaders: none });
  else if (which === 'weighted_clusters') {
    const wc = obj(a, 'weighted_clusters', p, issues) ?? {};
    for (const [i, c] of arr(wc, 'clusters', `${p}.weighted_clusters`, issues).entries()) {
      const cp = `${p}.weighted_clusters.clusters[${i}]`;
      if (!isObj(c) || !str(c, 'name')) {
        issues.add(`${cp}.name`, 'is required');
        continue;
      }
      clusters.push({
        name: str(c, 'name'),
        weight: wrappedNum(c, 'weight', 0),
        headers: headerMutations(c, 'request_headers_to_add', 'request_headers_to_remove', cp, issues),
        responseHeaders: headerMutations(c, 'response_headers_to_add', 'response_headers_to_remove', cp, issues),
      });
    }
    if (clusters.length === 0) issues.add(`${p}.weighted_clusters.clusters`, 'must not be empty');
  } else issues.add(p, `needs cluster or weighted_clusters${which ? ` (${which} is not supported)` : ''}`);
  const totalWeight = clusters.reduce((s, c) => s + c.weight, 0);
  if (clusters.length > 0 && totalWeight <= 0) issues.add(`${p}.weighted_clusters`, 'total weight must be positive');
  const hashPolicy: HashPolicy[] = [];
  for (const [i, h] of arr(a, 'hash_policy', p, issues).entries()) {
    if (!isObj(h)) continue;
    const terminal = bool(h, 'terminal');
    const kind = oneof(h, ['header', 'cookie', 'connection_properties', 'query_parameter', 'filter_state']);
    if (kind === 'header') hashPolicy.push({ kind: 'header', name: str(obj(h, 'header', p, issues) ?? {}, 'header_name').toLowerCase(), terminal });
    else if (kind === 'cookie') hashPolicy.push({ kind: 'cookie', name: str(obj(h, 'cookie', p, issues) ?? {}, 'name'), terminal });
    else if (kind === 'connection_properties') hashPolicy.push({ kind: 'source_ip', name: '', terminal });
    else issues.add(`${p}.hash_policy[${i}]`, `unsupported hash policy ${kind ?? '(empty)'}`);
  }
  const rr = obj(a, 'regex_rewrite', p, issues);
  let regexRewrite: RouteAction['regexRewrite'];
  if (rr) {
    const pattern = str(obj(rr, 'pattern', `${p}.regex_rewrite`, issues) ?? {}, 'regex');
    try {
      regexRewrite = { re: new RegExp(pattern, 'g'), substitution: str(rr, 'substitution').replace(/\\(\d)/g, '$$$1') };
    } catch (err) {
      issues.add(`${p}.regex_rewrite.pattern.regex`, `invalid regex: ${(err as Error).message}`);
    }
  }
  const mirrors: RouteAction['mirrors'] = [];
  for (const m of arr(a, 'request_mirror_policies', p, issues)) {
    if (!isObj(m)) continue;
    const rf = obj(m, 'runtime_fraction', p, issues);
    mirrors.push({ cluster: str(m, 'cluster'), fraction: rf ? fraction(obj(rf, 'default_value', p, issues)) : 1 });
  }
  return {
    kind: 'route',
    clusters,
    totalWeight,
    prefixRewrite: a.prefix_rewrite ? str(a, 'prefix_rewrite') : undefined,
    regexRewrite,
    hostRewrite: a.host_rewrite_literal ? str(a, 'host_rewrite_literal') : undefined,
    autoHostRewrite: wrappedBool(a, 'auto_host_rewrite', false),
    timeoutMs: durationMs(a, 'timeout', 15_000, p, issues),
    idleTimeoutMs: durationMs(a, 'idle_timeout', 0, p, issues),
    retry: compileRetry(obj(a, 'retry_policy', p, issues), `${p}.retry_policy`, issues),
    mirrors,
    hashPolicy,
  };
}

const REDIRECT_CODES: Record<string, number> = { MOVED_PERMANENTLY: 301, FOUND: 302, SEE_OTHER: 303, TEMPORARY_REDIRECT: 307, PERMANENT_REDIRECT: 308 };

function compileRoute(r: Obj, path: string, issues: Issues): Route {
  const match = obj(r, 'match', path, issues) ?? {};
  const mp = `${path}.match`;
  const kindName = oneof(match, ['prefix', 'path', 'safe_regex', 'path_separated_prefix', 'connect_matcher']);
  let pathKind: Route['pathKind'] = 0;
  let pathValue = '';
  let regex: RegExp | undefined;
  const caseSensitive = wrappedBool(match, 'case_sensitive', true);
  switch (kindName) {
    case 'path':
      pathKind = 1;
      pathValue = str(match, 'path');
      break;
    case 'safe_regex':
      pathKind = 2;
      regex = fullRegex(str(obj(match, 'safe_regex', mp, issues) ?? {}, 'regex'), `${mp}.safe_regex.regex`, issues, caseSensitive ? '' : 'i');
      break;
    case 'path_separated_prefix':
      pathKind = 3;
      pathValue = str(match, 'path_separated_prefix');
      break;
    case 'connect_matcher':
      pathKind = 4;
      break;
    default:
      // prefix ("" matches everything; proto-loader default leaves prefix "" when unset)
      pathKind = 0;
      pathValue = str(match, 'prefix');
      if (kindName === undefined && match.prefix === undefined && Object.keys(match).length > 0 && match.prefix !== '') {
        issues.add(mp, 'needs one of prefix, path, safe_regex, path_separated_prefix');
      }
  }
  if (!caseSensitive) pathValue = pathValue.toLowerCase();

  const headers: Route['headers'] = [];
  for (const [i, h] of arr(match, 'headers', mp, issues).entries()) {
    const hp = `${mp}.headers[${i}]`;
    if (!isObj(h) || !str(h, 'name')) {
      issues.add(`${hp}.name`, 'is required');
      continue;
    }
    const name = str(h, 'name').toLowerCase();
    const invert = bool(h, 'invert_match');
    const which = oneof(h, ['exact_match', 'safe_regex_match', 'range_match', 'present_match', 'prefix_match', 'suffix_match', 'contains_match', 'string_match']);
    let test: (v: string | undefined) => boolean;
    switch (which) {
      case 'string_match': {
        const sm = stringMatcher(obj(h, 'string_match', hp, issues) ?? {}, `${hp}.string_match`, issues);
        test = (v) => v !== undefined && sm(v);
        break;
      }
      case 'exact_match': { const w = str(h, 'exact_match'); test = (v) => v === w; break; }
      case 'prefix_match': { const w = str(h, 'prefix_match'); test = (v) => v !== undefined && v.startsWith(w); break; }
      case 'suffix_match': { const w = str(h, 'suffix_match'); test = (v) => v !== undefined && v.endsWith(w); break; }
      case 'contains_match': { const w = str(h, 'contains_match'); test = (v) => v !== undefined && v.includes(w); break; }
      case 'safe_regex_match': {
        const re = fullRegex(str(obj(h, 'safe_regex_match', hp, issues) ?? {}, 'regex'), `${hp}.safe_regex_match.regex`, issues);
        test = (v) => v !== undefined && re !== undefined && re.test(v);
        break;
      }
      case 'range_match': {
        const rm = obj(h, 'range_match', hp, issues) ?? {};
        const start = num(rm, 'start', 0);
        const end = num(rm, 'end', 0);
        test = (v) => v !== undefined && /^-?\d+$/.test(v) && Number(v) >= start && Number(v) < end;
        break;
      }
      case 'present_match': { const want = bool(h, 'present_match'); test = (v) => (v !== undefined) === want; break; }
      default:
        // No specifier: the header must be present (Envoy treats it as present_match).
        test = (v) => v !== undefined;
    }
    headers.push(invert ? (h) => !test(h.header(name)) : (h) => test(h.header(name)));
  }

  const query: Route['query'] = [];
  for (const [i, q] of arr(match, 'query_parameters', mp, issues).entries()) {
    const qp = `${mp}.query_parameters[${i}]`;
    if (!isObj(q) || !str(q, 'name')) {
      issues.add(`${qp}.name`, 'is required');
      continue;
    }
    const name = str(q, 'name');
    if (q.string_match) {
      const sm = stringMatcher(obj(q, 'string_match', qp, issues) ?? {}, `${qp}.string_match`, issues);
      query.push((params) => {
        const v = params.get(name);
        return v !== null && sm(v);
      });
    } else query.push((params) => params.has(name));
  }

  const actionName = oneof(r, ['route', 'redirect', 'direct_response', 'filter_action', 'non_forwarding_action']);
  let action: Route['action'];
  if (actionName === 'redirect') {
    const rd = obj(r, 'redirect', path, issues) ?? {};
    const scheme = bool(rd, 'https_redirect') ? 'https' : rd.scheme_redirect ? str(rd, 'scheme_redirect') : undefined;
    action = {
      kind: 'redirect',
      scheme,
      host: rd.host_redirect ? str(rd, 'host_redirect') : undefined,
      port: num(rd, 'port_redirect', 0),
      path: rd.path_redirect ? str(rd, 'path_redirect') : undefined,
      prefixRewrite: rd.prefix_rewrite ? str(rd, 'prefix_rewrite') : undefined,
      status: REDIRECT_CODES[str(rd, 'response_code')] ?? 301,
      stripQuery: bool(rd, 'strip_query'),
    };
  } else if (actionName === 'direct_response') {
    const dr = obj(r, 'direct_response', path, issues) ?? {};
    const status = num(dr, 'status', 0);
    if (status < 200 || status >= 600) issues.add(`${path}.direct_response.status`, `must be in [200, 600), got ${status}`);
    const body = obj(dr, 'body', `${path}.direct_response`, issues);
    let text = '';
    if (body) {
      if (body.inline_string) text = str(body, 'inline_string');
      else if (body.inline_bytes instanceof Uint8Array) text = Buffer.from(body.inline_bytes).toString();
      else if (body.inline_bytes) text = Buffer.from(str(body, 'inline_bytes'), 'base64').toString();
      else if (body.filename) issues.add(`${path}.direct_response.body.filename`, 'file bodies are not supported');
    }
    action = { kind: 'direct', status, body: text };
  } else if (actionName === 'route') action = compileAction(r, path, issues);
  else {
    issues.add(path, `needs one of route, redirect, direct_response${actionName ? ` (${actionName} is not supported)` : ''}`);
    action = { kind: 'direct', status: 500, body: '' };
  }
  const pf = perFilter(r, path, issues);
  return {
    name: str(r, 'name'),
    pathKind,
    pathValue,
    regex,
    caseSensitive,
    headers,
    query,
    action,
    request: headerMutations(r, 'request_headers_to_add', 'request_headers_to_remove', path, issues),
    response: headerMutations(r, 'response_headers_to_add', 'response_headers_to_remove', path, issues),
    fault: pf.fault,
    cors: pf.cors,
    rateLimit: pf.rateLimit,
  };
}

export function compileRouteConfiguration(rc: Obj, path = 'route_configuration'): ValidationResult<RouteTable> {
  const issues = new Issues();
  const name = str(rc, 'name');
  if (!name) issues.add(`${path}.name`, 'is required');
  const table: RouteTable = {
    name,
    virtualHosts: [],
    exact: new Map(),
    suffixes: [],
    prefixes: [],
    star: undefined,
    request: headerMutations(rc, 'request_headers_to_add', 'request_headers_to_remove', path, issues),
    response: headerMutations(rc, 'response_headers_to_add', 'response_headers_to_remove', path, issues),
    ignorePort: bool(rc, 'ignore_port_in_host_matching'),
  };
  const seen = new Set<string>();
  for (const [i, raw] of arr(rc, 'virtual_hosts', path, issues).entries()) {
    const vp = `${path}.virtual_hosts[${i}]`;
    if (!isObj(raw)) {
      issues.add(vp, 'expected a VirtualHost');
      continue;
    }
    const domains = arr(raw, 'domains', vp, issues).filter((d): d is string => typeof d === 'string').map((d) => d.toLowerCase());
    if (domains.length === 0) issues.add(`${vp}.domains`, 'must not be empty');
    const pf = perFilter(raw, vp, issues);
    const vh: VirtualHost = {
      name: str(raw, 'name'),
      domains,
      routes: arr(raw, 'routes', vp, issues).map((r, j) => compileRoute(isObj(r) ? r : {}, `${vp}.routes[${j}]`, issues)),
      request: headerMutations(raw, 'request_headers_to_add', 'request_headers_to_remove', vp, issues),
      response: headerMutations(raw, 'response_headers_to_add', 'response_headers_to_remove', vp, issues),
      retry: compileRetry(obj(raw, 'retry_policy', vp, issues), `${vp}.retry_policy`, issues),
      cors: pf.cors,
      rateLimit: pf.rateLimit,
    };
    // require_tls (Istio's Gateway httpsRedirect): a request that did not come over TLS is redirected to https.
    const requireTls = str(raw, 'require_tls');
    if (requireTls === 'ALL' || requireTls === 'EXTERNAL_ONLY') {
      const redirect = compileRoute({ name: 'require_tls', match: { prefix: '/' }, redirect: { https_redirect: true } }, `${vp}.require_tls`, issues);
      redirect.headers.push((h) => h.header(':scheme') !== 'https');
      vh.routes.unshift(redirect);
    }
    table.virtualHosts.push(vh);
    for (const [j, d] of domains.entries()) {
      if (seen.has(d)) {
        // Envoy rejects the same domain in two virtual hosts.
        issues.add(`${vp}.domains[${j}]`, `domain "${d}" appears in more than one virtual host`);
        continue;
      }
      seen.add(d);
      if (d === '*') table.star = vh;
      else if (d.startsWith('*')) table.suffixes.push({ suffix: d.slice(1), vh });
      else if (d.endsWith('*')) table.prefixes.push({ prefix: d.slice(0, -1), vh });
      else table.exact.set(d, vh);
    }
  }
  table.suffixes.sort((a, b) => b.suffix.length - a.suffix.length);
  table.prefixes.sort((a, b) => b.prefix.length - a.prefix.length);
  return issues.list.length ? { ok: false, errors: issues.list } : { ok: true, value: table };
}
