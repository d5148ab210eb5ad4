/**
 * Listeners from LDS: added (bound), changed (same address and kind: swapped in place; otherwise a new
 * socket replaces the old one, which drains), removed (drained: no new connections, in-flight requests
 * finish within the drain time). A listener that cannot bind is logged and reported, never fatal.
 */
import type { Logger } from '@mesh/runtime';
import type { ClusterManager } from './cluster-manager';
import type { ListenerConfig } from './config-listener';
import { TYPE, type ConfigStore, type ConfigType } from './config-store';
import type { HcmDeps } from './hcm';
import { ChainListener } from './listener-chains';
import { HttpListener } from './listener-http';
import { TcpListener } from './listener-tcp';
import type { MeshStats } from './stats';
import { LocalSecrets } from './tls-secrets';

type ActiveListener = HttpListener | TcpListener | ChainListener;

export interface ListenerStatus {
  name: string;
  address: string;
  port: number;
  state: 'active' | 'failed' | 'unbound';
  error?: string;
}

export class ListenerManager {
  private readonly active = new Map<string, ActiveListener>();
  private readonly status = new Map<string, ListenerStatus>();
  private readonly draining = new Set<Promise<void>>();
  /** serialises config changes so binds and drains happen in order */
  private queue: Promise<void> = Promise.resolve();

  constructor(
    private readonly store: ConfigStore,
    private readonly clusters: ClusterManager,
    private readonly deps: HcmDeps,
    private readonly stats: MeshStats,
    private readonly drainMs: number,
    private readonly log: Logger,
    private readonly secrets: LocalSecrets = new LocalSecrets(undefined),
  ) {
    store.onChange((type, changed, removed) => this.onConfig(type, changed, removed));
  }

  private onConfig(type: ConfigType, changed: readonly string[], removed: readonly string[]): void {
    if (type !== TYPE.LISTENER) return;
    this.queue = this.queue.then(() => this.apply(changed, removed)).catch((err: Error) => this.log.error('listener update failed', { error: err.message }));
  }

  /** Resolves when every queued listener change has been applied. */
  settled(): Promise<void> {
    return this.queue;
  }

  private async apply(changed: readonly string[], removed: readonly string[]): Promise<void> {
    for (const name of removed) {
      const l = this.active.get(name);
      this.active.delete(name);
      this.status.delete(name);
      if (l) {
        this.log.info('listener removed, draining', { listener: name });
        this.startDrain(l);
      }
    }
    for (const name of changed) {
      const cfg = this.store.listeners.resources.get(name)?.value;
      if (!cfg) continue;
      const old = this.active.get(name);
      if (old && old.config.socketKey === cfg.socketKey) {
        old.update(cfg);
        this.log.info('listener updated in place', { listener: name });
        continue;
      }
      if (old) {
        this.active.delete(name);
        this.startDrain(old);
        // The old socket must let go of the address before the new one binds.
        old.server.close();
      }
      await this.bind(cfg);
    }
  }

  private async bind(cfg: ListenerConfig): Promise<void> {
    const address = `${cfg.host}:${cfg.port}`;
    if (!cfg.bindToPort) {
      this.status.set(cfg.name, { name: cfg.name, address: cfg.host, port: cfg.port, state: 'unbound' });
      return;
    }
    const l: ActiveListener = cfg.socketKey.endsWith('/chains')
      ? new ChainListener(cfg, { hcm: this.deps, clusters: this.clusters, secrets: this.secrets, stats: this.stats, log: this.log }, this.drainMs)
      : cfg.hcm
        ? new HttpListener(cfg, this.deps, this.stats, this.log) : new TcpListener(cfg, this.clusters, this.stats, this.log, this.deps.accessLog);
    try {
      const port = await l.listen();
      this.active.set(cfg.name, l);
      this.status.set(cfg.name, { name: cfg.name, address: cfg.host, port, state: 'active' });
      this.log.info('listener active', { listener: cfg.name, address, port, kind: cfg.hcm ? 'http' : 'tcp' });
    } catch (err) {
      const message = (err as Error).message;
      this.status.set(cfg.name, { name: cfg.name, address: cfg.host, port: cfg.port, state: 'failed', error: message });
      this.log.error('listener bind failed', { code: 'MESH_ERR_SIDECAR_LISTENER_BIND', listener: cfg.name, address, error: message });
    }
  }

  private startDrain(l: ActiveListener): void {
    const p = l.drain(this.drainMs).finally(() => this.draining.delete(p));
    this.draining.add(p);
  }

  list(): ListenerStatus[] {
    return [...this.status.values()].sort((a, b) => a.name.localeCompare(b.name));
  }

  /** The port a listener is bound to (useful when LDS asked for port 0). */
  port(name: string): number | undefined {
    return this.status.get(name)?.port;
  }

  /** Drains every listener (for /quitquitquit and shutdown). */
  async drainAll(ms: number): Promise<void> {
    await this.queue;
    const all = [...this.active.values()];
    this.active.clear();
    await Promise.all([...all.map((l) => l.drain(ms)), ...this.draining]);
  }

  inFlight(): number {
    let n = 0;
    for (const l of this.active.values()) n += l.activeRequests();
    return n;
  }
}
