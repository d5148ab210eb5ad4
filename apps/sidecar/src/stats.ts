/**
 * Istio's standard metrics (istio_requests_total, istio_request_duration_milliseconds, istio_request_bytes,
 * istio_response_bytes, istio_tcp_*) with Istio's labels, kept in plain maps and written in the Prometheus
 * text format on demand. A lean writer instead of prom-client: one string key and a few array increments
 * per request, nothing allocated for a series that exists already.
 */
import type { NodeIdentity } from './node-identity';
import { encodeSelf, PeerCache, UNKNOWN_PEER, type PeerInfo } from './peer-metadata';

const DURATION_BUCKETS = [0.5, 1, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000, 60000, 300000, 600000, 1800000, 3600000];
const BYTES_BUCKETS = [1, 10, 100, 1000, 10000, 100000, 1000000, 10000000, 100000000];

class Histogram {
  readonly counts: Float64Array;
  sum = 0;
  count = 0;
  constructor(readonly buckets: readonly number[]) {
    this.counts = new Float64Array(buckets.length);
  }
  observe(v: number): void {
    this.sum += v;
    this.count++;
    const b = this.buckets;
    for (let i = 0; i < b.length; i++) if (v <= b[i]) this.counts[i]++;
  }
}

/** [metric name, label text, value]; lines of one metric must be adjacent. */
export type PromLine = [string, string, number];

class RequestSeries {
  count = 0;
  readonly duration = new Histogram(DURATION_BUCKETS);
  readonly requestBytes = new Histogram(BYTES_BUCKETS);
  readonly responseBytes = new Histogram(BYTES_BUCKETS);
  constructor(readonly labels: string) {}
}

class TcpSeries {
  sent = 0;
  received = 0;
  opened = 0;
  closed = 0;
  constructor(readonly labels: string) {}
}

function esc(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

/** Parses Istio cluster names: `outbound|9080|v1|reviews.default.svc.cluster.local`, `inbound|8080||`. */
export function parseClusterName(name: string): { direction: 'outbound' | 'inbound' | 'other'; port: string; subset: string; host: string } {
  const parts = name.split('|');
  if (parts.length === 4 && (parts[0] === 'outbound' || parts[0] === 'inbound')) {
    return { direction: parts[0], port: parts[1], subset: parts[2], host: parts[3] };
  }
  return { direction: 'other', port: '', subset: '', host: name };
}

export class MeshStats {
  private readonly requests = new Map<string, RequestSeries>();
  private readonly requestsByCluster = new Map<string, Map<PeerInfo, Map<string, RequestSeries>>>();
  private readonly tcp = new Map<string, TcpSeries>();
  private readonly peerCache = new Map<string, string>();
  private readonly self: { workload: string; namespace: string; app: string; version: string; principal: string; cluster: string };
  /** server-wide counters, Envoy names */
  readonly server = { downstream_rq_total: 0, downstream_cx_total: 0, downstream_rq_4xx: 0, downstream_rq_5xx: 0, downstream_rq_2xx: 0, downstream_rq_rx_reset: 0, http_400_rejected: 0, http_431_rejected: 0, downstream_rq_timeout: 0, downstream_rq_idle_timeout: 0, rbac_allowed: 0, rbac_denied: 0, rbac_logged: 0, rbac_shadow_denied: 0 };

  /** this proxy's metadata exchange headers (encoded once) and the peers decoded so far */
  readonly selfMetadata: ReturnType<typeof encodeSelf>;
  readonly peers = new PeerCache();

  constructor(node: NodeIdentity) {
    const m = node.metadata;
    this.selfMetadata = encodeSelf(node);
    this.self = {
      workload: String(m.WORKLOAD_NAME ?? node.podName),
      namespace: node.namespace,
      app: node.labels.app ?? 'unknown',
      version: node.labels.version ?? 'unknown',
      principal: typeof m.SERVICE_ACCOUNT === 'string' ? `spiffe://cluster.local/ns/${node.namespace}/sa/${m.SERVICE_ACCOUNT}` : 'unknown',
      cluster: String(m.CLUSTER_ID ?? 'Kubernetes'),
    };
  }

  /** Everything but the per-request labels, cached per upstream cluster name, peer and peer principal. */
  private peerLabels(cluster: string, peer: PeerInfo, principal: string): string {
    const cacheKey = peer === UNKNOWN_PEER && principal === '' ? cluster : undefined;
    if (cacheKey !== undefined) {
      const cached = this.peerCache.get(cacheKey);
      if (cached !== undefined) return cached;
    }
    const c = parseClusterName(cluster);
    const me = this.self;
    const svc = c.host || 'unknown';
    const dot = svc.indexOf('.');
    const svcName = dot > 0 ? svc.slice(0, dot) : svc;
    const svcNs = dot > 0 ? svc.slice(dot + 1).split('.')[0] : 'unknown';
    const inbound = c.direction === 'inbound';
    const known = (v: string, fallback: string): string => (v === 'unknown' ? fallback : v);
    const labels: [string, string][] = [
      ['reporter', inbound ? 'destination' : 'source'],
      ['source_workload', inbound ? peer.workload : me.workload],
      ['source_canonical_service', inbound ? peer.app : me.app],
      ['source_workload_namespace', inbound ? peer.namespace : me.namespace],
      ['source_principal', inbound ? principal || 'unknown' : me.principal],
      ['source_app', inbound ? peer.app : me.app],
      ['source_version', inbound ? peer.version : me.version],
      ['source_cluster', inbound ? peer.cluster : me.cluster],
      ['destination_workload', inbound ? me.workload : peer.workload],
      ['destination_workload_namespace', inbound ? me.namespace : known(peer.namespace, svcNs)],
      ['destination_principal', inbound ? me.principal : principal || peer.principal],
      ['destination_app', inbound ? me.app : peer.app],
      ['destination_version', inbound ? me.version : known(peer.version, c.subset || 'unknown')],
      ['destination_service', inbound ? 'unknown' : svc],
      ['destination_canonical_service', inbound ? me.app : svcName],
      ['destination_service_name', inbound ? me.app : svcName],
      ['destination_service_namespace', inbound ? me.namespace : svcNs],
      ['destination_cluster', inbound ? me.cluster : peer.cluster],
    ];
    const s = labels.map(([k, v]) => `${k}="${esc(v)}"`).join(',');
    if (cacheKey !== undefined) this.peerCache.set(cacheKey, s);
    return s;
  }

  /**
   * One finished request. `peer` is what the other sidecar said about itself (metadata exchange), and
   * `principal` the SPIFFE id of an mTLS downstream ('' when none): an inbound request with one counts
   * as connection_security_policy="mutual_tls", without one as "none"; the client side reports "unknown".
   */
  /** the series of the previous request and what selected it */
  private lastSeries: { byPeer: Map<string, RequestSeries>; code: number; flags: string; protocol: string; grpcStatus: string; principal: string; series: RequestSeries } | undefined = undefined;

  recordRequest(cluster: string, peer: PeerInfo, principal: string, protocol: string, code: number, grpcStatus: string, flags: string, durationMs: number, reqBytes: number, respBytes: number): void {
    // Two levels: the long label prefix is per cluster (and peer); the per-request part is a short key.
    let byCluster = this.requestsByCluster.get(cluster);
    if (!byCluster) {
      byCluster = new Map();
      this.requestsByCluster.set(cluster, byCluster);
    }
    let byPeer = byCluster.get(peer);
    if (!byPeer) {
      byPeer = new Map();
      byCluster.set(peer, byPeer);
    }
    // Steady traffic repeats the same series: check the last one by its parts before building a key.
    const last = this.lastSeries;
    if (last !== undefined && last.byPeer === byPeer && last.code === code && last.flags === flags && last.protocol === protocol && last.grpcStatus === grpcStatus && last.principal === principal) {
      const hit = last.series;
      hit.count++;
      hit.duration.observe(durationMs);
      hit.requestBytes.observe(reqBytes);
      hit.responseBytes.observe(respBytes);
      return;
    }
    const short = principal === '' ? `${code}|${flags}|${protocol}|${grpcStatus}` : `${code}|${flags}|${protocol}|${grpcStatus}|${principal}`;
    let s = byPeer.get(short);
    if (!s) {
      const policy = parseClusterName(cluster).direction !== 'inbound' ? 'unknown' : principal !== '' ? 'mutual_tls' : 'none';
      const key = `${this.peerLabels(cluster, peer, principal)},request_protocol="${protocol}",response_code="${code}",grpc_response_status="${grpcStatus}",response_flags="${flags}",connection_security_policy="${policy}"`;
      s = this.requests.get(key);
      if (!s) {
        s = new RequestSeries(key);
        this.requests.set(key, s);
      }
      byPeer.set(short, s);
    }
    this.lastSeries = { byPeer, code, flags, protocol, grpcStatus, principal, series: s };
    s.count++;
    s.duration.observe(durationMs);
    s.requestBytes.observe(reqBytes);
    s.responseBytes.observe(respBytes);
  }

  /**
   * `principal`: the peer's SPIFFE id from the TLS session ('' for none): inbound the downstream's
   * (source_principal, and connection_security_policy mutual_tls/none), outbound the upstream's
   * (destination_principal; the client side reports the policy as "unknown", as Istio does).
   */
  private tcpSeries(cluster: string, flags: string, principal: string): TcpSeries {
    const policy = parseClusterName(cluster).direction !== 'inbound' ? 'unknown' : principal !== '' ? 'mutual_tls' : 'none';
    const key = `${this.peerLabels(cluster, UNKNOWN_PEER, principal)},request_protocol="tcp",response_flags="${flags}",connection_security_policy="${policy}"`;
    let s = this.tcp.get(key);
    if (!s) {
      s = new TcpSeries(key);
      this.tcp.set(key, s);
    }
    return s;
  }

  tcpOpened(cluster: string, principal = ''): void {
    this.tcpSeries(cluster, '-', principal).opened++;
  }

  tcpClosed(cluster: string, flags: string, sent: number, received: number, principal = ''): void {
    const s = this.tcpSeries(cluster, flags, principal);
    s.closed++;
    s.sent += sent;
    s.received += received;
  }

  private histogram(out: string[], name: string, labels: string, h: Histogram): void {
    for (let i = 0; i < h.buckets.length; i++) out.push(`${name}_bucket{${labels},le="${h.buckets[i]}"} ${h.counts[i]}`);
    out.push(`${name}_bucket{${labels},le="+Inf"} ${h.count}`, `${name}_sum{${labels}} ${h.sum}`, `${name}_count{${labels}} ${h.count}`);
  }

  /** Prometheus text exposition of the Istio metrics plus `extra` lines (Envoy-style counters). */
  prometheus(extra: readonly PromLine[]): string {
    const out: string[] = [];
    out.push('# TYPE istio_requests_total counter');
    for (const s of this.requests.values()) out.push(`istio_requests_total{${s.labels}} ${s.count}`);
    out.push('# TYPE istio_request_duration_milliseconds histogram');
    for (const s of this.requests.values()) this.histogram(out, 'istio_request_duration_milliseconds', s.labels, s.duration);
    out.push('# TYPE istio_request_bytes histogram');
    for (const s of this.requests.values()) this.histogram(out, 'istio_request_bytes', s.labels, s.requestBytes);
    out.push('# TYPE istio_response_bytes histogram');
    for (const s of this.requests.values()) this.histogram(out, 'istio_response_bytes', s.labels, s.responseBytes);
    for (const [metric, field] of [
      ['istio_tcp_sent_bytes_total', 'sent'],
      ['istio_tcp_received_bytes_total', 'received'],
      ['istio_tcp_connections_opened_total', 'opened'],
      ['istio_tcp_connections_closed_total', 'closed'],
    ] as const) {
      out.push(`# TYPE ${metric} counter`);
      for (const s of this.tcp.values()) if (s[field] > 0) out.push(`${metric}{${s.labels}} ${s[field]}`);
    }
    let last = '';
    for (const [name, labels, value] of extra) {
      if (name !== last) out.push(`# TYPE ${name} counter`);
      last = name;
      out.push(labels ? `${name}{${labels}} ${value}` : `${name} ${value}`);
    }
    return out.join('\n') + '\n';
  }
}
