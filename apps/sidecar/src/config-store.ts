/**
 * The validated, immutable view of what Pilot sent: LDS/RDS/CDS/EDS resources compiled per type. An update
 * for a type is all-or-nothing: if any resource fails validation the whole update is refused (NACK with
 * every error and its field path) and the last good set stays in force.
 */
import { compileCluster, compileEndpoints, type ClusterConfig, type EndpointsConfig } from './config-cluster';
import type { FieldIssue, Obj } from './config-fields';
import { compileListener, type ListenerConfig } from './config-listener';
import { compileRouteConfiguration, type RouteTable } from './config-route';

export const TYPE = {
  LISTENER: 'type.googleapis.com/envoy.config.listener.v3.Listener',
  ROUTE: 'type.googleapis.com/envoy.config.route.v3.RouteConfiguration',
  CLUSTER: 'type.googleapis.com/envoy.config.cluster.v3.Cluster',
  ENDPOINT: 'type.googleapis.com/envoy.config.endpoint.v3.ClusterLoadAssignment',
} as const;
export type ConfigType = (typeof TYPE)[keyof typeof TYPE];

export interface StoredResource<T> {
  name: string;
  version: string;
  lastUpdated: Date;
  raw: Obj;
  value: T;
}

export interface TypeState<T> {
  version: string;
  resources: ReadonlyMap<string, StoredResource<T>>;
  /** The last refused update, for /config_dump's error_state. */
  lastError: { version: string; message: string; at: Date } | undefined;
}

export interface UpdateError extends FieldIssue {
  resource: string;
}

export type UpdateResult = { ok: true; changed: string[]; removed: string[] } | { ok: false; errors: UpdateError[] };

type Compile<T> = (raw: Obj, path: string) => { ok: true; value: T } | { ok: false; errors: FieldIssue[] };

function nameOf(type: ConfigType, raw: Obj): string {
  const key = type === TYPE.ENDPOINT ? 'cluster_name' : 'name';
  return typeof raw[key] === 'string' ? (raw[key] as string) : '';
}

class TypeStore<T> implements TypeState<T> {
  version = '';
  resources: ReadonlyMap<string, StoredResource<T>> = new Map();
  lastError: TypeState<T>['lastError'] = undefined;

  constructor(
    readonly type: ConfigType,
    private readonly compile: Compile<T>,
    /** The update is the full current set of the type (the ADS client merges RDS/EDS responses). */
    private readonly fullState: boolean,
  ) {}

  update(raws: readonly Obj[], version: string, removedNames: readonly string[] = []): UpdateResult {
    const errors: UpdateError[] = [];
    const next = new Map<string, StoredResource<T>>(this.fullState ? [] : this.resources);
    const changed: string[] = [];
    const now = new Date();
    const seen = new Set<string>();
    for (const [i, raw] of raws.entries()) {
      const name = nameOf(this.type, raw);
      const label = name || `resources[${i}]`;
      if (seen.has(name)) {
        errors.push({ resource: label, path: 'name', message: 'duplicate resource name in one response' });
        continue;
      }
      seen.add(name);
      const prev = this.resources.get(name);
      if (prev && JSON.stringify(prev.raw) === JSON.stringify(raw)) {
        next.set(name, prev);
        continue;
      }
      const r = this.compile(raw, label);
      if (!r.ok) {
        for (const e of r.errors) errors.push({ resource: label, path: e.path.startsWith(label) ? e.path.slice(label.length + 1) || label : e.path, message: e.message });
        continue;
      }
      next.set(name, { name, version, lastUpdated: now, raw, value: r.value });
      changed.push(name);
    }
    if (errors.length > 0) {
      this.lastError = { version, message: errors.map((e) => `${e.resource}: ${e.path}: ${e.message}`).join('\n'), at: now };
      return { ok: false, errors };
    }
    const removed: string[] = [];
    if (this.fullState) for (const name of this.resources.keys()) if (!next.has(name)) removed.push(name);
    for (const name of removedNames) if (next.delete(name)) removed.push(name);
    this.resources = next;
    this.version = version;
    this.lastError = undefined;
    return { ok: true, changed, removed };
  }
}

export type ConfigListener = (type: ConfigType, changed: readonly string[], removed: readonly string[]) => void;

export class ConfigStore {
  readonly listeners = new TypeStore<ListenerConfig>(TYPE.LISTENER, compileListener, true);
  readonly routes = new TypeStore<RouteTable>(TYPE.ROUTE, compileRouteConfiguration, true);
  readonly clusters = new TypeStore<ClusterConfig>(TYPE.CLUSTER, compileCluster, true);
  readonly endpoints = new TypeStore<EndpointsConfig>(TYPE.ENDPOINT, compileEndpoints, true);
  private readonly watchers: ConfigListener[] = [];

  onChange(fn: ConfigListener): void {
    this.watchers.push(fn);
  }

  private store(type: ConfigType): TypeStore<unknown> {
    switch (type) {
      case TYPE.LISTENER:
        return this.listeners;
      case TYPE.ROUTE:
        return this.routes;
      case TYPE.CLUSTER:
        return this.clusters;
      case TYPE.ENDPOINT:
        return this.endpoints;
    }
  }

  /** Applies one response's resources for a type; on success notifies watchers of what changed. */
  update(type: ConfigType, resources: readonly Obj[], version: string, removed: readonly string[] = []): UpdateResult {
    const r = this.store(type).update(resources, version, removed);
    if (r.ok && (r.changed.length > 0 || r.removed.length > 0)) for (const w of this.watchers) w(type, r.changed, r.removed);
    return r;
  }

  /** RDS names the current listeners need. */
  routeNames(): string[] {
    const out = new Set<string>();
    for (const l of this.listeners.resources.values()) {
      if (l.value.hcm?.rdsName) out.add(l.value.hcm.rdsName);
      // Every filter chain's own HTTP connection manager (a gateway has one route config per TLS server).
      for (const c of l.value.chains) if (c.hcm?.rdsName) out.add(c.hcm.rdsName);
    }
    return [...out].sort();
  }

  /** EDS names the current EDS clusters need. */
  endpointNames(): string[] {
    const out = new Set<string>();
    for (const c of this.clusters.resources.values()) if (c.value.type === 'EDS') out.add(c.value.edsName);
    return [...out].sort();
  }
}
