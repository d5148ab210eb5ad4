/**
 * A route's forwarding action (RouteAction in RDS) validated and compiled: the cluster or weighted
 * clusters, path/host rewrites, timeouts, the retry policy (also used per virtual host), request mirrors
 * and the hash policy for ring hash / Maglev.
 */
import { headerMutations, type HeaderMutations } from './config-headers';
import { arr, bool, durationMs, fraction, isObj, Issues, obj, oneof, str, wrappedBool, wrappedNum, type Obj } from './config-fields';

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

export function compileAction(r: Obj, path: string, issues: Issues): RouteAction {
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
