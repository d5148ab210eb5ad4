/**
 * Clusters (logical) and their hosts (concrete): built from CDS, filled from EDS (or load_assignment for
 * STATIC clusters), each with its load balancer, circuit breaker, outlier detector, health checker and a
 * connection pool per host. Host sets are recomputed only when membership, health or ejection changes.
 */
import type { Logger } from '@mesh/runtime';
import { CircuitBreaker } from './circuit-breaker';
import type { ClusterConfig, EndpointConfig, EndpointsConfig } from './config-cluster';
import type { ConfigStore, ConfigType } from './config-store';
import { TYPE } from './config-store';
import { HealthChecker } from './health-check';
import { LeastRequestLb } from './lb-least-request';
import { RandomLb } from './lb-random';
import { RingHashLb } from './lb-ring-hash';
import { RoundRobinLb } from './lb-round-robin';
import type { Host, LoadBalancer } from './lb-types';
import { OutlierDetector, type OutlierHost } from './outlier-detection';
import { Http1Pool } from './pool-http1';
import { Http2Pool } from './pool-http2';
import { LocalSecrets } from './tls-secrets';

/** How long a cluster replaced by a certificate rotation keeps its pools for requests in flight. */
const ROTATED_CLUSTER_GRACE_MS = 30_000;

export class UpstreamHost implements Host, OutlierHost {
  readonly address: string;
  activeRequests = 0;
  consecutive5xx = 0;
  consecutiveGateway = 0;
  ejectedUntil = 0;
  timesEjected = 0;
  /** false after active health checks fail */
  hcHealthy = true;
  rqTotal = 0;
  rqError = 0;
  private h1: Http1Pool | undefined = undefined;
  private h2: Http2Pool | undefined = undefined;

  constructor(
    readonly host: string,
    readonly port: number,
    readonly weight: number,
    readonly edsHealthy: boolean,
    private readonly cluster: ClusterConfig,
  ) {
    this.address = host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
  }

  http1(): Http1Pool {
    if (!this.h1) this.h1 = new Http1Pool(this.cluster.breakers.maxConnections, this.cluster.connectTimeoutMs, this.cluster.idleTimeoutMs, this.cluster.upstreamTls);
    return this.h1;
  }

  http2(): Http2Pool {
    if (!this.h2) this.h2 = new Http2Pool(this.host, this.port, this.cluster.connectTimeoutMs, this.cluster.upstreamTls);
    return this.h2;
  }

  pending(): number {
    return this.h1 ? this.h1.pending() : 0;
  }

  connections(): number {
    return (this.h1 ? this.h1.connections() : 0) + (this.h2 ? this.h2.connections() : 0);
  }

  close(): void {
    this.h1?.destroy();
    this.h2?.destroy();
  }
}

export class UpstreamCluster {
  hosts: UpstreamHost[] = [];
  /** healthy, not ejected: what the LB picks from */
  available: UpstreamHost[] = [];
  readonly lb: LoadBalancer;
  readonly breaker: CircuitBreaker;
  readonly outlier: OutlierDetector | undefined;
  private health: HealthChecker | undefined = undefined;
  /** Envoy-style counters, exposed as cluster.<name>.<counter> */
  readonly counters = { upstream_rq_total: 0, upstream_rq_retry: 0, upstream_rq_timeout: 0, upstream_cx_connect_fail: 0, upstream_rq_pending_overflow: 0, outlier_detection_ejections_total: 0, upstream_rq_2xx: 0, upstream_rq_4xx: 0, upstream_rq_5xx: 0 };

  constructor(
    readonly config: ClusterConfig,
    private readonly log: Logger,
  ) {
    switch (config.lbPolicy) {
      case 'LEAST_REQUEST':
        this.lb = new LeastRequestLb(Math.max(2, config.choiceCount));
        break;
      case 'RANDOM':
        this.lb = new RandomLb();
        break;
      case 'RING_HASH':
      case 'MAGLEV':
        this.lb = new RingHashLb(config.ringMin, config.ringMax);
        break;
      default:
        this.lb = new RoundRobinLb();
    }
    this.breaker = new CircuitBreaker(config.breakers);
    this.outlier = config.outlier ? new OutlierDetector(config.outlier, () => this.recompute()) : undefined;
  }

  setEndpoints(eps: readonly EndpointConfig[]): void {
    const old = new Map(this.hosts.map((h) => [`${h.address}/${h.weight}/${h.edsHealthy}`, h]));
    // Envoy uses the lowest priority that has healthy hosts; we keep priority 0 when it has any.
    const minPriority = eps.filter((e) => e.healthy).reduce((m, e) => Math.min(m, e.priority), Infinity);
    const next: UpstreamHost[] = [];
    for (const e of eps) {
      if (Number.isFinite(minPriority) && e.priority !== minPriority && e.healthy) continue;
      const address = e.host.includes(':') ? `[${e.host}]:${e.port}` : `${e.host}:${e.port}`;
      const key = `${address}/${e.weight}/${e.healthy}`;
      const prev = old.get(key);
      if (prev) {
        next.push(prev);
        old.delete(key);
      } else next.push(new UpstreamHost(e.host, e.port, e.weight, e.healthy, this.config));
    }
    for (const gone of old.values()) gone.close();
    this.hosts = next;
    this.health?.stop();
    this.health = this.config.healthCheck && next.length > 0 ? new HealthChecker(this.config.healthCheck, next, () => this.recompute(), this.log) : undefined;
    this.recompute();
  }

  recompute(): void {
    const now = Date.now();
    this.available = this.hosts.filter((h) => h.edsHealthy && h.hcHealthy && h.ejectedUntil <= now);
    // Panic threshold (Envoy default 50%): when too few hosts are usable, balance across all of them.
    if (this.hosts.length > 0 && this.available.length * 2 < this.hosts.filter((h) => h.edsHealthy).length) {
      this.available = this.hosts.filter((h) => h.edsHealthy);
    }
  }

  /** Called with each upstream result (status 0 = connect failure / reset). */
  recordResult(host: UpstreamHost, status: number): void {
    if (!this.outlier) return;
    const gateway = status === 0 || status === 502 || status === 503 || status === 504;
    if (this.outlier.record(host, status === 0 ? 503 : status, gateway, this.hosts, Date.now())) {
      this.counters.outlier_detection_ejections_total++;
      this.log.info('outlier ejected', { cluster: this.config.name, host: host.address, until: new Date(host.ejectedUntil).toISOString() });
    }
  }

  sweep(now: number): void {
    if (this.outlier && this.outlier.sweep(this.hosts, now)) this.recompute();
  }

  close(): void {
    this.health?.stop();
    for (const h of this.hosts) h.close();
  }
}

export class ClusterManager {
  readonly clusters = new Map<string, UpstreamCluster>();
  private readonly sweepTimer: NodeJS.Timeout;

  private readonly unsubscribeSecrets: () => void;

  constructor(
    private readonly store: ConfigStore,
    private readonly log: Logger,
    private readonly secrets: LocalSecrets = new LocalSecrets(undefined),
  ) {
    store.onChange((type, changed, removed) => this.onConfig(type, changed, removed));
    this.unsubscribeSecrets = secrets.onRotate(() => this.rotateSdsClusters());
    this.sweepTimer = setInterval(() => {
      const now = Date.now();
      for (const c of this.clusters.values()) c.sweep(now);
    }, 1000);
    this.sweepTimer.unref();
  }

  get(name: string): UpstreamCluster | undefined {
    return this.clusters.get(name);
  }

  /**
   * Upstream TLS that references SDS secrets gets the node agent's certificate and roots (Istio mutual
   * TLS); without the agent the cluster keeps its `unsupported` reason and answers 503, never plaintext.
   */
  private withSecrets(cfg: ClusterConfig): ClusterConfig {
    const t = cfg.upstreamTls;
    if (!t || (t.sdsCert === undefined && t.sdsCa === undefined)) return cfg;
    const r = this.secrets.resolve(t.sdsCert, t.sdsCa);
    if (!r) return cfg;
    return { ...cfg, upstreamTls: { ...t, cert: r.cert ?? t.cert, key: r.key ?? t.key, ca: r.ca ?? t.ca, unsupported: undefined } };
  }

  private build(cfg: ClusterConfig): UpstreamCluster {
    const uc = new UpstreamCluster(this.withSecrets(cfg), this.log);
    uc.setEndpoints(this.endpointsFor(cfg)?.endpoints ?? []);
    return uc;
  }

  /** A new certificate or trust bundle: clusters using SDS secrets get new pools; old ones finish. */
  private rotateSdsClusters(): void {
    for (const [name, old] of this.clusters) {
      const t = old.config.upstreamTls;
      if (!t || (t.sdsCert === undefined && t.sdsCa === undefined)) continue;
      const cfg = this.store.clusters.resources.get(name)?.value;
      if (!cfg) continue;
      this.clusters.set(name, this.build(cfg));
      setTimeout(() => old.close(), ROTATED_CLUSTER_GRACE_MS).unref();
      this.log.info('cluster certificate rotated', { cluster: name });
    }
  }

  private endpointsFor(c: ClusterConfig): EndpointsConfig | undefined {
    if (c.type !== 'EDS') return c.inlineEndpoints;
    return this.store.endpoints.resources.get(c.edsName)?.value;
  }

  private onConfig(type: ConfigType, changed: readonly string[], removed: readonly string[]): void {
    if (type === TYPE.CLUSTER) {
      for (const name of removed) {
        this.clusters.get(name)?.close();
        this.clusters.delete(name);
        this.log.info('cluster removed', { cluster: name });
      }
      for (const name of changed) {
        const cfg = this.store.clusters.resources.get(name)?.value;
        if (!cfg) continue;
        this.clusters.get(name)?.close();
        const uc = this.build(cfg);
        this.clusters.set(name, uc);
        this.log.info('cluster updated', { cluster: name, type: cfg.type, lb: cfg.lbPolicy, hosts: uc.hosts.length });
      }
    } else if (type === TYPE.ENDPOINT) {
      const names = new Set([...changed, ...removed]);
      for (const c of this.clusters.values()) {
        if (c.config.type === 'EDS' && names.has(c.config.edsName)) {
          c.setEndpoints(this.endpointsFor(c.config)?.endpoints ?? []);
          this.log.debug('endpoints updated', { cluster: c.config.name, hosts: c.hosts.length });
        }
      }
    }
  }

  close(): void {
    this.unsubscribeSecrets();
    clearInterval(this.sweepTimer);
    for (const c of this.clusters.values()) c.close();
    this.clusters.clear();
  }
}
