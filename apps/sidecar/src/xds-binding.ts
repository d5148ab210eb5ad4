/**
 * Binds the ADS client to the config store: wildcard LDS and CDS, RDS names from the listeners, EDS names
 * from the clusters (re-subscribed whenever those change). Each accepted update is applied to the store;
 * a refused one is NACKed with every field error. While Pilot is away the store keeps its last good config.
 */
import { AdsClient, TYPE_URL, type AdsUpdate, type ValidationError } from '@mesh/xds';
import type { Logger } from '@mesh/runtime';
import { compileListener } from './config-listener';
import { TYPE, type ConfigStore, type ConfigType } from './config-store';
import type { Obj } from './config-fields';
import type { NodeIdentity } from './node-identity';
import { adsSecretNames, AdsSecrets } from './xds-secrets';

/** How long listeners wait for the secrets they fetch over ADS before they apply anyway (Envoy: 15 s). */
const SECRET_WARMING_MS = 10_000;

export class XdsBinding {
  readonly client: AdsClient;
  private routeNames = '';
  private endpointNames = '';
  private secretNames = '';
  /** A listener update waiting for its ADS secrets (warming). */
  private pendingListeners: { update: AdsUpdate; timer: NodeJS.Timeout } | undefined;

  constructor(
    target: string,
    node: NodeIdentity,
    private readonly store: ConfigStore,
    private readonly log: Logger,
    /** Secrets fetched over ADS (SDS type on the same stream), e.g. a gateway's kubernetes://<name>. */
    readonly secrets: AdsSecrets = new AdsSecrets(),
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
    this.client.subscribe(TYPE_URL.LISTENER, '*', (u) => this.applyListeners(u));
    this.client.subscribe(TYPE_URL.ROUTE, [], (u) => this.apply(TYPE.ROUTE, u));
    this.client.subscribe(TYPE_URL.SECRET, [], (u) => this.applySecrets(u));
  }

  /**
   * LDS: secrets the listeners fetch over ADS are subscribed; while one has not arrived the (valid) update
   * is ACKed and held back, as Envoy warms a listener until its SDS secrets are there.
   */
  private applyListeners(u: AdsUpdate): ValidationError[] | undefined {
    const raws = [...u.resources.values()] as Obj[];
    const names = adsSecretNames(raws);
    const key = names.join(',');
    if (key !== this.secretNames) {
      this.secretNames = key;
      this.client.subscribe(TYPE_URL.SECRET, names);
    }
    const missing = names.filter((n) => !this.secrets.has(n));
    if (this.pendingListeners) clearTimeout(this.pendingListeners.timer);
    this.pendingListeners = undefined;
    if (missing.length === 0) return this.apply(TYPE.LISTENER, u);
    const errors: ValidationError[] = [];
    for (const raw of raws) {
      const r = compileListener(raw, String(raw.name ?? 'listener'));
      if (!r.ok) for (const e of r.errors) errors.push({ resource: String(raw.name ?? ''), path: e.path, message: e.message });
    }
    if (errors.length > 0) return errors;
    this.log.info('listeners wait for their secrets', { version: u.version, secrets: missing });
    const timer = setTimeout(() => {
      this.pendingListeners = undefined;
      this.log.warn('secrets did not arrive in time; listeners applied without them', { version: u.version, secrets: names.filter((n) => !this.secrets.has(n)) });
      this.apply(TYPE.LISTENER, u);
    }, SECRET_WARMING_MS);
    timer.unref();
    this.pendingListeners = { update: u, timer };
    return undefined;
  }

  private applySecrets(u: AdsUpdate): ValidationError[] | undefined {
    const errors = this.secrets.update([...u.resources.values()] as Obj[]);
    if (errors) return errors;
    this.log.debug('xds secrets applied', { version: u.version, secrets: this.secrets.names() });
    const pending = this.pendingListeners;
    if (pending && adsSecretNames([...pending.update.resources.values()] as Obj[]).every((n) => this.secrets.has(n))) {
      clearTimeout(pending.timer);
      this.pendingListeners = undefined;
      const r = this.apply(TYPE.LISTENER, pending.update);
      if (r) this.log.warn('held listener update refused', { version: pending.update.version, error: r.map((e) => `${e.resource ?? ''} ${e.path}: ${e.message}`).join('; ') });
    }
    return undefined;
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
    if (this.pendingListeners) clearTimeout(this.pendingListeners.timer);
    this.pendingListeners = undefined;
    return this.client.close();
  }
}
