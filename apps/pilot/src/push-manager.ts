/**
 * Turns accepted config into per-proxy snapshots and pushes them. Proxies are grouped by scope key
 * (same Sidecar scope + generator => one shared snapshot); on a debounced change only the xDS types
 * that PUSH_TRIGGERS names for the changed kinds are regenerated, the others are reused as they are.
 */
import type { Logger } from '@mesh/runtime';
import { Snapshot, TYPE_URL, type AdsServer, type SnapshotInput, type XdsMessage, type XdsTypeUrl } from '@mesh/xds';
import type { ConfigChange, ConfigStore } from './config-store';
import { updateEds } from './generator-eds';
import { ALL_TYPES, GENERATORS, typesFor } from './generators';
import type { PilotMetrics } from './debug-metrics';
import type { Proxy } from './proxy';
import { computeScope, scopeKey, type ProxyScope } from './proxy-scope';
import { PushContext, type MeshOptions } from './push-context';
import { Debouncer } from './push-debounce';
import { ConfigServiceRegistry } from './registry-config';
import { ResourceInterner, typeVersion } from './snapshot-version';

interface ProxyClass {
  key: string;
  push: PushContext;
  scope: ProxyScope;
  resources: Map<XdsTypeUrl, object[]>;
  versions: Map<XdsTypeUrl, string>;
  snapshot: Snapshot;
}

export interface PushManagerOptions {
  store: ConfigStore;
  ads: AdsServer;
  mesh: MeshOptions;
  debounceAfterMs: number;
  debounceMaxMs: number;
  log: Logger;
  metrics: PilotMetrics;
}

export class PushManager {
  private push: PushContext;
  private pushVersion = 0;
  private readonly proxies = new Map<string, { proxy: Proxy; key: string }>();
  private readonly classes = new Map<string, ProxyClass>();
  private readonly debouncer: Debouncer<ConfigChange>;
  private readonly interner = new ResourceInterner();
  /** The last debounced push: what it cost (benchmarks and logs read it). */
  lastPush:
    | {
        version: string;
        types: string[];
        proxies: number;
        classes: number;
        generateMs: number;
        distributeMs: number;
        /** Epoch ms (fractional): first change of the burst seen, push started, snapshots handed to the streams. */
        changeSeenAt: number;
        startedAt: number;
        handedOffAt: number;
      }
    | undefined;
  private generateMsAcc = 0;
  /** type -> version -> when the change behind it was first seen (for convergence time). */
  private readonly pushStarted = new Map<string, number>();

  constructor(private readonly opts: PushManagerOptions) {
    this.push = this.newPushContext();
    this.debouncer = new Debouncer(opts.debounceAfterMs, opts.debounceMaxMs, (changes, firstAt) => this.onDebounced(changes, firstAt));
    opts.store.onChange((changes) => {
      for (const c of changes) this.debouncer.add(c);
    });
  }

  current(): PushContext {
    return this.push;
  }

  proxy(nodeId: string): Proxy | undefined {
    return this.proxies.get(nodeId)?.proxy;
  }

  /** A new stream's proxy: compute (or reuse) its class snapshot. */
  connect(proxy: Proxy): Snapshot {
    const key = scopeKey(this.push, proxy);
    this.proxies.set(proxy.id, { proxy, key });
    this.opts.metrics.connected.set(this.proxies.size);
    return this.classFor(key, proxy, this.push, new Set(ALL_TYPES)).snapshot;
  }

  disconnect(nodeId: string, stillConnected: boolean): void {
    if (stillConnected) return;
    const entry = this.proxies.get(nodeId);
    this.proxies.delete(nodeId);
    this.opts.ads.clearSnapshot(nodeId);
    this.opts.metrics.connected.set(this.proxies.size);
    if (entry && ![...this.proxies.values()].some((p) => p.key === entry.key)) this.classes.delete(entry.key);
  }

  /** Called on every ACK: observes convergence time of pushes started by a config change. */
  acked(typeUrl: string, version: string): void {
    const started = this.pushStarted.get(`${typeUrl}|${version}`);
    if (started !== undefined) this.opts.metrics.convergence.observe((Date.now() - started) / 1000);
  }

  flushNow(): void {
    this.debouncer.flush();
  }

  stop(): void {
    this.debouncer.stop();
  }

  /** `sameRoutingAs`: a context whose routing and policy configs are still current (only endpoints changed). */
  private newPushContext(sameRoutingAs?: PushContext): PushContext {
    const s = this.opts.store;
    const registry = new ConfigServiceRegistry(s.list('ServiceEntry'), s.list('WorkloadEntry'));
    return new PushContext(
      String(++this.pushVersion),
      registry,
      { virtualServices: s.list('VirtualService'), destinationRules: s.list('DestinationRule'), sidecars: s.list('Sidecar'), gateways: s.list('Gateway'),
        peerAuthentications: s.list('PeerAuthentication'), authorizationPolicies: s.list('AuthorizationPolicy'),
        serviceEntries: s.list('ServiceEntry'), secrets: s.list('Secret') },
      this.opts.mesh,
      sameRoutingAs,
    );
  }

  private onDebounced(changes: ConfigChange[], firstAt: number): void {
    const types = typesFor(changes.map((c) => c.kind));
    const before = this.push;
    this.push = this.newPushContext(changes.every((c) => c.kind === 'WorkloadEntry') ? before : undefined);
    if (types.has(TYPE_URL.ENDPOINT)) {
      this.push.edsCarry = this.edsCarryFor(changes, before, this.push);
      // Istio: an endpoint change that changes a service's set of service accounts is a full push for it
      // (its outbound clusters' SAN lists name them). Unchanged clusters keep their versions: not resent.
      if (!types.has(TYPE_URL.CLUSTER) && accountsChanged(changes, before, this.push)) types.add(TYPE_URL.CLUSTER);
    }
    const endpointsOnly = types.size === 1 && this.push.edsCarry !== undefined;
    if (types.size === 0) return;
    const started = Date.now();
    const startedAt = performance.timeOrigin + performance.now();
    this.generateMsAcc = 0;
    const previous = new Map(this.classes);
    this.classes.clear();
    let pushed = 0;
    for (const [nodeId, entry] of this.proxies) {
      entry.key = scopeKey(this.push, entry.proxy);
      const old = previous.get(entry.key);
      // A class keyed by its own IP (inbound listeners from its WorkloadEntry) regenerates every type:
      // a WorkloadEntry change may move its inbound ports, not only endpoints.
      const own = !entry.key.startsWith('|');
      const cls = this.classFor(entry.key, entry.proxy, this.push, old && !own ? types : new Set(ALL_TYPES), old, endpointsOnly && !own);
      for (const t of ALL_TYPES) {
        if (cls.versions.get(t) !== old?.versions.get(t)) this.pushStarted.set(`${t}|${cls.versions.get(t)}`, firstAt);
      }
      if (this.opts.ads.getSnapshot(nodeId) === cls.snapshot) continue;
      try {
        this.opts.ads.setSnapshot(nodeId, cls.snapshot);
        pushed++;
      } catch (err) {
        this.opts.metrics.internalErrors.inc();
        this.opts.log.error('snapshot refused; proxy keeps its previous config', { proxy: nodeId, error: err as Error });
      }
    }
    for (const t of types) this.opts.metrics.pushes.inc({ type: shortType(t) }, pushed);
    // An endpoint-only push updates EDS lists in place (only changed services interned): nothing to sweep.
    this.interner.sweep(endpointsOnly ? new Set() : types);
    this.trimPushStarted();
    const totalMs = Date.now() - started;
    this.lastPush = {
      version: this.push.version,
      types: [...types].map(shortType),
      proxies: pushed,
      classes: this.classes.size,
      generateMs: Math.round(this.generateMsAcc),
      distributeMs: Math.round(totalMs - this.generateMsAcc),
      changeSeenAt: firstAt,
      startedAt,
      handedOffAt: performance.timeOrigin + performance.now(),
    };
    this.opts.log.info('push', {
      version: this.push.version,
      kinds: [...new Set(changes.map((c) => c.kind))],
      resources: [...new Set(changes.map((c) => c.key))].slice(0, 20),
      types: [...types].map(shortType),
      proxies: pushed,
      classes: this.classes.size,
      generateMs: this.lastPush.generateMs,
      distributeMs: this.lastPush.distributeMs,
    });
  }

  /**
   * `updateEndpoints`: an endpoint-only push for a class whose scope cannot have changed: its EDS list is
   * updated in place (generator-eds updateEds) instead of generated.
   */
  private classFor(key: string, proxy: Proxy, push: PushContext, types: Set<XdsTypeUrl>, reuse?: ProxyClass, updateEndpoints = false): ProxyClass {
    const existing = this.classes.get(key);
    if (existing && existing.push === push) return existing;
    const t0 = performance.now();
    // An endpoint-only push changes no ServiceEntry or Sidecar: the class's scope is what it was.
    const scope = updateEndpoints && reuse ? reuse.scope : computeScope(push, proxy);
    const resources = new Map<XdsTypeUrl, object[]>();
    const versions = new Map<XdsTypeUrl, string>();
    const input: SnapshotInput = {};
    for (const t of ALL_TYPES) {
      let list = reuse?.resources.get(t);
      if (!list || types.has(t)) {
        try {
          const previous = list;
          const generated =
            t === TYPE_URL.ENDPOINT && previous && updateEndpoints
              ? updateEds(push, scope, previous)
              : (GENERATORS.get(t) as (p: PushContext, s: ProxyScope) => object[])(push, scope);
          list = generated === previous ? previous : generated.map((r) => this.interner.intern(`${t}|${key}|${resourceKey(r)}`, r));
        } catch (err) {
          this.opts.metrics.internalErrors.inc();
          this.opts.log.error('generation failed; keeping the previous resources', { type: shortType(t), proxy: proxy.id, error: err as Error });
          list = reuse?.resources.get(t) ?? [];
        }
      }
      resources.set(t, list);
      const version = reuse && list === reuse.resources.get(t) ? (reuse.versions.get(t) ?? typeVersion(list)) : typeVersion(list);
      versions.set(t, version);
      input[t] = { version, resources: list as XdsMessage[] };
    }
    // Nothing changed for this class: keep the very same snapshot, so its proxies are not touched.
    const unchanged = reuse !== undefined && ALL_TYPES.every((t) => versions.get(t) === reuse.versions.get(t));
    const cls: ProxyClass = { key, push, scope, resources, versions, snapshot: unchanged ? reuse.snapshot : new Snapshot(input, reuse?.snapshot) };
    this.classes.set(key, cls);
    this.generateMsAcc += performance.now() - t0;
    return cls;
  }

  /**
   * What a push's changes mean for endpoints: assignments of every service outside the returned dirty
   * hosts are carried from the previous push as they are (not rebuilt, not hashed, not encoded again).
   * WorkloadEntries and ServiceEntries dirty the services of their namespaces whose ports or endpoints
   * differ; a DestinationRule dirties its host (its subsets). Undefined (rebuild everything) for a
   * wildcard DestinationRule or a kind this does not know.
   */
  private edsCarryFor(changes: readonly ConfigChange[], before: PushContext, after: PushContext): PushContext['edsCarry'] {
    const namespaces = new Set<string>();
    const dirtyHosts = new Set<string>();
    for (const c of changes) {
      for (const config of [c.before, c.after]) {
        if (!config) continue;
        if (EDS_NEUTRAL_KINDS.has(c.kind)) continue;
        if (c.kind === 'WorkloadEntry' || c.kind === 'ServiceEntry') namespaces.add(config.meta.namespace);
        else if (c.kind === 'DestinationRule') {
          const host = after.resolveHost(String((config.spec as { host?: unknown }).host ?? ''), config.meta.namespace);
          if (host.includes('*')) return undefined;
          dirtyHosts.add(host);
        } else return undefined;
      }
    }
    const carry = this.edsCarry(before, after, namespaces);
    for (const h of dirtyHosts) carry.dirtyHosts.add(h);
    return carry;
  }

  /** Previous assignments by name, and the hosts whose endpoints differ between two pushes. */
  private edsCarry(before: PushContext, after: PushContext, namespaces: ReadonlySet<string>): { previous: Map<string, object>; dirtyHosts: Set<string> } {
    const previous = new Map<string, object>();
    for (const cls of this.classes.values()) {
      for (const r of cls.resources.get(TYPE_URL.ENDPOINT) ?? []) previous.set(String((r as { cluster_name?: unknown }).cluster_name), r);
    }
    const dirtyHosts = new Set<string>();
    for (const s of after.registry.services()) {
      if (!namespaces.has(s.namespace)) continue;
      const old = before.registry.service(s.hostname);
      if (!old || JSON.stringify(old.ports) !== JSON.stringify(s.ports)) {
        dirtyHosts.add(s.hostname);
        continue;
      }
      for (const p of s.ports) {
        if (JSON.stringify(before.registry.endpoints(old, p)) !== JSON.stringify(after.registry.endpoints(s, p))) {
          dirtyHosts.add(s.hostname);
          break;
        }
      }
    }
    return { previous, dirtyHosts };
  }

  private trimPushStarted(): void {
    if (this.pushStarted.size < 10_000) return;
    const keys = [...this.pushStarted.keys()];
    for (const k of keys.slice(0, keys.length - 1000)) this.pushStarted.delete(k);
  }
}

/**
 * Whether a service of a namespace where WorkloadEntries changed is now backed by another set of service
 * accounts (the SAN list of its outbound clusters names them).
 */
function accountsChanged(changes: readonly ConfigChange[], before: PushContext, after: PushContext): boolean {
  const namespaces = new Set<string>();
  for (const c of changes) if (c.kind === 'WorkloadEntry') namespaces.add((c.after ?? c.before)?.meta.namespace ?? '');
  if (namespaces.size === 0) return false;
  for (const s of after.registry.services()) {
    if (!namespaces.has(s.namespace)) continue;
    const old = before.registry.service(s.hostname);
    if (!old || before.registry.serviceAccounts(old).join(',') !== after.registry.serviceAccounts(s).join(',')) return true;
  }
  return false;
}

/** Kinds whose changes cannot change any ClusterLoadAssignment (they choose routes or what a proxy sees). */
const EDS_NEUTRAL_KINDS: ReadonlySet<string> = new Set(['VirtualService', 'Gateway', 'Sidecar']);

export function shortType(typeUrl: string): string {
  const map: Record<string, string> = { Listener: 'lds', RouteConfiguration: 'rds', Cluster: 'cds', ClusterLoadAssignment: 'eds' };
  return map[typeUrl.split('.').pop() ?? ''] ?? typeUrl;
}

function resourceKey(r: object): string {
  const o = r as { name?: unknown; cluster_name?: unknown };
  return String(o.name ?? o.cluster_name ?? '');
}
