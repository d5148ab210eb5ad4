/**
 * Delta (incremental) ADS for one stream. Per type: the subscription (subscribe/unsubscribe, wildcard for
 * LDS/CDS) and the version of every resource the client holds (seeded from initial_resource_versions on
 * reconnect). A response carries only resources whose version differs, and removed_resources for those the
 * client holds that are gone. A NACK is recorded; the rejected versions are not resent. Pushes go CDS, EDS,
 * LDS, RDS; cluster removals are sent last.
 */
import type * as grpc from '@grpc/grpc-js';
import { isXdsTypeUrl, PUSH_ORDER, TYPE_URL } from './protos';
import { canonicalNames, edsServiceName, type Snapshot, type SnapshotResource } from './snapshot';
import { AdsStreamBase, newProgress, type StreamHost, type TypeProgress } from './server-stream';
import { HeldVersions } from './server-delta-held';
import { Subscription } from './subscription';
import { encodeDeltaDiscoveryResponse } from './wire';
import type { TypeStatus } from './server-types';

interface DeltaDiscoveryRequest {
  type_url?: string;
  resource_names_subscribe?: string[];
  resource_names_unsubscribe?: string[];
  initial_resource_versions?: Record<string, string>;
  response_nonce?: string;
  error_detail?: { code?: number; message?: string } | null;
}

interface DeltaTypeState {
  subscription: Subscription;
  progress: TypeProgress;
  /** name -> version the client holds (as far as we know); mostly the synced snapshot itself (server-delta-held). */
  held: HeldVersions;
  /**
   * The snapshot `held` mirrors for the current subscription (every subscribed name it has, at its version,
   * and nothing else): a push from it to another snapshot only looks at the names that differ between the
   * two (Snapshot.changesSince, shared by every stream of a proxy class) instead of every resource.
   * Undefined: `held` is reconciled name by name against the whole snapshot.
   */
  synced: Snapshot | undefined;
  /** Names dropped from `held` to make the next push resend them (EDS of rebuilt clusters). */
  forced: Set<string> | undefined;
  /** After a push without removals (CDS first pass): its snapshot and the one `held` mirrored before it. */
  pending: { snapshot: Snapshot; base: Snapshot | undefined } | undefined;
}

const NOTHING: readonly string[] = [];

type RemovalMode = 'all' | 'none' | 'only';

export class DeltaStream extends AdsStreamBase {
  private readonly types = new Map<string, DeltaTypeState>();
  /** A push waiting for new clusters to get their endpoints before listeners and routes go out. */
  private deferred: { waiting: Set<string>; timer: NodeJS.Timeout } | undefined;

  constructor(host: StreamHost, call: grpc.ServerDuplexStream<unknown, unknown>) {
    super(host, call, 'delta');
  }

  protected handle(raw: unknown): void {
    const req = (raw ?? {}) as DeltaDiscoveryRequest;
    const typeUrl = req.type_url ?? '';
    if (!typeUrl) return this.fail(3, 'DeltaDiscoveryRequest without type_url');
    if (!isXdsTypeUrl(typeUrl)) return this.fail(3, `unsupported type_url "${typeUrl}" on this stream`);
    let state = this.types.get(typeUrl);
    const first = !state;
    if (!state) {
      const subscription = new Subscription(typeUrl);
      state = { subscription, progress: newProgress(), held: new HeldVersions(subscription), synced: undefined, forced: undefined, pending: undefined };
      for (const [name, version] of Object.entries(req.initial_resource_versions ?? {})) state.held.set(name, version);
      this.types.set(typeUrl, state);
    }
    const nonce = req.response_nonce ?? '';
    const p = state.progress;
    if (nonce !== '' && nonce === p.sentNonce) {
      const now = new Date();
      if (req.error_detail) {
        const message = req.error_detail.message ?? '';
        p.lastNack = { message, version: p.sentVersion, nonce, at: now };
        this.log.warn('NACK', { typeUrl, version: p.sentVersion, error: message });
        this.host.nack({
          nodeId: this.nodeId,
          connectionId: this.info.connectionId,
          typeUrl,
          rejectedVersion: p.sentVersion,
          keptVersion: p.ackedVersion,
          nonce,
          message,
          at: now,
        });
      } else {
        p.ackedVersion = p.sentVersion;
        p.ackedAt = now;
        this.host.ack({
          nodeId: this.nodeId,
          connectionId: this.info.connectionId,
          typeUrl,
          version: p.ackedVersion,
          nonce,
          sentAt: p.sentAt ?? now,
          ackedAt: now,
        });
      }
    } else if (nonce !== '') {
      this.log.debug('stale nonce ignored', { typeUrl, nonce, latest: p.sentNonce });
    }
    // Subscription changes count even with a stale nonce: Delta requests are not full state.
    const subscribe = canonicalNames(req.resource_names_subscribe, this.host.snapshotFor(this.nodeId), typeUrl);
    const unsubscribe = req.resource_names_unsubscribe ?? [];
    if (subscribe.includes('*') || unsubscribe.includes('*')) state.held.detach();
    const newlyCovered = subscribe.length > 0 ? subscribe.filter((n) => n !== '*' && !state.subscription.covers(n)) : subscribe;
    const diff = state.subscription.apply(subscribe, unsubscribe, first);
    for (const name of newlyCovered) state.held.covered(name);
    for (const name of diff.removed) if (!state.subscription.covers(name)) state.held.delete(name);
    const heldBack = this.deferred !== undefined && (typeUrl === TYPE_URL.LISTENER || typeUrl === TYPE_URL.ROUTE);
    if (first || diff.removed.length > 0 || diff.wildcardChanged) {
      // `held` no longer mirrors a snapshot for this subscription: the next send reconciles every name.
      state.synced = undefined;
      state.pending = undefined;
    }
    const snapshot = first || diff.added.length > 0 || diff.wildcardChanged ? this.host.snapshotFor(this.nodeId) : undefined;
    if (snapshot && !heldBack) {
      // Names only added (Envoy following new clusters): those are looked at besides what changed.
      this.sendType(typeUrl, state, snapshot, 'all', first, diff.added);
    } else if (diff.added.length > 0) {
      state.synced = undefined;
      state.pending = undefined;
    }
    if (typeUrl === TYPE_URL.ENDPOINT) this.resumeIfWarm();
  }

  onSnapshot(snapshot: Snapshot): void {
    if (!this.ready || this.closed) return;
    this.cancelDeferred();
    // A changed EDS cluster is rebuilt by the client and warms until it gets its endpoints again, even if
    // they did not change: forget that the client holds them, so they are resent after CDS.
    const cds = this.types.get(TYPE_URL.CLUSTER);
    const eds = this.types.get(TYPE_URL.ENDPOINT);
    if (cds && eds && snapshot.has(TYPE_URL.CLUSTER)) {
      const clusters = snapshot.resources(TYPE_URL.CLUSTER);
      // Only clusters that differ from the mirrored snapshot can differ from what the client holds.
      const names = cds.synced ? snapshot.changesSince(cds.synced, TYPE_URL.CLUSTER).changed : clusters.keys();
      for (const name of names) {
        const r = clusters.get(name);
        const held = cds.held.get(name);
        if (!r || held === undefined || held === r.version) continue;
        const service = edsServiceName(r.resource);
        if (service !== undefined && eds.held.delete(service)) (eds.forced ??= new Set()).add(service);
      }
    }
    const newClusters = cds ? this.sendType(TYPE_URL.CLUSTER, cds, snapshot, 'none', false) : NOTHING;
    if (eds) this.sendType(TYPE_URL.ENDPOINT, eds, snapshot, 'all', false);
    // New EDS clusters warm until the client subscribes to their endpoints and gets them: listeners and
    // routes that point at them wait until then (bounded by warmingTimeoutMs).
    const waiting = eds ? unwarmedClusters(newClusters, eds, snapshot) : undefined;
    if (waiting && (this.types.has(TYPE_URL.LISTENER) || this.types.has(TYPE_URL.ROUTE))) {
      const timer = setTimeout(() => {
        this.log.warn('new clusters did not warm in time; pushing listeners and routes anyway', { clusters: [...waiting] });
        this.finishPush();
      }, this.host.warmingTimeoutMs);
      timer.unref();
      this.deferred = { waiting, timer };
      return;
    }
    this.finishPush();
  }

  /** The rest of a push: listeners, routes, secrets, then cluster removals. */
  private finishPush(): void {
    this.cancelDeferred();
    const snapshot = this.host.snapshotFor(this.nodeId);
    if (!snapshot || this.closed) return;
    for (const typeUrl of PUSH_ORDER) {
      if (typeUrl === TYPE_URL.CLUSTER || typeUrl === TYPE_URL.ENDPOINT) continue;
      const state = this.types.get(typeUrl);
      if (state) this.sendType(typeUrl, state, snapshot, 'all', false);
    }
    const cds = this.types.get(TYPE_URL.CLUSTER);
    if (cds) this.sendType(TYPE_URL.CLUSTER, cds, snapshot, 'only', false);
  }

  private cancelDeferred(): void {
    if (!this.deferred) return;
    clearTimeout(this.deferred.timer);
    this.deferred = undefined;
  }

  private resumeIfWarm(): void {
    const eds = this.types.get(TYPE_URL.ENDPOINT);
    if (!this.deferred || !eds) return;
    for (const name of this.deferred.waiting) if (!eds.held.has(name)) return;
    this.finishPush();
  }

  protected override onClose(): void {
    this.cancelDeferred();
  }

  /**
   * Sends what the client lacks of one type (and/or what it must remove); returns the names it now holds
   * that it held nothing under before. When `held` mirrors a snapshot, only the names that differ between
   * that snapshot and this one (plus forced ones) are looked at: O(changes), not O(resources), per stream.
   */
  private sendType(
    typeUrl: string,
    state: DeltaTypeState,
    snapshot: Snapshot,
    removals: RemovalMode,
    first: boolean,
    added: readonly string[] = NOTHING,
  ): readonly string[] {
    // Blocked: `held` still says what the client lacks; the catch-up push on 'drain' sends it.
    if (!snapshot.has(typeUrl) || this.blocked) return NOTHING;
    const available = snapshot.resources(typeUrl);
    const base = removals === 'only' ? (state.pending?.snapshot === snapshot ? state.pending.base : undefined) : state.synced;
    const changes = base ? snapshot.changesSince(base, typeUrl) : undefined;
    const resources: SnapshotResource[] = [];
    const removed: string[] = [];
    if (removals !== 'only') {
      let consider: Iterable<string>;
      if (!changes) consider = state.subscription.wildcard ? available.keys() : state.subscription.names.values();
      else if (!state.forced?.size && added.length === 0) consider = changes.changed;
      else consider = new Set([...changes.changed, ...(state.forced ?? []), ...added]);
      for (const name of consider) {
        if (changes && !state.subscription.covers(name)) continue;
        const r = available.get(name);
        if (r && state.held.get(name) !== r.version) resources.push(r);
      }
    }
    if (removals !== 'none') {
      for (const name of changes ? changes.removed : state.held.keys()) if (state.held.has(name) && !available.has(name)) removed.push(name);
    }
    // The first response for a wildcard type is sent even when empty, so the client can finish initializing.
    const mustAnswer = first && state.subscription.wildcard;
    if (resources.length === 0 && removed.length === 0 && !mustAnswer) {
      settle(state, snapshot, removals, base, typeUrl);
      return NOTHING;
    }
    const version = snapshot.version(typeUrl);
    const nonce = this.host.nextNonce();
    this.write(encodeDeltaDiscoveryResponse(version, resources.map((r) => r.deltaEntry()), typeUrl, removed, nonce));
    let newlyHeld: string[] | undefined;
    for (const r of resources) {
      if (!state.held.has(r.name)) (newlyHeld ??= []).push(r.name);
      state.held.set(r.name, r.version);
    }
    for (const name of removed) state.held.delete(name);
    settle(state, snapshot, removals, base, typeUrl);
    const now = new Date();
    state.progress.sentVersion = version;
    state.progress.sentNonce = nonce;
    state.progress.sentAt = now;
    this.log.debug('sent', { typeUrl, version, nonce, resources: resources.length, removed: removed.length });
    this.host.sent({
      nodeId: this.nodeId,
      connectionId: this.info.connectionId,
      typeUrl,
      version,
      nonce,
      resourceNames: resources.map((r) => r.name),
      removedNames: removed,
      at: now,
    });
    return newlyHeld ?? NOTHING;
  }

  protected typeStatuses(): TypeStatus[] {
    const out: TypeStatus[] = [];
    for (const [typeUrl, s] of this.types) out.push({ typeUrl, subscribed: s.subscription.describe(), ...s.progress });
    return out;
  }
}

/**
 * What `held` mirrors after a send: an 'all' send reconciles the whole type with this snapshot; a send
 * without removals leaves names to remove (remembered with the snapshot it started from); the removals that
 * follow it for the same snapshot complete the reconciliation.
 */
function settle(state: DeltaTypeState, snapshot: Snapshot, removals: RemovalMode, base: Snapshot | undefined, typeUrl: string): void {
  if (removals === 'all') {
    state.synced = snapshot;
    state.held.rebase(snapshot.resources(typeUrl));
    state.forced = undefined;
    state.pending = undefined;
  } else if (removals === 'none') {
    state.synced = undefined;
    state.pending = { snapshot, base };
  } else {
    state.synced = state.pending?.snapshot === snapshot ? snapshot : undefined;
    if (state.synced) state.held.rebase(snapshot.resources(typeUrl));
    state.pending = undefined;
  }
}

/** EDS service names of clusters new to the client (just sent) whose endpoints it does not hold yet. */
function unwarmedClusters(newClusters: readonly string[], eds: DeltaTypeState, snapshot: Snapshot): Set<string> | undefined {
  let out: Set<string> | undefined;
  const clusters = snapshot.resources(TYPE_URL.CLUSTER);
  for (const name of newClusters) {
    const r = clusters.get(name);
    const service = r ? edsServiceName(r.resource) : undefined;
    if (service !== undefined && !eds.held.has(service)) (out ??= new Set()).add(service);
  }
  return out;
}
