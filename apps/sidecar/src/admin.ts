/**
 * The admin server (Envoy's admin API, the parts the mesh uses): /config_dump, /clusters, /listeners,
 * /stats, /stats/prometheus, /ready, /server_info, /quitquitquit. Loopback by default; never on the data path.
 */
import * as http from 'node:http';
import type * as net from 'node:net';
import type { Logger } from '@mesh/runtime';
import type { ClusterManager } from './cluster-manager';
import type { ConfigStore, TypeState } from './config-store';
import type { ListenerManager } from './listener-manager';
import type { NodeIdentity } from './node-identity';
import type { MeshStats } from './stats';
import { StatsReport } from './stats-report';
import { collectPeerStats, mergePrometheus, mergeStatsText, type StatsKind } from './stats-workers';

export interface AdminDeps {
  node: NodeIdentity;
  store: ConfigStore;
  clusters: ClusterManager;
  listeners: ListenerManager;
  stats: MeshStats;
  log: Logger;
  /** true once the first LDS and CDS updates were applied */
  ready(): boolean;
  xdsConnected(): boolean;
  /** drain and exit (quitquitquit) */
  quit(): void;
  concurrency: number;
  /** this worker's index under --concurrency (0 when unset) */
  workerIndex?: number;
  startedAt: Date;
}

const TYPE_PREFIX = 'type.googleapis.com/envoy.admin.v3.';

function dynamic<T>(state: TypeState<T>, key: string): Record<string, unknown>[] {
  return [...state.resources.values()].map((r) => ({ version_info: r.version, [key]: r.raw, last_updated: r.lastUpdated.toISOString() }));
}

export class AdminServer {
  readonly server: http.Server;
  private readonly report: StatsReport;

  constructor(private readonly d: AdminDeps) {
    this.report = new StatsReport(d);
    this.server = http.createServer((req, res) => {
      try {
        this.handle(req, res);
      } catch (err) {
        d.log.error('admin request failed', { path: req.url, error: (err as Error).message });
        if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain' });
        res.end('internal error\n');
      }
    });
  }

  listen(host: string, port: number): Promise<number> {
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      // exclusive: under node:cluster a shared port-0 handle would be the same socket as a port-0 listener.
      this.server.listen({ port, host, exclusive: true }, () => {
        this.server.off('error', reject);
        resolve((this.server.address() as net.AddressInfo).port);
      });
    });
  }

  close(): Promise<void> {
    return new Promise((resolve) => {
      this.server.close(() => resolve());
      this.server.closeAllConnections();
    });
  }

  private handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    const url = new URL(req.url ?? '/', 'http://admin');
    const json = url.searchParams.get('format') === 'json';
    const send = (status: number, body: string, type = 'text/plain'): void => {
      res.writeHead(status, { 'content-type': type, 'cache-control': 'no-cache, max-age=0' });
      res.end(body);
    };
    const sendJson = (v: unknown): void => send(200, JSON.stringify(v, null, 2), 'application/json');
    const fail = (err: Error): void => {
      this.d.log.error('admin request failed', { path: req.url, error: err.message });
      if (!res.headersSent) send(500, 'internal error\n');
    };
    switch (url.pathname) {
      case '/ready': {
        const ok = this.d.ready();
        send(ok ? 200 : 503, ok ? 'LIVE\n' : 'PRE_INITIALIZING\n');
        return;
      }
      case '/server_info':
        sendJson({
          version: 'mesh-sidecar/0.1.0',
          state: this.d.ready() ? 'LIVE' : 'PRE_INITIALIZING',
          uptime_current_epoch: `${Math.floor((Date.now() - this.d.startedAt.getTime()) / 1000)}s`,
          command_line_options: { concurrency: this.d.concurrency, service_node: this.d.node.id, service_cluster: this.d.node.cluster },
          node: { id: this.d.node.id, cluster: this.d.node.cluster, metadata: this.d.node.metadata },
        });
        return;
      case '/config_dump':
        sendJson(this.configDump(url.searchParams.has('include_eds')));
        return;
      case '/clusters':
        if (json) sendJson(this.clustersJson());
        else send(200, this.clustersText());
        return;
      case '/listeners': {
        const list = this.d.listeners.list();
        if (json) sendJson({ listener_statuses: list.map((l) => ({ name: l.name, local_address: { socket_address: { address: l.address, port_value: l.port } }, state: l.state, ...(l.error ? { error: l.error } : {}) })) });
        else send(200, list.map((l) => `${l.name}::${l.address}:${l.port}`).join('\n') + '\n');
        return;
      }
      case '/stats': {
        // Envoy's ?filter=<regex> on stat names
        let filter: RegExp | undefined;
        try {
          filter = url.searchParams.has('filter') ? new RegExp(url.searchParams.get('filter') ?? '') : undefined;
        } catch (err) {
          send(400, `invalid regex: ${(err as Error).message}\n`);
          return;
        }
        void this.allWorkers('stats').then((all) => {
          const text = filter ? all.split('\n').filter((l) => l !== '' && filter.test(l.slice(0, l.lastIndexOf(': ')))).map((l) => `${l}\n`).join('') : all;
          if (!json) return send(200, text);
          const stats = text.split('\n').filter(Boolean).map((l) => {
            const i = l.lastIndexOf(': ');
            return { name: l.slice(0, i), value: Number(l.slice(i + 2)) };
          });
          sendJson({ stats });
        }, fail);
        return;
      }
      case '/stats/prometheus':
        void this.allWorkers('prometheus').then((text) => send(200, text, 'text/plain; version=0.0.4'), fail);
        return;
      case '/quitquitquit':
        if (req.method !== 'POST') {
          send(405, 'This endpoint requires POST\n');
          return;
        }
        send(200, 'OK\n');
        this.d.quit();
        return;
      case '/':
        send(200, ['/config_dump', '/clusters', '/listeners', '/stats', '/stats/prometheus', '/ready', '/server_info', '/quitquitquit (POST)'].join('\n') + '\n');
        return;
      default:
        send(404, `no admin endpoint ${url.pathname}\n`);
    }
  }

  private configDump(includeEds: boolean): unknown {
    const s = this.d.store;
    const errorState = (st: TypeState<unknown>): Record<string, unknown> =>
      st.lastError ? { error_state: { details: st.lastError.message, last_update_attempt: st.lastError.at.toISOString(), version_info: st.lastError.version } } : {};
    const configs: Record<string, unknown>[] = [
      { '@type': `${TYPE_PREFIX}BootstrapConfigDump`, bootstrap: { node: { id: this.d.node.id, cluster: this.d.node.cluster, metadata: this.d.node.metadata } } },
      {
        '@type': `${TYPE_PREFIX}ClustersConfigDump`,
        version_info: s.clusters.version,
        dynamic_active_clusters: dynamic(s.clusters, 'cluster'),
        ...errorState(s.clusters),
      },
      {
        '@type': `${TYPE_PREFIX}ListenersConfigDump`,
        version_info: s.listeners.version,
        dynamic_listeners: [...s.listeners.resources.values()].map((r) => ({
          name: r.name,
          active_state: { version_info: r.version, listener: r.raw, last_updated: r.lastUpdated.toISOString() },
        })),
        ...errorState(s.listeners),
      },
      { '@type': `${TYPE_PREFIX}RoutesConfigDump`, dynamic_route_configs: dynamic(s.routes, 'route_config'), ...errorState(s.routes) },
    ];
    if (includeEds) configs.push({ '@type': `${TYPE_PREFIX}EndpointsConfigDump`, dynamic_endpoint_configs: dynamic(s.endpoints, 'endpoint_config'), ...errorState(s.endpoints) });
    return { configs };
  }

  private clustersJson(): unknown {
    return {
      cluster_statuses: [...this.d.clusters.clusters.values()].map((c) => ({
        name: c.config.name,
        host_statuses: c.hosts.map((h) => ({
          address: { socket_address: { address: h.host, port_value: h.port } },
          weight: h.weight,
          health_status: {
            eds_health_status: h.edsHealthy ? 'HEALTHY' : 'UNHEALTHY',
            ...(h.hcHealthy ? {} : { failed_active_health_check: true }),
            ...(h.ejectedUntil > Date.now() ? { failed_outlier_check: true } : {}),
          },
          stats: [
            { name: 'rq_active', value: String(h.activeRequests) },
            { name: 'cx_active', value: String(h.connections()) },
          ],
        })),
      })),
    };
  }

  private clustersText(): string {
    const out: string[] = [];
    for (const c of this.d.clusters.clusters.values()) {
      const n = c.config.name;
      out.push(`${n}::default_priority::max_connections::${c.config.breakers.maxConnections}`, `${n}::default_priority::max_requests::${c.config.breakers.maxRequests}`);
      for (const h of c.hosts) {
        const flags = [h.edsHealthy ? '' : '/eds_unhealthy', h.hcHealthy ? '' : '/failed_active_hc', h.ejectedUntil > Date.now() ? '/failed_outlier_check' : ''].join('');
        out.push(`${n}::${h.address}::cx_active::${h.connections()}`, `${n}::${h.address}::rq_active::${h.activeRequests}`, `${n}::${h.address}::weight::${h.weight}`, `${n}::${h.address}::health_flags::${flags || 'healthy'}`);
      }
    }
    return out.join('\n') + '\n';
  }

  /**
   * This worker's report, summed with the other workers' under --concurrency (their reports come over
   * IPC through the primary; a single process answers alone).
   */
  private async allWorkers(kind: StatsKind): Promise<string> {
    const own = kind === 'stats' ? this.report.statsText() : this.report.prometheus();
    if (this.d.concurrency <= 1) return own;
    const peers = await collectPeerStats(kind);
    const self = { worker: this.d.workerIndex ?? 0, text: own };
    return kind === 'stats' ? mergeStatsText([self, ...peers]) : mergePrometheus([own, ...peers.map((p) => p.text)]);
  }
}
