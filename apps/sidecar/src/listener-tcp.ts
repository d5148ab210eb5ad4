/**
 * A TCP proxy listener (envoy.filters.network.tcp_proxy): each connection goes to a cluster chosen by
 * weight, then to a host by the cluster's LB, bytes piped both ways with backpressure, an idle timeout,
 * and Istio's TCP metrics; TLS to the upstream when the cluster has an UpstreamTlsContext (Istio mutual TLS).
 * A failed connect or handshake closes the downstream (flag UF); no host closes it (UH).
 *
 * Metrics and the access log name the peer from the TLS session: inbound the downstream's SPIFFE id
 * (source_principal, connection_security_policy mutual_tls/none), outbound the upstream's
 * (destination_principal, counted as opened once the upstream handshake says who it is). A connection
 * the network RBAC filter denies is opened and closed in the metrics with flag RBAC and logged with
 * Envoy's termination details `rbac_access_denied_matched_policy[<policy>]`.
 */
import * as net from 'node:net';
import * as tls from 'node:tls';
import type { Logger } from '@mesh/runtime';
import type { AccessLog } from './access-log';
import { peerSpiffeId } from './agent-tls';
import type { ClusterManager, UpstreamHost } from './cluster-manager';
import type { ListenerConfig } from './config-listener';
import { hash32 } from './lb-ring-hash';
import { tlsOptions } from './pool-http1';
import { Flag, flagString } from './response-flags';
import type { MeshStats } from './stats';
import { listenOn } from './listen';

class TcpSession {
  flags = 0;
  upstream: net.Socket | undefined = undefined;
  upstreamHost = '';
  closed = false;
  /** counted in istio_tcp_connections_opened_total yet */
  opened = false;
  terminationDetails = '';
  readonly startEpochMs = Date.now();

  constructor(
    readonly downstream: net.Socket,
    readonly cluster: string,
    /** the peer's SPIFFE id for the metrics: inbound the downstream's, outbound the upstream's ('' none) */
    public principal: string,
    /** the downstream's verified SPIFFE id ('' for plaintext) */
    readonly downstreamPrincipal: string,
  ) {}
}

export class TcpListener {
  readonly server: net.Server;
  private readonly sockets = new Set<net.Socket>();
  private cfg: ListenerConfig;

  constructor(
    cfg: ListenerConfig,
    private readonly clusters: ClusterManager,
    private readonly stats: MeshStats,
    private readonly log: Logger,
    private readonly accessLog: AccessLog | undefined = undefined,
  ) {
    this.cfg = cfg;
    this.server = net.createServer({ noDelay: true, pauseOnConnect: true }, (socket) => this.onConnection(socket));
  }

  get config(): ListenerConfig {
    return this.cfg;
  }

  update(cfg: ListenerConfig): void {
    this.cfg = cfg;
  }

  activeRequests(): number {
    return this.sockets.size;
  }

  private pickCluster(): string {
    const tcp = this.cfg.tcp;
    if (!tcp) return '';
    if (tcp.clusters.length === 1) return tcp.clusters[0].name;
    let r = Math.random() * tcp.totalWeight;
    for (const c of tcp.clusters) {
      r -= c.weight;
      if (r < 0) return c.name;
    }
    return tcp.clusters[tcp.clusters.length - 1].name;
  }

  /** A connection from a chain listener (plaintext or TLS already terminated; `principal` its verified SPIFFE id). */
  accept(down: net.Socket, principal = ''): void {
    this.onConnection(down, principal);
  }

  /**
   * A connection the chain's network RBAC filter denied (`policy` the matched policy, '' for none): counted
   * as opened and closed with flag RBAC, logged, and closed without reaching an upstream.
   */
  refuse(down: net.Socket, principal: string, policy: string): void {
    down.on('error', () => undefined);
    const name = this.pickCluster();
    const s = new TcpSession(down, name, principal, principal);
    s.flags |= Flag.RBAC;
    s.terminationDetails = `rbac_access_denied_matched_policy[${policy || 'none'}]`;
    this.sockets.add(down);
    down.once('close', () => this.finish(s));
    this.open(s);
    down.destroy();
  }

  private open(s: TcpSession): void {
    if (s.opened) return;
    s.opened = true;
    this.stats.tcpOpened(s.cluster, s.principal);
  }

  private onConnection(down: net.Socket, downstreamPrincipal = ''): void {
    this.sockets.add(down);
    down.on('error', () => undefined);
    const name = this.pickCluster();
    const outbound = !name.startsWith('inbound|');
    const s = new TcpSession(down, name, outbound ? '' : downstreamPrincipal, downstreamPrincipal);
    down.once('close', () => this.finish(s));
    const cluster = this.clusters.get(name);
    const host = cluster?.lb.pick(cluster.available, cluster.config.lbPolicy === 'RING_HASH' ? hash32(down.remoteAddress ?? '') : undefined) as UpstreamHost | undefined;
    const upstreamTls = cluster?.config.upstreamTls;
    // Outbound over TLS: opened once the upstream's identity is known (or at close, when it never was).
    if (!(outbound && upstreamTls && !upstreamTls.unsupported)) this.open(s);
    if (upstreamTls?.unsupported) {
      // Never fall back to plaintext when the TLS context cannot be honoured (e.g. SDS without the agent).
      s.flags |= Flag.UF;
      this.log.warn('tcp upstream TLS unavailable', { listener: this.cfg.name, cluster: name, reason: upstreamTls.unsupported });
      down.destroy();
      return;
    }
    if (!cluster || !host) {
      s.flags |= cluster ? Flag.UH : Flag.NC;
      down.destroy();
      return;
    }
    host.activeRequests++;
    s.upstreamHost = host.address;
    // TLS origination (Istio mutual TLS for TCP services): ready once the handshake and identity check pass.
    const up = upstreamTls
      ? tls.connect({ host: host.host, port: host.port, ...tlsOptions(upstreamTls, []) })
      : net.connect({ host: host.host, port: host.port, noDelay: true });
    s.upstream = up;
    let connected = false;
    const timer = setTimeout(() => up.destroy(Object.assign(new Error('connect timeout'), { code: 'ETIMEDOUT' })), cluster.config.connectTimeoutMs);
    up.once(upstreamTls ? 'secureConnect' : 'connect', () => {
      connected = true;
      clearTimeout(timer);
      if (outbound && up instanceof tls.TLSSocket) {
        s.principal = peerSpiffeId(up) ?? '';
        this.open(s);
      }
      const idle = this.cfg.tcp?.idleTimeoutMs ?? 0;
      if (idle > 0) {
        down.setTimeout(idle, () => down.destroy());
        up.setTimeout(idle, () => up.destroy());
      }
      down.pipe(up);
      up.pipe(down);
      down.resume();
    });
    up.once('error', (err: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      if (!connected || up.bytesRead + up.bytesWritten === 0) {
        s.flags |= Flag.UF;
        cluster.counters.upstream_cx_connect_fail++;
        cluster.recordResult(host, 0);
      }
      this.log.debug('tcp upstream error', { listener: this.cfg.name, cluster: name, host: host.address, error: err.message });
      down.destroy();
    });
    up.once('close', () => {
      host.activeRequests--;
      if (!down.destroyed) down.end();
    });
    down.once('end', () => up.end());
  }

  private finish(s: TcpSession): void {
    if (s.closed) return;
    s.closed = true;
    this.sockets.delete(s.downstream);
    const up = s.upstream;
    if (up && !up.destroyed) up.destroy();
    this.open(s);
    const flags = flagString(s.flags);
    const sent = up ? up.bytesRead : 0;
    const received = up ? up.bytesWritten : 0;
    this.stats.tcpClosed(s.cluster, flags, sent, received, s.principal);
    if (this.accessLog) this.writeAccessLog(this.accessLog, s, flags, sent, received);
  }

  /** One access log line per TCP connection, with Envoy's field names (no HTTP fields: "-"). */
  private writeAccessLog(log: AccessLog, s: TcpSession, flags: string, sent: number, received: number): void {
    const d = s.downstream;
    log.write({
      start_time: new Date(s.startEpochMs).toISOString(),
      method: '-',
      path: '-',
      protocol: 'tcp',
      response_code: 0,
      response_flags: flags,
      bytes_received: received,
      bytes_sent: sent,
      duration: Date.now() - s.startEpochMs,
      upstream_service_time: 0,
      x_forwarded_for: '-',
      user_agent: '-',
      request_id: '-',
      authority: '-',
      upstream_host: s.upstreamHost || '-',
      upstream_cluster: s.cluster || '-',
      downstream_remote_address: d.remoteAddress !== undefined ? `${d.remoteAddress}:${d.remotePort ?? 0}` : '-',
      route_name: '-',
      connection_termination_details: s.terminationDetails || '-',
      downstream_peer_uri_san: s.downstreamPrincipal || '-',
    });
  }

  listen(): Promise<number> {
    return listenOn(this.server, this.cfg.host, this.cfg.port);
  }

  async drain(ms: number): Promise<void> {
    this.server.close();
    const deadline = Date.now() + ms;
    while (this.sockets.size > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    for (const s of this.sockets) s.destroy();
  }
}
