/**
 * One proxy process, assembled: config store <- xDS; cluster manager and listener manager follow the store;
 * listener -> connection manager -> route -> cluster -> endpoint; admin server beside it.
 */
import type { Logger } from '@mesh/runtime';
import { AccessLog } from './access-log';
import { AdminServer } from './admin';
import { ClusterManager } from './cluster-manager';
import { ConfigStore } from './config-store';
import { ListenerManager } from './listener-manager';
import type { NodeIdentity } from './node-identity';
import { MeshStats } from './stats';
import type { CertificateProvider } from './agent-tls';
import { LocalSecrets } from './tls-secrets';
import { AdsSecrets } from './xds-secrets';
import { XdsBinding } from './xds-binding';

export interface ProxyOptions {
  node: NodeIdentity;
  /** host:port of Pilot; undefined = no xDS (tests feed the store directly) */
  xdsTarget: string | undefined;
  /** undefined = no admin server (workers other than the first) */
  admin: { host: string; port: number } | undefined;
  drainMs: number;
  accessLogPath: string;
  concurrency: number;
  log: Logger;
  /** the node agent's certificate: resolves SDS 'default'/'ROOTCA' for listeners and clusters (mTLS) */
  certificates?: CertificateProvider;
  /** called by /quitquitquit after the proxy drained */
  onQuit?: () => void;
}

export class Proxy {
  readonly store = new ConfigStore();
  readonly stats: MeshStats;
  readonly clusters: ClusterManager;
  readonly listeners: ListenerManager;
  readonly xds: XdsBinding | undefined;
  readonly admin: AdminServer | undefined;
  private readonly accessLog: AccessLog | undefined;
  adminPort = 0;
  private stopping: Promise<void> | undefined = undefined;

  constructor(private readonly o: ProxyOptions) {
    const log = o.log;
    this.stats = new MeshStats(o.node);
    // Workload secrets from the node agent; any other SDS name (a gateway's credentials) over ADS.
    const adsSecrets = new AdsSecrets();
    const secrets = new LocalSecrets(o.certificates, adsSecrets);
    this.clusters = new ClusterManager(this.store, log, secrets);
    this.accessLog = o.accessLogPath ? new AccessLog(o.accessLogPath) : undefined;
    this.listeners = new ListenerManager(
      this.store,
      this.clusters,
      { store: this.store, clusters: this.clusters, stats: this.stats, accessLog: this.accessLog, log },
      this.stats,
      o.drainMs,
      log,
      secrets,
    );
    this.xds = o.xdsTarget ? new XdsBinding(o.xdsTarget, o.node, this.store, log, adsSecrets) : undefined;
    this.admin = o.admin
      ? new AdminServer({
          node: o.node,
          store: this.store,
          clusters: this.clusters,
          listeners: this.listeners,
          stats: this.stats,
          log,
          ready: () => this.ready(),
          xdsConnected: () => this.xds?.client.connected ?? false,
          quit: () => void this.stop().then(() => o.onQuit?.()),
          concurrency: o.concurrency,
          startedAt: new Date(),
        })
      : undefined;
  }

  ready(): boolean {
    return this.store.listeners.version !== '' && this.store.clusters.version !== '';
  }

  async start(): Promise<void> {
    if (this.admin && this.o.admin) this.adminPort = await this.admin.listen(this.o.admin.host, this.o.admin.port);
    this.xds?.start();
  }

  /** Drains listeners (in-flight requests finish within the drain time), then closes everything. */
  stop(): Promise<void> {
    if (!this.stopping) {
      this.stopping = (async () => {
        await this.xds?.close();
        await this.listeners.drainAll(this.o.drainMs);
        this.clusters.close();
        await this.admin?.close();
        await this.accessLog?.close();
      })();
    }
    return this.stopping;
  }
}
