/**
 * Listener (LDS) validated and compiled: the address, and the one network filter chain we serve on it —
 * an HTTP connection manager (RDS or inline routes, HTTP filters in order) or a TCP proxy.
 */
import {
  arr, bool, dataSourceText, durationMs, isObj, Issues, obj, socketAddress, str, typeName, wrappedBool, wrappedNum, type Obj, type ValidationResult,
} from './config-fields';
import { compileCors, compileFault, type CorsPolicy, type FaultPolicy } from './config-http-filters';
import { compileRouteConfiguration, type RouteTable } from './config-route';
import { compileHttpLocalRateLimit, compileNetworkLocalRateLimit, HTTP_LOCAL_RATELIMIT, NETWORK_LOCAL_RATELIMIT, type HttpLocalRateLimit, type NetworkLocalRateLimit } from './config-local-ratelimit';
import { checkDistinctMatches, compileFilterChainMatch, EMPTY_MATCH, needsTlsInspector, type FilterChainMatch } from './filter-chain-match';
import { compileRbacFilter, type RbacConfig } from './rbac-policy';

export type HttpFilterConfig =
  | { kind: 'fault'; defaults: FaultPolicy | undefined }
  | { kind: 'cors'; defaults: CorsPolicy | undefined }
  | { kind: 'rbac'; rbac: RbacConfig }
  | { kind: 'local_ratelimit'; config: HttpLocalRateLimit }
  | { kind: 'router' };

export interface HcmConfig {
  statPrefix: string;
  codec: 'AUTO' | 'HTTP1' | 'HTTP2';
  rdsName: string | undefined;
  inlineRoutes: RouteTable | undefined;
  filters: HttpFilterConfig[];
  idleTimeoutMs: number;
  requestTimeoutMs: number;
  requestHeadersTimeoutMs: number;
  streamIdleTimeoutMs: number;
  maxRequestHeadersKb: number;
  useRemoteAddress: boolean;
  xffNumTrustedHops: number;
  generateRequestId: boolean;
  serverName: string;
  /** upgrade_configs: allowed Upgrade types, lower case (e.g. websocket); empty = upgrades refused */
  upgradeTypes: string[];
}

export interface TcpProxyConfig {
  statPrefix: string;
  clusters: { name: string; weight: number }[];
  totalWeight: number;
  idleTimeoutMs: number;
}

export interface TlsServerConfig {
  cert: string;
  key: string;
  ca: string | undefined;
  alpn: string[];
  requireClientCert: boolean;
  /** SDS secret names (Istio: 'default' and 'ROOTCA'), resolved from the local node agent */
  sdsCert: string | undefined;
  sdsCa: string | undefined;
}

/** One filter chain with its filter_chain_match (empty match fields match anything). */
export interface FilterChainConfig {
  name: string;
  /** filter_chain_match compiled (filter-chain-match.ts) */
  match: FilterChainMatch;
  /** listener.default_filter_chain: used only when no other chain matches */
  isDefault: boolean;
  /** match.transportProtocol: 'tls', 'raw_buffer' or '' (any) */
  transportProtocol: string;
  /** match.destinationPort: 0 = any */
  destinationPort: number;
  hcm: HcmConfig | undefined;
  tcp: TcpProxyConfig | undefined;
  tls: TlsServerConfig | undefined;
  /** envoy.filters.network.rbac in this chain */
  networkRbac: RbacConfig | undefined;
  /** envoy.filters.network.local_ratelimit in this chain (checked when the connection is accepted) */
  networkRateLimit: NetworkLocalRateLimit | undefined;
}

export interface ListenerConfig {
  name: string;
  host: string;
  port: number;
  bindToPort: boolean;
  hcm: HcmConfig | undefined;
  tcp: TcpProxyConfig | undefined;
  tls: TlsServerConfig | undefined;
  /** Every filter chain (the fields above are the first chain's); more than one, SDS TLS or a match need the chain listener. */
  chains: FilterChainConfig[];
  /** listener filters that look at the first bytes: tls_inspector (configured, or needed by a match, as Envoy injects it) and http_inspector */
  inspectTls: boolean;
  inspectHttp: boolean;
  /** A short fingerprint of what requires a rebind: address + kind + tls. */
  socketKey: string;
}

const IGNORABLE_NETWORK_FILTERS = new Set(['istio.metadata_exchange', 'istio.stats', 'envoy.filters.network.metadata_exchange']);
const IGNORABLE_HTTP_FILTERS = new Set(['envoy.filters.http.grpc_stats', 'istio.metadata_exchange', 'istio.stats', 'istio.alpn', 'envoy.filters.http.grpc_web']);

function dataSource(o: Obj | undefined, path: string, issues: Issues): string {
  return dataSourceText(o, path, issues, true) ?? '';
}

function tlsServer(chain: Obj, path: string, issues: Issues): TlsServerConfig | undefined {
  const ts = obj(chain, 'transport_socket', path, issues);
  if (!ts) return undefined;
  const tp = `${path}.transport_socket`;
  const cfg = obj(ts, 'typed_config', tp, issues);
  if (!cfg || str(ts, 'name') === 'envoy.transport_sockets.raw_buffer') return undefined;
  if (typeName(cfg) !== 'envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext') {
    issues.add(`${tp}.typed_config`, `unsupported transport socket ${typeName(cfg)}`);
    return undefined;
  }
  const cp = `${tp}.typed_config.common_tls_context`;
  const common = obj(cfg, 'common_tls_context', `${tp}.typed_config`, issues) ?? {};
  const certs = arr(common, 'tls_certificates', cp, issues);
  const sdsCerts = arr(common, 'tls_certificate_sds_secret_configs', cp, issues);
  const combined = obj(common, 'combined_validation_context', cp, issues);
  const sdsVc = obj(common, 'validation_context_sds_secret_config', cp, issues) ?? (combined ? obj(combined, 'validation_context_sds_secret_config', `${cp}.combined_validation_context`, issues) : undefined);
  const sdsCa = sdsVc ? str(sdsVc, 'name') || undefined : undefined;
  const alpn = arr(common, 'alpn_protocols', cp, issues).filter((x): x is string => typeof x === 'string');
  const requireClientCert = wrappedBool(cfg, 'require_client_certificate', false);
  const first = certs[0];
  const sdsFirst = sdsCerts[0];
  if (isObj(sdsFirst)) {
    const sdsCert = str(sdsFirst, 'name');
    if (!sdsCert) issues.add(`${cp}.tls_certificate_sds_secret_configs[0].name`, 'is required');
    const vc = obj(common, 'validation_context', cp, issues);
    const ca = !sdsCa && vc && isObj(vc.trusted_ca) ? dataSource(vc.trusted_ca, `${cp}.validation_context.trusted_ca`, issues) : undefined;
    return { cert: '', key: '', ca, alpn, requireClientCert, sdsCert, sdsCa };
  }
  if (!isObj(first)) {
    issues.add(`${cp}.tls_certificates`, 'needs one inline or file certificate, or tls_certificate_sds_secret_configs');
    return undefined;
  }
  const cert = dataSource(obj(first, 'certificate_chain', `${cp}.tls_certificates[0]`, issues), `${cp}.tls_certificates[0].certificate_chain`, issues);
  const key = dataSource(obj(first, 'private_key', `${cp}.tls_certificates[0]`, issues), `${cp}.tls_certificates[0].private_key`, issues);
  const vc = obj(common, 'validation_context', cp, issues);
  const ca = vc && isObj(vc.trusted_ca) ? dataSource(vc.trusted_ca, `${cp}.validation_context.trusted_ca`, issues) : undefined;
  return { cert, key, ca, alpn, requireClientCert, sdsCert: undefined, sdsCa };
}

function hcm(cfg: Obj, path: string, issues: Issues): HcmConfig {
  const rds = obj(cfg, 'rds', path, issues);
  const inline = obj(cfg, 'route_config', path, issues);
  let inlineRoutes: RouteTable | undefined;
  if (inline) {
    const r = compileRouteConfiguration({ name: 'inline', ...inline }, `${path}.route_config`);
    if (r.ok) inlineRoutes = r.value;
    else for (const e of r.errors) issues.add(e.path, e.message);
  }
  const rdsName = rds ? str(rds, 'route_config_name') : undefined;
  if (!inlineRoutes && !rdsName) issues.add(path, 'needs rds.route_config_name or route_config');
  const filters: HttpFilterConfig[] = [];
  const list = arr(cfg, 'http_filters', path, issues);
  for (const [i, f] of list.entries()) {
    const fp = `${path}.http_filters[${i}]`;
    if (!isObj(f)) continue;
    const name = str(f, 'name');
    const tc = obj(f, 'typed_config', fp, issues);
    const t = tc ? typeName(tc) : '';
    if (t === 'envoy.extensions.filters.http.router.v3.Router' || name === 'envoy.filters.http.router') {
      filters.push({ kind: 'router' });
      if (i !== list.length - 1) issues.add(fp, 'the router filter must be the last HTTP filter');
    } else if (t === 'envoy.extensions.filters.http.fault.v3.HTTPFault' || name === 'envoy.filters.http.fault') {
      const f2 = tc ? compileFault(tc, `${fp}.typed_config`, issues) : undefined;
      filters.push({ kind: 'fault', defaults: f2 && (f2.abortFraction > 0 || f2.delayFraction > 0) ? f2 : undefined });
    } else if (t === 'envoy.extensions.filters.http.cors.v3.Cors' || name === 'envoy.filters.http.cors') {
      filters.push({ kind: 'cors', defaults: undefined });
    } else if ((t === 'envoy.extensions.filters.http.rbac.v3.RBAC' || name === 'envoy.filters.http.rbac') && tc) {
      filters.push({ kind: 'rbac', rbac: compileRbacFilter(tc, `${fp}.typed_config`, issues) });
    } else if ((t === HTTP_LOCAL_RATELIMIT || name === 'envoy.filters.http.local_ratelimit') && tc) {
      filters.push({ kind: 'local_ratelimit', config: compileHttpLocalRateLimit(tc, `${fp}.typed_config`, issues) });
    } else if (t === 'envoy.extensions.filters.http.cors.v3.CorsPolicy' && tc) {
      filters.push({ kind: 'cors', defaults: compileCors(tc, `${fp}.typed_config`, issues) });
    } else if (!bool(f, 'is_optional') && !IGNORABLE_HTTP_FILTERS.has(name)) {
      issues.add(fp, `unsupported HTTP filter ${name}${t ? ` (${t})` : ''}`);
    }
  }
  if (filters.length === 0 || filters[filters.length - 1]?.kind !== 'router') issues.add(`${path}.http_filters`, 'must end with the router filter');
  const common = obj(cfg, 'common_http_protocol_options', path, issues) ?? {};
  const codec = str(cfg, 'codec_type') || 'AUTO';
  const maxKb = wrappedNum(cfg, 'max_request_headers_kb', 60);
  if (maxKb < 1 || maxKb > 8192) issues.add(`${path}.max_request_headers_kb`, `must be in 1..8192, got ${maxKb}`);
  return {
    statPrefix: str(cfg, 'stat_prefix'),
    codec: codec === 'HTTP1' || codec === 'HTTP2' ? codec : 'AUTO',
    rdsName,
    inlineRoutes,
    filters,
    idleTimeoutMs: durationMs(common, 'idle_timeout', 3_600_000, `${path}.common_http_protocol_options`, issues),
    requestTimeoutMs: durationMs(cfg, 'request_timeout', 0, path, issues),
    requestHeadersTimeoutMs: durationMs(cfg, 'request_headers_timeout', 0, path, issues),
    streamIdleTimeoutMs: durationMs(cfg, 'stream_idle_timeout', 300_000, path, issues),
    maxRequestHeadersKb: maxKb,
    useRemoteAddress: wrappedBool(cfg, 'use_remote_address', false),
    xffNumTrustedHops: typeof cfg.xff_num_trusted_hops === 'number' ? cfg.xff_num_trusted_hops : 0,
    generateRequestId: wrappedBool(cfg, 'generate_request_id', true),
    serverName: str(cfg, 'server_name') || 'envoy',
    upgradeTypes: arr(cfg, 'upgrade_configs', path, issues)
      .filter((u): u is Obj => isObj(u) && wrappedBool(u, 'enabled', true))
      .map((u) => str(u, 'upgrade_type').toLowerCase())
      .filter(Boolean),
  };
}

function tcpProxy(cfg: Obj, path: string, issues: Issues): TcpProxyConfig {
  const clusters: TcpProxyConfig['clusters'] = [];
  if (str(cfg, 'cluster')) clusters.push({ name: str(cfg, 'cluster'), weight: 1 });
  else {
    const wc = obj(cfg, 'weighted_clusters', path, issues);
    for (const [i, c] of (wc ? arr(wc, 'clusters', `${path}.weighted_clusters`, issues) : []).entries()) {
      if (!isObj(c) || !str(c, 'name')) issues.add(`${path}.weighted_clusters.clusters[${i}].name`, 'is required');
      else clusters.push({ name: str(c, 'name'), weight: typeof c.weight === 'number' ? c.weight : 1 });
    }
  }
  if (clusters.length === 0) issues.add(path, 'needs cluster or weighted_clusters');
  return {
    statPrefix: str(cfg, 'stat_prefix'),
    clusters,
    totalWeight: clusters.reduce((s, c) => s + c.weight, 0),
    idleTimeoutMs: durationMs(cfg, 'idle_timeout', 3_600_000, path, issues),
  };
}

function filterChain(chain: Obj, cp: string, issues: Issues, isDefault = false): FilterChainConfig {
  const match = isDefault ? EMPTY_MATCH : compileFilterChainMatch(obj(chain, 'filter_chain_match', cp, issues), `${cp}.filter_chain_match`, issues);
  const out: FilterChainConfig = {
    name: str(chain, 'name'),
    match,
    isDefault,
    transportProtocol: match.transportProtocol,
    destinationPort: match.destinationPort,
    hcm: undefined,
    tcp: undefined,
    tls: tlsServer(chain, cp, issues),
    networkRbac: undefined,
    networkRateLimit: undefined,
  };
  const filters = arr(chain, 'filters', cp, issues);
  for (const [i, f] of filters.entries()) {
    const fp = `${cp}.filters[${i}]`;
    if (!isObj(f)) continue;
    const tc = obj(f, 'typed_config', fp, issues);
    const t = tc ? typeName(tc) : '';
    const name = str(f, 'name');
    if (tc && t === 'envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager') out.hcm = hcm(tc, `${fp}.typed_config`, issues);
    else if (tc && t === 'envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy') out.tcp = tcpProxy(tc, `${fp}.typed_config`, issues);
    else if (tc && t === 'envoy.extensions.filters.network.rbac.v3.RBAC') {
      if (out.hcm || out.tcp) issues.add(fp, 'the RBAC network filter must come before the terminal filter');
      out.networkRbac = compileRbacFilter(tc, `${fp}.typed_config`, issues);
    } else if (tc && t === NETWORK_LOCAL_RATELIMIT) {
      if (out.hcm || out.tcp) issues.add(fp, 'the local rate limit network filter must come before the terminal filter');
      out.networkRateLimit = compileNetworkLocalRateLimit(tc, `${fp}.typed_config`, issues);
    } else if (!IGNORABLE_NETWORK_FILTERS.has(name)) issues.add(fp, `unsupported network filter ${name}${t ? ` (${t})` : ''}`);
  }
  if (!out.hcm && !out.tcp && filters.length > 0) issues.add(`${cp}.filters`, 'needs an http_connection_manager or tcp_proxy filter');
  if (out.hcm && out.tcp) issues.add(`${cp}.filters`, 'has both http_connection_manager and tcp_proxy');
  return out;
}

export function compileListener(l: Obj, path = 'listener'): ValidationResult<ListenerConfig> {
  const issues = new Issues();
  const name = str(l, 'name');
  if (!name) issues.add(`${path}.name`, 'is required');
  if (l.api_listener) issues.add(`${path}.api_listener`, 'api_listener is for proxyless clients; a sidecar needs a socket listener');
  const addr = socketAddress(obj(l, 'address', path, issues), `${path}.address`, issues);
  let chains = arr(l, 'filter_chains', path, issues);
  let chainPath = `${path}.filter_chains`;
  const def = obj(l, 'default_filter_chain', path, issues);
  if (chains.length === 0 && def) {
    chains = [def];
    chainPath = `${path}.default_filter_chain`;
  }
  const compiled: FilterChainConfig[] = [];
  const chainPaths: string[] = [];
  if (chains.length === 0) issues.add(`${path}.filter_chains`, 'needs at least one filter chain');
  for (const [ci, chain] of chains.entries()) {
    if (!isObj(chain)) continue;
    const onlyDefault = chainPath.endsWith('default_filter_chain');
    const cp = onlyDefault ? chainPath : `${chainPath}[${ci}]`;
    compiled.push(filterChain(chain, cp, issues, onlyDefault));
    chainPaths.push(cp);
  }
  checkDistinctMatches(compiled, chainPaths, issues);
  // default_filter_chain: the chain of last resort, when no filter_chain_match matches.
  if (def && chainPath !== `${path}.default_filter_chain`) compiled.push(filterChain(def, `${path}.default_filter_chain`, issues, true));
  const listenerFilters = arr(l, 'listener_filters', path, issues).filter(isObj);
  const hasFilter = (name: string, type: string) => listenerFilters.some((f) => str(f, 'name') === name || (isObj(f.typed_config) && typeName(f.typed_config) === type));
  const inspectTls = hasFilter('envoy.filters.listener.tls_inspector', 'envoy.extensions.filters.listener.tls_inspector.v3.TlsInspector') || compiled.some((c) => needsTlsInspector(c.match));
  const inspectHttp = hasFilter('envoy.filters.listener.http_inspector', 'envoy.extensions.filters.listener.http_inspector.v3.HttpInspector');
  const kinds = new Set(compiled.map((c) => (c.hcm ? 'http' : 'tcp')));
  if (kinds.size > 1 && compiled.some((c) => !c.hcm && !c.tcp)) issues.add(`${path}.filter_chains`, 'every filter chain needs an http_connection_manager or tcp_proxy filter');
  const firstChain = compiled[0];
  const hcmCfg = firstChain?.hcm;
  const tcpCfg = firstChain?.tcp;
  const tls = firstChain?.tls;
  const chained = compiled.length > 1 || compiled.some((c) => c.match !== EMPTY_MATCH || c.networkRbac !== undefined || c.networkRateLimit !== undefined || c.tls?.sdsCert !== undefined);
  if (issues.list.length || !addr) return { ok: false, errors: issues.list };
  const kind = hcmCfg ? 'http' : 'tcp';
  return {
    ok: true,
    value: {
      name,
      host: addr.host,
      port: addr.port,
      bindToPort: wrappedBool(l, 'bind_to_port', true),
      hcm: hcmCfg,
      tcp: tcpCfg,
      tls,
      chains: compiled,
      inspectTls,
      inspectHttp,
      socketKey: chained ? `${addr.host}:${addr.port}/chains` : `${addr.host}:${addr.port}/${kind}/${hcmCfg?.codec ?? ''}/${tls ? 'tls' : 'plain'}`,
    },
  };
}
