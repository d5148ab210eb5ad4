/**
 * Cluster (CDS) and ClusterLoadAssignment (EDS) validated and compiled: LB policy, protocol, timeouts,
 * circuit breakers, outlier detection, health checks, and endpoints with weights and health.
 */
import {
  arr, dataSourceText, durationMs, isObj, Issues, num, obj, socketAddress, str, typeName, wrappedNum, type Obj, type ValidationResult,
} from './config-fields';

export type LbPolicy = 'ROUND_ROBIN' | 'LEAST_REQUEST' | 'RANDOM' | 'RING_HASH' | 'MAGLEV';

export interface CircuitBreakers {
  maxConnections: number;
  maxPendingRequests: number;
  maxRequests: number;
  maxRetries: number;
}

export interface OutlierPolicy {
  consecutive5xx: number;
  consecutiveGatewayFailure: number;
  intervalMs: number;
  baseEjectionMs: number;
  maxEjectionPercent: number;
  enforcing5xx: number;
  enforcingGateway: number;
}

export interface HealthCheckPolicy {
  timeoutMs: number;
  intervalMs: number;
  unhealthyThreshold: number;
  healthyThreshold: number;
  /** HTTP path, or undefined for a TCP connect check */
  httpPath: string | undefined;
  host: string;
  expectedStatuses: [number, number][];
}

export interface ClusterConfig {
  name: string;
  type: 'EDS' | 'STATIC' | 'STRICT_DNS' | 'LOGICAL_DNS';
  /** EDS resource name (eds_cluster_config.service_name or the cluster name). */
  edsName: string;
  connectTimeoutMs: number;
  lbPolicy: LbPolicy;
  http2: boolean;
  /** LEAST_REQUEST choice_count */
  choiceCount: number;
  ringMin: number;
  ringMax: number;
  breakers: CircuitBreakers;
  outlier: OutlierPolicy | undefined;
  healthCheck: HealthCheckPolicy | undefined;
  /** Endpoints from load_assignment (STATIC/DNS clusters). */
  inlineEndpoints: EndpointsConfig | undefined;
  /** TLS to the endpoints (transport_socket UpstreamTlsContext), undefined for plaintext */
  upstreamTls: UpstreamTlsConfig | undefined;
  /** max_requests_per_connection (0 = unlimited) */
  maxRequestsPerConnection: number;
  idleTimeoutMs: number;
}

export interface UpstreamTlsConfig {
  sni: string;
  /** PEM; undefined = do not verify the peer (Envoy's behaviour without a validation context) */
  ca: string | undefined;
  cert: string | undefined;
  key: string | undefined;
  alpn: string[];
  /** match_typed_subject_alt_names: the peer must present one of these (URI or DNS SANs) */
  sans: string[];
  /** prefix matchers of match_typed_subject_alt_names (e.g. a trust domain "spiffe://cluster.local/") */
  sanPrefixes: string[];
  /** SDS secret names (Istio: 'default', 'ROOTCA'), resolved by the cluster manager from the node agent */
  sdsCert: string | undefined;
  sdsCa: string | undefined;
  /** Set when the context needs something this proxy cannot do (SDS secrets): requests fail with 503 UF. */
  unsupported: string | undefined;
}

export interface EndpointConfig {
  host: string;
  port: number;
  weight: number;
  /** HEALTHY/UNKNOWN count as healthy, like Envoy */
  healthy: boolean;
  priority: number;
  locality: string;
}

export interface EndpointsConfig {
  clusterName: string;
  endpoints: EndpointConfig[];
}

const LB: readonly string[] = ['ROUND_ROBIN', 'LEAST_REQUEST', 'RANDOM', 'RING_HASH', 'MAGLEV'];
const UNLIMITED = Number.MAX_SAFE_INTEGER;

function breakers(c: Obj, path: string, issues: Issues): CircuitBreakers {
  // Envoy defaults: 1024 connections, pending requests and requests, 3 retries.
  const out: CircuitBreakers = { maxConnections: 1024, maxPendingRequests: 1024, maxRequests: 1024, maxRetries: 3 };
  const cb = obj(c, 'circuit_breakers', path, issues);
  if (!cb) return out;
  for (const t of arr(cb, 'thresholds', `${path}.circuit_breakers`, issues)) {
    if (!isObj(t)) continue;
    const prio = str(t, 'priority');
    if (prio !== '' && prio !== 'DEFAULT') continue;
    out.maxConnections = wrappedNum(t, 'max_connections', out.maxConnections);
    out.maxPendingRequests = wrappedNum(t, 'max_pending_requests', out.maxPendingRequests);
    out.maxRequests = wrappedNum(t, 'max_requests', out.maxRequests);
    out.maxRetries = wrappedNum(t, 'max_retries', out.maxRetries);
  }
  for (const k of Object.keys(out) as (keyof CircuitBreakers)[]) if (out[k] >= 0xffffffff) out[k] = UNLIMITED;
  return out;
}

function outlier(c: Obj, path: string, issues: Issues): OutlierPolicy | undefined {
  const od = obj(c, 'outlier_detection', path, issues);
  if (!od) return undefined;
  const p = `${path}.outlier_detection`;
  return {
    consecutive5xx: wrappedNum(od, 'consecutive_5xx', 5),
    consecutiveGatewayFailure: wrappedNum(od, 'consecutive_gateway_failure', 5),
    intervalMs: durationMs(od, 'interval', 10_000, p, issues),
    baseEjectionMs: durationMs(od, 'base_ejection_time', 30_000, p, issues),
    maxEjectionPercent: wrappedNum(od, 'max_ejection_percent', 10),
    enforcing5xx: wrappedNum(od, 'enforcing_consecutive_5xx', 100),
    enforcingGateway: wrappedNum(od, 'enforcing_consecutive_gateway_failure', 0),
  };
}

function healthCheck(c: Obj, path: string, issues: Issues): HealthCheckPolicy | undefined {
  const list = arr(c, 'health_checks', path, issues);
  const hc = list[0];
  if (!isObj(hc)) return undefined;
  const p = `${path}.health_checks[0]`;
  const http = obj(hc, 'http_health_check', p, issues);
  const tcp = obj(hc, 'tcp_health_check', p, issues);
  if (!http && !tcp) issues.add(p, 'only http_health_check and tcp_health_check are supported');
  const expected: [number, number][] = [];
  if (http) {
    for (const r of arr(http, 'expected_statuses', `${p}.http_health_check`, issues)) {
      if (isObj(r)) expected.push([num(r, 'start', 200), num(r, 'end', 201)]);
    }
  }
  if (expected.length === 0) expected.push([200, 201]);
  const interval = durationMs(hc, 'interval', 0, p, issues);
  const timeout = durationMs(hc, 'timeout', 0, p, issues);
  if (interval <= 0) issues.add(`${p}.interval`, 'is required and must be positive');
  if (timeout <= 0) issues.add(`${p}.timeout`, 'is required and must be positive');
  return {
    timeoutMs: timeout,
    intervalMs: interval,
    unhealthyThreshold: wrappedNum(hc, 'unhealthy_threshold', 1),
    healthyThreshold: wrappedNum(hc, 'healthy_threshold', 1),
    httpPath: http ? str(http, 'path') || '/' : undefined,
    host: http ? str(http, 'host') : '',
    expectedStatuses: expected,
  };
}

function usesHttp2(c: Obj, path: string, issues: Issues): boolean {
  if (obj(c, 'http2_protocol_options', path, issues)) return true;
  const opts = obj(c, 'typed_extension_protocol_options', path, issues);
  if (!opts) return false;
  for (const raw of Object.values(opts)) {
    if (!isObj(raw) || typeName(raw) !== 'envoy.extensions.upstreams.http.v3.HttpProtocolOptions') continue;
    const explicit = isObj(raw.explicit_http_config) ? raw.explicit_http_config : undefined;
    if (explicit && isObj(explicit.http2_protocol_options)) return true;
    if (isObj(raw.use_downstream_protocol_config)) return false;
  }
  return false;
}


function upstreamTls(ts: Obj | undefined, path: string, issues: Issues): UpstreamTlsConfig | undefined {
  if (!ts || str(ts, 'name') === 'envoy.transport_sockets.raw_buffer') return undefined;
  const cfg = obj(ts, 'typed_config', path, issues);
  if (!cfg) return undefined;
  if (typeName(cfg) !== 'envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext') {
    issues.add(`${path}.typed_config`, `unsupported transport socket ${typeName(cfg)}`);
    return undefined;
  }
  const cp = `${path}.typed_config.common_tls_context`;
  const common = obj(cfg, 'common_tls_context', `${path}.typed_config`, issues) ?? {};
  const combined = obj(common, 'combined_validation_context', cp, issues);
  const vc = obj(common, 'validation_context', cp, issues) ?? (combined ? obj(combined, 'default_validation_context', `${cp}.combined_validation_context`, issues) : undefined);
  const sans: string[] = [];
  const sanPrefixes: string[] = [];
  for (const [i, m] of (vc ? arr(vc, 'match_typed_subject_alt_names', `${cp}.validation_context`, issues) : []).entries()) {
    if (!isObj(m) || !isObj(m.matcher)) continue;
    if (str(m.matcher, 'exact')) sans.push(str(m.matcher, 'exact'));
    else if (str(m.matcher, 'prefix')) sanPrefixes.push(str(m.matcher, 'prefix'));
    else issues.add(`${cp}.validation_context.match_typed_subject_alt_names[${i}].matcher`, 'only exact and prefix SAN matchers are supported');
  }
  const sdsCertCfg = arr(common, 'tls_certificate_sds_secret_configs', cp, issues)[0];
  const sdsVc = isObj(common.validation_context_sds_secret_config) ? common.validation_context_sds_secret_config : combined && isObj(combined.validation_context_sds_secret_config) ? combined.validation_context_sds_secret_config : undefined;
  const sdsCert = isObj(sdsCertCfg) ? str(sdsCertCfg, 'name') : undefined;
  const sdsCa = sdsVc ? str(sdsVc, 'name') : undefined;
  const sds = sdsCert !== undefined || sdsCa !== undefined;
  const first = arr(common, 'tls_certificates', cp, issues)[0];
  return {
    sni: str(cfg, 'sni'),
    ca: vc ? dataSourceText(vc.trusted_ca, `${cp}.validation_context.trusted_ca`, issues) : undefined,
    cert: isObj(first) ? dataSourceText(first.certificate_chain, `${cp}.tls_certificates[0].certificate_chain`, issues) : undefined,
    key: isObj(first) ? dataSourceText(first.private_key, `${cp}.tls_certificates[0].private_key`, issues) : undefined,
    alpn: arr(common, 'alpn_protocols', cp, issues).filter((x): x is string => typeof x === 'string'),
    sans,
    sanPrefixes,
    sdsCert,
    sdsCa,
    unsupported: sds ? 'upstream TLS with SDS secrets needs the node agent (--ca-address)' : undefined,
  };
}

export function compileEndpoints(cla: Obj, path = 'cluster_load_assignment'): ValidationResult<EndpointsConfig> {
  const issues = new Issues();
  const clusterName = str(cla, 'cluster_name');
  if (!clusterName) issues.add(`${path}.cluster_name`, 'is required');
  const endpoints: EndpointConfig[] = [];
  for (const [i, loc] of arr(cla, 'endpoints', path, issues).entries()) {
    const lp = `${path}.endpoints[${i}]`;
    if (!isObj(loc)) continue;
    const l = obj(loc, 'locality', lp, issues);
    const locality = l ? [str(l, 'region'), str(l, 'zone'), str(l, 'sub_zone')].join('/') : '';
    const priority = num(loc, 'priority', 0);
    const locWeight = wrappedNum(loc, 'load_balancing_weight', 1);
    for (const [j, lbe] of arr(loc, 'lb_endpoints', lp, issues).entries()) {
      const ep = `${lp}.lb_endpoints[${j}]`;
      if (!isObj(lbe)) continue;
      const e = obj(lbe, 'endpoint', ep, issues);
      const addr = socketAddress(e ? obj(e, 'address', `${ep}.endpoint`, issues) : undefined, `${ep}.endpoint.address`, issues);
      if (!addr) continue;
      const weight = wrappedNum(lbe, 'load_balancing_weight', 1);
      if (weight < 1) issues.add(`${ep}.load_balancing_weight`, 'must be at least 1');
      const hs = str(lbe, 'health_status');
      endpoints.push({
        host: addr.host,
        port: addr.port,
        weight: Math.max(1, weight) * Math.max(1, locWeight),
        healthy: hs === '' || hs === 'UNKNOWN' || hs === 'HEALTHY',
        priority,
        locality,
      });
    }
  }
  return issues.list.length ? { ok: false, errors: issues.list } : { ok: true, value: { clusterName, endpoints } };
}

export function compileCluster(c: Obj, path = 'cluster'): ValidationResult<ClusterConfig> {
  const issues = new Issues();
  const name = str(c, 'name');
  if (!name) issues.add(`${path}.name`, 'is required');
  const rawType = str(c, 'type') || 'STATIC';
  let type: ClusterConfig['type'] = 'STATIC';
  if (c.cluster_type) issues.add(`${path}.cluster_type`, 'custom cluster types are not supported');
  else if (rawType === 'EDS' || rawType === 'STATIC' || rawType === 'STRICT_DNS' || rawType === 'LOGICAL_DNS') type = rawType;
  else issues.add(`${path}.type`, `unsupported discovery type ${rawType}`);
  const lb = str(c, 'lb_policy') || 'ROUND_ROBIN';
  if (!LB.includes(lb)) issues.add(`${path}.lb_policy`, `unsupported lb_policy ${lb}`);
  const eds = obj(c, 'eds_cluster_config', path, issues);
  const la = obj(c, 'load_assignment', path, issues);
  let inline: EndpointsConfig | undefined;
  if (la) {
    const r = compileEndpoints({ ...la, cluster_name: str(la, 'cluster_name') || name }, `${path}.load_assignment`);
    if (r.ok) inline = r.value;
    else for (const e of r.errors) issues.add(e.path, e.message);
  }
  if (type !== 'EDS' && !inline) issues.add(`${path}.load_assignment`, `is required for a ${type} cluster`);
  const lr = obj(c, 'least_request_lb_config', path, issues) ?? {};
  const rh = obj(c, 'ring_hash_lb_config', path, issues) ?? {};
  const ringMin = wrappedNum(rh, 'minimum_ring_size', 1024);
  const ringMax = wrappedNum(rh, 'maximum_ring_size', 8 * 1024 * 1024);
  if (ringMin > ringMax) issues.add(`${path}.ring_hash_lb_config.minimum_ring_size`, 'must not exceed maximum_ring_size');
  const connectTimeoutMs = durationMs(c, 'connect_timeout', 5000, path, issues);
  const tls = upstreamTls(obj(c, 'transport_socket', path, issues), `${path}.transport_socket`, issues);
  const value: ClusterConfig = {
    name,
    type,
    edsName: (eds && str(eds, 'service_name')) || name,
    connectTimeoutMs: connectTimeoutMs > 0 ? connectTimeoutMs : 5000,
    lbPolicy: (LB.includes(lb) ? lb : 'ROUND_ROBIN') as LbPolicy,
    http2: usesHttp2(c, path, issues),
    choiceCount: wrappedNum(lr, 'choice_count', 2),
    ringMin,
    ringMax: Math.min(ringMax, 8 * 1024 * 1024),
    breakers: breakers(c, path, issues),
    outlier: outlier(c, path, issues),
    healthCheck: healthCheck(c, path, issues),
    inlineEndpoints: inline,
    upstreamTls: tls,
    maxRequestsPerConnection: wrappedNum(c, 'max_requests_per_connection', 0),
    idleTimeoutMs: 3_600_000,
  };
  return issues.list.length ? { ok: false, errors: issues.list } : { ok: true, value };
}
