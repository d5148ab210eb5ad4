/**
 * Local rate limit configuration (envoy.filters.http.local_ratelimit and envoy.filters.network.local_ratelimit)
 * compiled into token buckets. A bucket starts full (max_tokens) and refills continuously at
 * tokens_per_fill per fill_interval, never above max_tokens (Envoy 1.36's bucket without a refill timer).
 * Each compiled config owns its bucket: a listener's filter, a route's or a virtual host's
 * typed_per_filter_config each count separately, and a config update starts a fresh bucket, as in Envoy.
 * Under --concurrency N the workers share one bucket per config, held by the primary
 * (ratelimit-shared-bucket.ts), named by the config's place (its field path) and a digest of its content.
 */
import { arr, durationMs, isObj, num, obj, str, wrapped, type Issues, type Obj } from './config-fields';
import { headerMutations, type HeaderMutations } from './config-headers';
import { sharedBucketKey, SharedTokenBucket, workersShareBuckets } from './ratelimit-shared-bucket';
import { TokenBucket } from './ratelimit-token-bucket';

export { TokenBucket };

export const HTTP_LOCAL_RATELIMIT = 'envoy.extensions.filters.http.local_ratelimit.v3.LocalRateLimit';
export const NETWORK_LOCAL_RATELIMIT = 'envoy.extensions.filters.network.local_ratelimit.v3.LocalRateLimit';

/** envoy.type.v3.TokenBucket of the rate limit config `owner` at `ownerPath` */
function tokenBucket(owner: Obj, ownerPath: string, issues: Issues): TokenBucket | undefined {
  const path = `${ownerPath}.token_bucket`;
  const o = obj(owner, 'token_bucket', ownerPath, issues);
  if (!o) return undefined;
  const max = num(o, 'max_tokens', 0);
  const perFill = isObj(o.tokens_per_fill) ? Number(wrapped(o, 'tokens_per_fill')) : 1;
  const interval = durationMs(o, 'fill_interval', 0, path, issues);
  let ok = true;
  if (!Number.isInteger(max) || max < 1) {
    issues.add(`${path}.max_tokens`, `must be at least 1, got ${String(o.max_tokens)}`);
    ok = false;
  }
  if (!Number.isInteger(perFill) || perFill < 1) {
    issues.add(`${path}.tokens_per_fill`, `must be at least 1, got ${String(perFill)}`);
    ok = false;
  }
  if (interval <= 0) {
    issues.add(`${path}.fill_interval`, 'is required and must be positive');
    ok = false;
  } else if (interval < 50) {
    // Envoy: "local rate limit token bucket fill timer must be >= 50ms"
    issues.add(`${path}.fill_interval`, `must be at least 50ms, got ${interval}ms`);
    ok = false;
  }
  if (!ok) return undefined;
  return workersShareBuckets() ? new SharedTokenBucket(sharedBucketKey(ownerPath, owner), max, perFill, interval) : new TokenBucket(max, perFill, interval);
}

/** RuntimeFractionalPercent's default_value as a probability (unset = 0: Envoy's default "for safety"). */
function runtimeFraction(o: Obj, key: string, path: string, issues: Issues): number {
  const rf = obj(o, key, path, issues);
  if (!rf) return 0;
  const dv = obj(rf, 'default_value', `${path}.${key}`, issues);
  if (!dv) return 0;
  const d = str(dv, 'denominator');
  const denom = d === 'MILLION' ? 1e6 : d === 'TEN_THOUSAND' ? 1e4 : 100;
  return Math.min(1, num(dv, 'numerator', 0) / denom);
}

export interface HttpLocalRateLimit {
  statPrefix: string;
  status: number;
  /** undefined: the filter lets everything through (no bucket here; per-route configs may have one) */
  bucket: TokenBucket | undefined;
  enabled: number;
  enforced: number;
  responseHeaders: HeaderMutations;
  /** added to requests that were limited but not enforced (and so go upstream) */
  requestHeadersWhenNotEnforced: HeaderMutations;
}

export function compileHttpLocalRateLimit(o: Obj, path: string, issues: Issues): HttpLocalRateLimit {
  const statPrefix = str(o, 'stat_prefix');
  if (!statPrefix) issues.add(`${path}.stat_prefix`, 'is required');
  const st = obj(o, 'status', path, issues);
  const code = st ? num(st, 'code', 0) : 0;
  // HttpStatus enums arrive as names ("TooManyRequests") with enums: String; numbers otherwise.
  const named = typeof st?.code === 'string' && !/^\d+$/.test(st.code) ? HTTP_STATUS_NAMES[st.code] ?? 0 : code;
  // Envoy: a status below 400 is replaced by 429.
  const status = named >= 400 && named < 600 ? named : 429;
  for (const k of ['descriptors', 'rate_limits']) {
    if (arr(o, k, path, issues).length > 0) issues.add(`${path}.${k}`, 'rate limit descriptors are not supported by this proxy');
  }
  // Refused rather than ignored, so nobody believes they are in effect.
  if (o.local_rate_limit_per_downstream_connection === true) issues.add(`${path}.local_rate_limit_per_downstream_connection`, 'per-connection buckets are not supported by this proxy');
  const xrl = o.enable_x_ratelimit_headers;
  if (xrl !== undefined && xrl !== null && xrl !== 'OFF' && xrl !== 0) issues.add(`${path}.enable_x_ratelimit_headers`, 'x-ratelimit-* headers are not supported by this proxy');
  if (obj(o, 'local_cluster_rate_limit', path, issues)) issues.add(`${path}.local_cluster_rate_limit`, 'sharing the limit across the local cluster is not supported by this proxy');
  return {
    statPrefix,
    status,
    bucket: tokenBucket(o, path, issues),
    enabled: runtimeFraction(o, 'filter_enabled', path, issues),
    enforced: runtimeFraction(o, 'filter_enforced', path, issues),
    responseHeaders: headerMutations(o, 'response_headers_to_add', '', path, issues),
    requestHeadersWhenNotEnforced: headerMutations(o, 'request_headers_to_add_when_not_enforced', '', path, issues),
  };
}

export interface NetworkLocalRateLimit {
  statPrefix: string;
  bucket: TokenBucket | undefined;
  enabled: boolean;
}

export function compileNetworkLocalRateLimit(o: Obj, path: string, issues: Issues): NetworkLocalRateLimit {
  const statPrefix = str(o, 'stat_prefix');
  if (!statPrefix) issues.add(`${path}.stat_prefix`, 'is required');
  const bucket = tokenBucket(o, path, issues);
  if (!isObj(o.token_bucket)) issues.add(`${path}.token_bucket`, 'is required');
  const re = obj(o, 'runtime_enabled', path, issues);
  const dv = re ? wrapped(re, 'default_value') : undefined;
  return { statPrefix, bucket, enabled: typeof dv === 'boolean' ? dv : true };
}

/** envoy.type.v3.StatusCode names for the 4xx/5xx a rate limit may answer with. */
const HTTP_STATUS_NAMES: Record<string, number> = {
  BadRequest: 400, Unauthorized: 401, PaymentRequired: 402, Forbidden: 403, NotFound: 404, MethodNotAllowed: 405, NotAcceptable: 406, RequestTimeout: 408, Conflict: 409, Gone: 410,
  TooManyRequests: 429, InternalServerError: 500, NotImplemented: 501, BadGateway: 502, ServiceUnavailable: 503, GatewayTimeout: 504,
};
