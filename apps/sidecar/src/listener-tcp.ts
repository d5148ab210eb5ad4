/**
 * A TCP proxy listener (envoy.filters.network.tcp_proxy): each connection goes to a cluster chosen by
 * weight, then to a host by the cluster's LB, bytes piped both ways with backpressure, an idle timeout,
 * and Istio's TCP metrics; TLS to the upstream when the cluster has an UpstreamTlsContext (Istio mutual TLS).
 * A failed connect or handshake closes the downstream (flag UF); no host closes it (UH).
 */
import * as net from 'node:net';
import * as tls from 'node:tls';
import type { Logger } from '@mesh/runtime';
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
  closed = false;

  constructor(
    readonly downstream: net.Socket,
    readonly cluster: string,
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

  /** A connection from a chain listener (plaintext or TLS already terminated). */
  accept(down: net.Socket): void {
    this.onConnection(down);
  }

  private onConnection(down: net.Socket): void {
    this.sockets.add(down);
    down.on('error', () => undefined);
    const name = this.pickCluster();
    const s = new TcpSession(down, name);
    this.stats.tcpOpened(name);
    down.once('close', () => this.finish(s));
    const cluster = this.clusters.get(name);
    const host = cluster?.lb.pick(cluster.available, cluster.config.lbPolicy === 'RING_HASH' ? hash32(down.remoteAddress ?? '') : undefined) as UpstreamHost | undefined;
    const upstreamTls = cluster?.config.upstreamTls;
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
    this.stats.tcpClosed(s.cluster, flagString(s.flags), up ? up.bytesRead : 0, up ? up.bytesWritten : 0);
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
