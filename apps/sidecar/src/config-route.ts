/**
 * RouteConfiguration (RDS) validated and compiled into matchers that the hot path only calls: virtual hosts
 * by domain, routes by path/headers/query, and each route's action with everything resolved to numbers
 * (redirects and direct responses here; the forwarding action in config-route-action.ts; fault, CORS and
 * local rate limit per route / virtual host in config-http-filters.ts).
 */
import { headerMutations, type HeaderMutations } from './config-headers';
import { perFilter, type CorsPolicy, type FaultPolicy } from './config-http-filters';
import type { HttpLocalRateLimit } from './config-local-ratelimit';
import { compileAction, compileRetry, type RetryPolicy, type RouteAction } from './config-route-action';
import {
  arr, bool, fullRegex, isObj, Issues, num, obj, oneof, str, stringMatcher, wrappedBool,
  type Obj, type ValidationResult,
} from './config-fields';

export type { HeaderMutations, HeaderOp } from './config-headers';

/** Request headers as the matchers see them (lower-case names; pseudo headers :method, :path, :authority, :scheme). */
export interface HeaderSource {
  header(name: string): string | undefined;
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
