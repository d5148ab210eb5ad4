/**
 * Listener (LDS) validated and compiled: the address, and the one network filter chain we serve on it —
 * an HTTP connection manager (RDS or inline routes, HTTP filters in order) or a TCP proxy.
 */
import { readFileSync } from 'node:fs';
import {
  arr, bool, durationMs, isObj, Issues, obj, socketAddress, str, typeName, wrappedBool, wrappedNum, type Obj, type ValidationResult,
} from './config-fields';
import { compileCors, compileFault, compileRouteConfiguration, type CorsPolicy, type FaultPolicy, type RouteTable } from './config-route';

export type HttpFilterConfig =
  | { kind: 'fault'; defaults: FaultPolicy | undefined }
  | { kind: 'cors'; defaults: CorsPolicy | undefined }
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
}

export interface ListenerConfig {
  name: string;
  host: string;
  port: number;
  bindToPort: boolean;
  hcm: HcmConfig | undefined;
  tcp: TcpProxyConfig | undefined;
  tls: TlsServerConfig | undefined;
  /** A short fingerprint of what requires a rebind: address + kind + tls. */
  socketKey: string;
}

const IGNORABLE_HTTP_FILTERS = new Set(['envoy.filters.http.grpc_stats', 'istio.metadata_exchange', 'istio.stats', 'istio.alpn', 'envoy.filters.http.grpc_web']);

function dataSource(o: Obj | undefined, path: string, issues: Issues): string {
  if (!o) {
    issues.add(path, 'is required');
    return '';
  }
  if (o.inline_string) return str(o, 'inline_string');
  const bytes = o.inline_bytes;
  if (bytes instanceof Uint8Array && bytes.length > 0) return Buffer.from(bytes).toString();
  if (typeof bytes === 'string' && bytes !== '') return Buffer.from(bytes, 'base64').toString();
  if (o.filename) {
    try {
      return readFileSync(str(o, 'filename'), 'utf8');
    } catch (err) {
      issues.add(`${path}.filename`, `cannot read: ${(err as Error).message}`);
      return '';
    }
  }
  issues.add(path, 'needs inline_string, inline_bytes or filename');
  return '';
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
  const first = certs[0];
  if (!isObj(first)) {
    issues.add(`${cp}.tls_certificates`, 'needs one inline or file certificate (SDS is not supported yet)');
    return undefined;
  }
  const cert = dataSource(obj(first, 'certificate_chain', `${cp}.tls_certificates[0]`, issues), `${cp}.tls_certificates[0].certificate_chain`, issues);
  const key = dataSource(obj(first, 'private_key', `${cp}.tls_certificates[0]`, issues), `${cp}.tls_certificates[0].private_key`, issues);
  const vc = obj(common, 'validation_context', cp, issues);
  const ca = vc && isObj(vc.trusted_ca) ? dataSource(vc.trusted_ca, `${cp}.validation_context.trusted_ca`, issues) : undefined;
  const alpn = arr(common, 'alpn_protocols', cp, issues).filter((x): x is string => typeof x === 'string');
  return { cert, key, ca, alpn, requireClientCert: wrappedBool(cfg, 'require_client_certificate', false) };
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
  let hcmCfg: HcmConfig | undefined;
  let tcpCfg: TcpProxyConfig | undefined;
  let tls: TlsServerConfig | undefined;
  const chain = chains[0];
  if (!isObj(chain)) issues.add(`${path}.filter_chains`, 'needs at least one filter chain');
  else {
    const cp = chains.length === 1 && chainPath.endsWith('default_filter_chain') ? chainPath : `${chainPath}[0]`;
    tls = tlsServer(chain, cp, issues);
    const filters = arr(chain, 'filters', cp, issues);
    for (const [i, f] of filters.entries()) {
      const fp = `${cp}.filters[${i}]`;
      if (!isObj(f)) continue;
      const tc = obj(f, 'typed_config', fp, issues);
      const t = tc ? typeName(tc) : '';
      if (tc && t === 'envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager') hcmCfg = hcm(tc, `${fp}.typed_config`, issues);
      else if (tc && t === 'envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy') tcpCfg = tcpProxy(tc, `${fp}.typed_config`, issues);
      else issues.add(fp, `unsupported network filter ${str(f, 'name')}${t ? ` (${t})` : ''}`);
    }
    if (!hcmCfg && !tcpCfg && filters.length > 0) issues.add(`${cp}.filters`, 'needs an http_connection_manager or tcp_proxy filter');
    if (hcmCfg && tcpCfg) issues.add(`${cp}.filters`, 'has both http_connection_manager and tcp_proxy');
  }
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
      socketKey: `${addr.host}:${addr.port}/${kind}/${hcmCfg?.codec ?? ''}/${tls ? 'tls' : 'plain'}`,
    },
  };
}
