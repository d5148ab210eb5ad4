/**
 * Binds the ADS client to the config store: wildcard LDS and CDS, RDS names from the listeners, EDS names
 * from the clusters (re-subscribed whenever those change). Each accepted update is applied to the store;
 * a refused one is NACKed with every field error. While Pilot is away the store keeps its last good config.
 */
import { AdsClient, TYPE_URL, type AdsUpdate, type ValidationError } from '@mesh/xds';
import type { Logger } from '@mesh/runtime';
import { TYPE, type ConfigStore, type ConfigType } from './config-store';
import type { NodeIdentity } from './node-identity';

export class XdsBinding {
  readonly client: AdsClient;
  private routeNames = '';
  private endpointNames = '';

  constructor(
    target: string,
    node: NodeIdentity,
    private readonly store: ConfigStore,
    private readonly log: Logger,
  ) {
    this.client = new AdsClient({
      target,
      node: { id: node.id, cluster: node.cluster, metadata: node.metadata, user_agent_name: 'mesh-sidecar', user_agent_version: '0.1.0' },
      logger: log,
      backoff: { initialMs: 200, maxMs: 5000 },
    });
    this.client.on('connected', () => log.info('xds connected', { target }));
    this.client.on('disconnected', (reason) => log.warn('xds disconnected, serving last good config', { target, reason }));
    this.client.on('nack', (e) => log.warn('xds update rejected', { type: e.typeUrl, version: e.version, error: e.message }));
    this.client.subscribe(TYPE_URL.CLUSTER, '*', (u) => this.apply(TYPE.CLUSTER, u));
    this.client.subscribe(TYPE_URL.ENDPOINT, [], (u) => this.apply(TYPE.ENDPOINT, u));
    this.client.subscribe(TYPE_URL.LISTENER, '*', (u) => this.apply(TYPE.LISTENER, u));
    this.client.subscribe(TYPE_URL.ROUTE, [], (u) => this.apply(TYPE.ROUTE, u));
  }

  start(): void {
    this.client.start();
  }

  private apply(type: ConfigType, u: AdsUpdate): ValidationError[] | undefined {
    const r = this.store.update(type, [...u.resources.values()], u.version);
    if (!r.ok) return r.errors;
    this.log.debug('xds update applied', { type, version: u.version, changed: r.changed, removed: r.removed });
    if (type === TYPE.LISTENER) this.resubscribe();
    if (type === TYPE.CLUSTER) this.resubscribe();
    return undefined;
  }

  private resubscribe(): void {
    const routes = this.store.routeNames();
    const rk = routes.join(',');
    if (rk !== this.routeNames) {
      this.routeNames = rk;
      this.client.subscribe(TYPE_URL.ROUTE, routes);
    }
    const eps = this.store.endpointNames();
    const ek = eps.join(',');
    if (ek !== this.endpointNames) {
      this.endpointNames = ek;
      this.client.subscribe(TYPE_URL.ENDPOINT, eps);
    }
  }

  close(): Promise<void> {
    return this.client.close();
  }
}
