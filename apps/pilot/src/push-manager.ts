/**
 * Turns accepted config into per-proxy snapshots and pushes them. Proxies are grouped by scope key
 * (same Sidecar scope + generator => one shared snapshot); on a debounced change only the xDS types
 * that PUSH_TRIGGERS names for the changed kinds are regenerated, the others are reused as they are.
 */
import type { Logger } from '@mesh/runtime';
import { Snapshot, TYPE_URL, type AdsServer, type SnapshotInput, type XdsMessage, type XdsTypeUrl } from '@mesh/xds';
import type { ConfigObject } from '@mesh/config';
import type { ConfigChange, ConfigStore } from './config-store';
import { updateEds } from './generator-eds';
import { ALL_TYPES, GENERATORS, typesFor } from './generators';
import type { PilotMetrics } from './debug-metrics';
import type { Proxy } from './proxy';
import { computeScope, scopeKey, type ProxyScope } from './proxy-scope';
import { PushContext, type MeshOptions } from './push-context';
import { Debouncer } from './push-debounce';
import type { ServiceRegistry } from './registry';
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
    // Before the first push there is no previous registry (this.push is not set yet).
    const previous = (this.push as PushContext | undefined)?.registry;
    const registry = new ConfigServiceRegistry(s.list('ServiceEntry'), s.list('WorkloadEntry'), previous instanceof ConfigServiceRegistry ? previous : undefined);
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
      const candidates = this.push.edsCarry?.candidates;
      if (!types.has(TYPE_URL.CLUSTER) && (!candidates || accountsChanged(candidates, before, this.push))) types.add(TYPE_URL.CLUSTER);
    }
    const endpointsOnly = types.size === 1 && this.push.edsCarry !== undefined;
    if (types.size === 0) return;
    const started = Date.now();
    const startedAt = performance.timeOrigin + performance.now();
    this.generateMsAcc = 0;
    const previous = new Map(this.classes);
    this.classes.clear();
    let pushed = 0;
    const counted = new Set<ProxyClass>();
    for (const [nodeId, entry] of this.proxies) {
      entry.key = scopeKey(this.push, entry.proxy);
      const old = previous.get(entry.key);
      // A class keyed by its own IP (inbound listeners from its WorkloadEntry) regenerates every type:
      // a WorkloadEntry change may move its inbound ports, not only endpoints.
      const own = !entry.key.startsWith('|');
      const cls = this.classFor(entry.key, entry.proxy, this.push, old && !own ? types : new Set(ALL_TYPES), old, endpointsOnly && !own);
      if (!counted.has(cls)) {
        // Once per class (not per proxy): which versions this push starts, for convergence time.
        counted.add(cls);
        for (const t of ALL_TYPES) {
          if (cls.versions.get(t) !== old?.versions.get(t)) this.pushStarted.set(`${t}|${cls.versions.get(t)}`, firstAt);
        }
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
   * Only the hosts a changed WorkloadEntry or ServiceEntry may move (registry hostsAffectedBy, before and
   * after) are compared, and dirty when their ports or endpoints differ; a DestinationRule dirties its host
   * (its subsets). Undefined (rebuild everything) for a wildcard DestinationRule or a kind this does not know.
   */
  private edsCarryFor(changes: readonly ConfigChange[], before: PushContext, after: PushContext): PushContext['edsCarry'] {
    const candidates = new Set<string>();
    const dirtyHosts = new Set<string>();
    for (const c of changes) {
      for (const config of [c.before, c.after]) {
        if (!config) continue;
        if (EDS_NEUTRAL_KINDS.has(c.kind)) continue;
        if (c.kind === 'WorkloadEntry' || c.kind === 'ServiceEntry') {
          for (const r of [before.registry, after.registry]) for (const h of hostsAffectedBy(r, config)) candidates.add(h);
        } else if (c.kind === 'DestinationRule') {
          const host = after.resolveHost(String((config.spec as { host?: unknown }).host ?? ''), config.meta.namespace);
          if (host.includes('*')) return undefined;
          dirtyHosts.add(host);
        } else return undefined;
      }
    }
    for (const host of candidates) if (endpointsDiffer(before, after, host)) dirtyHosts.add(host);
    const previous = new Map<string, object>();
    for (const cls of this.classes.values()) {
      for (const r of cls.resources.get(TYPE_URL.ENDPOINT) ?? []) previous.set(String((r as { cluster_name?: unknown }).cluster_name), r);
    }
    return { previous, dirtyHosts, candidates };
  }

  private trimPushStarted(): void {
    if (this.pushStarted.size < 10_000) return;
    const keys = [...this.pushStarted.keys()];
    for (const k of keys.slice(0, keys.length - 1000)) this.pushStarted.delete(k);
  }
}

/** Whether one of the hosts is now backed by another set of service accounts (its clusters' SAN lists name them). */
function accountsChanged(hosts: ReadonlySet<string>, before: PushContext, after: PushContext): boolean {
  for (const host of hosts) {
    const a = before.registry.service(host);
    const b = after.registry.service(host);
    if (!a || !b) continue; // a service that appears or goes is a ServiceEntry change (CDS is pushed anyway)
    if (before.registry.serviceAccounts(a).join(',') !== after.registry.serviceAccounts(b).join(',')) return true;
  }
  return false;
}

/** Whether a host's ports or endpoints differ between two pushes (a host only one of them has: true). */
function endpointsDiffer(before: PushContext, after: PushContext, host: string): boolean {
  const a = before.registry.service(host);
  const b = after.registry.service(host);
  if (!a || !b) return true;
  if (a !== b && JSON.stringify(a.ports) !== JSON.stringify(b.ports)) return true;
  for (const p of b.ports) if (JSON.stringify(before.registry.endpoints(a, p)) !== JSON.stringify(after.registry.endpoints(b, p))) return true;
  return false;
}

function hostsAffectedBy(registry: ServiceRegistry, config: ConfigObject): string[] {
  return registry instanceof ConfigServiceRegistry ? registry.hostsAffectedBy(config) : registry.services().map((s) => s.hostname);
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
