/**
 * The fault and CORS filter configs (HTTPFault, CorsPolicy) validated and compiled, for the connection
 * manager's filter list (config-listener.ts) and for typed_per_filter_config on routes and virtual hosts,
 * which also carries the local rate limit (config-local-ratelimit.ts).
 */
import { compileHttpLocalRateLimit, HTTP_LOCAL_RATELIMIT, type HttpLocalRateLimit } from './config-local-ratelimit';
import { arr, durationMs, fraction, isObj, Issues, num, obj, oneof, str, stringMatcher, typeName, wrappedBool, type Obj } from './config-fields';

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

export interface PerFilter {
  fault: FaultPolicy | undefined;
  cors: CorsPolicy | undefined;
  rateLimit: HttpLocalRateLimit | undefined;
}

/** typed_per_filter_config: fault, CORS and local rate limit per route / virtual host. */
export function perFilter(o: Obj, path: string, issues: Issues): PerFilter {
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
