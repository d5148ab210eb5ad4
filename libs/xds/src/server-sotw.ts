/**
 * State-of-the-World ADS (and SDS) for one stream. Per type: the subscription, what was sent (version,
 * nonce, names) and what the client acknowledged. Rules (envoy xds_protocol): stale nonces are ignored; a
 * NACK is recorded and nothing is resent until the snapshot or the subscription changes; LDS/CDS carry every
 * subscribed resource; RDS/EDS carry the subscribed ones that exist and are new or changed for this client;
 * nothing is sent when nothing changed;
 * pushes go CDS, EDS, LDS, RDS, and clusters that disappear are removed by a last CDS response.
 */
import type * as grpc from '@grpc/grpc-js';
import { isXdsTypeUrl, PUSH_ORDER, TYPE_URL, WILDCARD_TYPES } from './protos';
import { canonicalNames, edsServiceName, type Snapshot, type SnapshotResource } from './snapshot';
import { AdsStreamBase, newProgress, type StreamHost, type TypeProgress } from './server-stream';
import { Subscription } from './subscription';
import { encodeDiscoveryResponse } from './wire';
import type { TypeStatus } from './server-types';

interface DiscoveryRequest {
  version_info?: string;
  resource_names?: string[];
  type_url?: string;
  response_nonce?: string;
  error_detail?: { code?: number; message?: string } | null;
}

interface SotwTypeState {
  subscription: Subscription;
  progress: TypeProgress;
  /** Names (and their resources) carried by the last response. */
  sentResources: Map<string, SnapshotResource>;
  /** A response was sent at least once on this stream. */
  sentOnce: boolean;
  /**
   * The snapshot version last looked at with the current subscription (sent or found unchanged): the same
   * version again needs no work, since versions belong to the resources.
   */
  evaluatedVersion: string | undefined;
  /**
   * RDS/EDS: the snapshot whose subscribed resources `sentResources` holds at their versions (after a send
   * that looked at every subscribed name). The next push looks only at the names that differ between it and
   * the new snapshot (Snapshot.changesSince, shared by every stream of a proxy class): O(changes) per stream.
   */
  synced: Snapshot | undefined;
}

export class SotwStream extends AdsStreamBase {
  private readonly types = new Map<string, SotwTypeState>();
  /** A push waiting for new clusters to get their endpoints before listeners and routes go out. */
  private deferred: { waiting: Set<string>; removeStale: boolean; timer: NodeJS.Timeout } | undefined;

  constructor(
    host: StreamHost,
    call: grpc.ServerDuplexStream<unknown, unknown>,
    private readonly allowedTypes?: ReadonlySet<string>,
  ) {
    super(host, call, allowedTypes ? 'sds' : 'sotw');
  }

  protected handle(raw: unknown): void {
    const req = (raw ?? {}) as DiscoveryRequest;
    const typeUrl = req.type_url ?? '';
    if (!typeUrl) return this.fail(3, 'DiscoveryRequest without type_url');
    if (!isXdsTypeUrl(typeUrl) || (this.allowedTypes && !this.allowedTypes.has(typeUrl))) {
      return this.fail(3, `unsupported type_url "${typeUrl}" on this stream`);
    }
    let state = this.types.get(typeUrl);
    const first = !state;
    if (!state) {
      state = { subscription: new Subscription(typeUrl), progress: newProgress(), sentResources: new Map(), sentOnce: false, evaluatedVersion: undefined, synced: undefined };
      this.types.set(typeUrl, state);
    }
    const nonce = req.response_nonce ?? '';
    const p = state.progress;
    if (!first && nonce !== '' && nonce !== p.sentNonce) {
      this.log.debug('stale nonce ignored', { typeUrl, nonce, latest: p.sentNonce });
      return;
    }
    if (!first && nonce !== '') {
      const now = new Date();
      if (req.error_detail) {
        const message = req.error_detail.message ?? '';
        p.lastNack = { message, version: p.sentVersion, nonce, at: now };
        this.log.warn('NACK', { typeUrl, version: p.sentVersion, kept: req.version_info ?? '', error: message });
        this.host.nack({
          nodeId: this.nodeId,
          connectionId: this.info.connectionId,
          typeUrl,
          rejectedVersion: p.sentVersion,
          keptVersion: req.version_info ?? '',
          nonce,
          message,
          at: now,
        });
      } else {
        p.ackedVersion = req.version_info ?? p.sentVersion;
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
    }
    const diff = state.subscription.replace(canonicalNames(req.resource_names, this.host.snapshotFor(this.nodeId), typeUrl), first);
    if (diff.added.length > 0 || diff.removed.length > 0 || diff.wildcardChanged) {
      state.evaluatedVersion = undefined;
      state.synced = undefined;
    }
    // An unsubscribed name is forgotten: if it comes back, the client gets it again.
    if (!state.subscription.wildcard) for (const name of diff.removed) state.sentResources.delete(name);
    const heldBack = this.deferred !== undefined && (typeUrl === TYPE_URL.LISTENER || typeUrl === TYPE_URL.ROUTE);
    if ((first || diff.added.length > 0 || diff.wildcardChanged) && !heldBack) {
      const snapshot = this.host.snapshotFor(this.nodeId);
      if (snapshot) this.sendType(typeUrl, state, snapshot, false);
    }
    if (typeUrl === TYPE_URL.ENDPOINT) this.resumeIfWarm();
  }

  onSnapshot(snapshot: Snapshot): void {
    if (!this.ready || this.closed) return;
    this.cancelDeferred();
    const cds = this.types.get(TYPE_URL.CLUSTER);
    const eds = this.types.get(TYPE_URL.ENDPOINT);
    // A changed EDS cluster is rebuilt by the client and warms until it gets its endpoints again, even if
    // they did not change: resend those (Envoy does not re-request them).
    const edsAgain = cds && snapshot.version(TYPE_URL.CLUSTER) !== cds.evaluatedVersion ? changedEdsNames(cds, snapshot) : undefined;
    const clustersBefore = cds ? new Set(cds.sentResources.keys()) : undefined;
    // Make before break: if clusters disappear, first send CDS with the old ones still in, and remove them
    // last, once listeners and routes no longer point at them.
    let removeStale = false;
    if (cds && cds.sentOnce && snapshot.has(TYPE_URL.CLUSTER) && snapshot.version(TYPE_URL.CLUSTER) !== cds.progress.sentVersion) {
      const next = snapshot.resources(TYPE_URL.CLUSTER);
      const stale = [...cds.sentResources.keys()].filter((n) => !next.has(n));
      if (stale.length > 0 && (this.types.has(TYPE_URL.LISTENER) || this.types.has(TYPE_URL.ROUTE))) {
        removeStale = true;
        this.sendType(TYPE_URL.CLUSTER, cds, snapshot, false, new Map(cds.sentResources));
      }
    }
    if (cds && !removeStale) this.sendType(TYPE_URL.CLUSTER, cds, snapshot, false);
    if (eds) this.sendType(TYPE_URL.ENDPOINT, eds, snapshot, false, undefined, edsAgain);
    // New EDS clusters warm until the client asks for their endpoints and gets them: routes that point at
    // them wait until then (bounded by warmingTimeoutMs), or requests would fail with "no cluster".
    const waiting = cds && eds && clustersBefore ? this.unwarmedClusters(cds, eds, clustersBefore) : undefined;
    if (waiting && (this.types.has(TYPE_URL.LISTENER) || this.types.has(TYPE_URL.ROUTE))) {
      this.log.debug('holding listeners and routes until new clusters have endpoints', { clusters: [...waiting] });
      const timer = setTimeout(() => {
        this.log.warn('new clusters did not warm in time; pushing listeners and routes anyway', { clusters: [...waiting] });
        this.finishPush(removeStale);
      }, this.host.warmingTimeoutMs);
      timer.unref();
      this.deferred = { waiting, removeStale, timer };
      return;
    }
    this.finishPush(removeStale);
  }

  /** The rest of a push: listeners, routes, secrets, then the removal of stale clusters. */
  private finishPush(removeStale: boolean): void {
    this.cancelDeferred();
    const snapshot = this.host.snapshotFor(this.nodeId);
    if (!snapshot || this.closed) return;
    for (const typeUrl of PUSH_ORDER) {
      if (typeUrl === TYPE_URL.CLUSTER || typeUrl === TYPE_URL.ENDPOINT) continue;
      const state = this.types.get(typeUrl);
      if (state) this.sendType(typeUrl, state, snapshot, false);
    }
    const cds = this.types.get(TYPE_URL.CLUSTER);
    if (removeStale && cds) this.sendType(TYPE_URL.CLUSTER, cds, snapshot, true);
  }

  private cancelDeferred(): void {
    if (!this.deferred) return;
    clearTimeout(this.deferred.timer);
    this.deferred = undefined;
  }

  /** EDS service names of clusters new to the client whose endpoints it does not have yet. */
  private unwarmedClusters(cds: SotwTypeState, eds: SotwTypeState, before: ReadonlySet<string>): Set<string> | undefined {
    let out: Set<string> | undefined;
    for (const [name, r] of cds.sentResources) {
      if (before.has(name)) continue;
      const service = edsServiceName(r.resource);
      if (service !== undefined && !eds.sentResources.has(service)) (out ??= new Set()).add(service);
    }
    return out;
  }

  /** After an EDS request: if the held push was waiting for these endpoints, finish it. */
  private resumeIfWarm(): void {
    const eds = this.types.get(TYPE_URL.ENDPOINT);
    if (!this.deferred || !eds) return;
    for (const name of this.deferred.waiting) if (!eds.sentResources.has(name)) return;
    this.finishPush(this.deferred.removeStale);
  }

  protected override onClose(): void {
    this.cancelDeferred();
  }

  /**
   * Sends the type if the version or the set of names changed since the last response. `extra` keeps old
   * resources in a full-state response (make before break); `force` sends even if only names shrank.
   */
  private sendType(
    typeUrl: string,
    state: SotwTypeState,
    snapshot: Snapshot,
    force: boolean,
    extra?: Map<string, SnapshotResource>,
    resend?: ReadonlySet<string>,
  ): void {
    if (!snapshot.has(typeUrl)) return;
    if (this.blocked) {
      state.evaluatedVersion = undefined; // looked at again on 'drain'
      return;
    }
    if (!force && !extra && !resend && state.evaluatedVersion === snapshot.version(typeUrl)) return;
    state.evaluatedVersion = extra ? undefined : snapshot.version(typeUrl);
    const available = snapshot.resources(typeUrl);
    const fullState = WILDCARD_TYPES.has(typeUrl);
    if (!fullState && state.sentOnce && !force && !extra) {
      this.sendChanged(typeUrl, state, snapshot, available, resend);
      return;
    }
    const selected = new Map<string, SnapshotResource>();
    if (state.subscription.wildcard) {
      for (const [name, r] of available) selected.set(name, r);
    } else {
      for (const name of state.subscription.names) {
        const r = available.get(name);
        if (r) selected.set(name, r);
      }
    }
    let version = snapshot.version(typeUrl);
    if (extra) {
      let added = false;
      for (const [name, r] of extra) {
        if (!selected.has(name) && state.subscription.covers(name)) {
          selected.set(name, r);
          added = true;
        }
      }
      if (!added) return;
      version = `${version}+make-before-break`;
    }
    if (fullState) {
      if (state.sentOnce && !force && version === state.progress.sentVersion && sameNames(selected, state.sentResources)) return;
    } else if (selected.size === 0) {
      return; // RDS/EDS: absent resources get nothing (the subscription is remembered)
    }
    state.sentResources = selected;
    state.synced = extra ? undefined : snapshot;
    this.respond(typeUrl, state, version, selected.values());
  }

  /**
   * RDS/EDS after the first response: only resources that are new or changed for this client travel
   * (omitting one keeps it on the client), plus `resend` (endpoints of rebuilt clusters). Looks only at
   * the names that changed since the snapshot it last synced with; no allocation when nothing changed.
   */
  private sendChanged(
    typeUrl: string,
    state: SotwTypeState,
    snapshot: Snapshot,
    available: ReadonlyMap<string, SnapshotResource>,
    resend: ReadonlySet<string> | undefined,
  ): void {
    let changed: SnapshotResource[] | undefined;
    const look = (name: string): void => {
      const r = available.get(name);
      if (!r) return;
      if (state.sentResources.get(name)?.version !== r.version || resend?.has(name)) {
        (changed ??= []).push(r);
        state.sentResources.set(name, r);
      }
    };
    if (state.synced) {
      // Only names that differ from the mirrored snapshot can differ from what the client holds.
      const seen = resend && resend.size > 0 ? new Set<string>() : undefined;
      for (const name of snapshot.changesSince(state.synced, typeUrl).changed) {
        if (!state.subscription.names.has(name)) continue;
        seen?.add(name);
        look(name);
      }
      if (resend && seen) for (const name of resend) if (!seen.has(name) && state.subscription.names.has(name)) look(name);
    } else {
      for (const name of state.subscription.names) look(name);
    }
    state.synced = snapshot;
    if (changed) this.respond(typeUrl, state, snapshot.version(typeUrl), changed);
  }

  private respond(typeUrl: string, state: SotwTypeState, version: string, resources: Iterable<SnapshotResource>): void {
    const entries: Buffer[] = [];
    const names: string[] = [];
    for (const r of resources) {
      entries.push(r.sotwEntry());
      names.push(r.name);
    }
    const nonce = this.host.nextNonce();
    this.write(encodeDiscoveryResponse(version, entries, typeUrl, nonce));
    const now = new Date();
    state.progress.sentVersion = version;
    state.progress.sentNonce = nonce;
    state.progress.sentAt = now;
    state.sentOnce = true;
    this.log.debug('sent', { typeUrl, version, nonce, resources: names.length });
    this.host.sent({ nodeId: this.nodeId, connectionId: this.info.connectionId, typeUrl, version, nonce, resourceNames: names, removedNames: [], at: now });
  }

  protected typeStatuses(): TypeStatus[] {
    const out: TypeStatus[] = [];
    for (const [typeUrl, s] of this.types) out.push({ typeUrl, subscribed: s.subscription.describe(), ...s.progress });
    return out;
  }
}

/** EDS service names of clusters the client holds that change in `snapshot`. */
function changedEdsNames(cds: SotwTypeState, snapshot: Snapshot): Set<string> | undefined {
  if (!cds.sentOnce || !snapshot.has(TYPE_URL.CLUSTER)) return undefined;
  let out: Set<string> | undefined;
  for (const [name, r] of snapshot.resources(TYPE_URL.CLUSTER)) {
    const before = cds.sentResources.get(name);
    if (!before || before.version === r.version || !cds.subscription.covers(name)) continue;
    const service = edsServiceName(r.resource);
    if (service !== undefined) (out ??= new Set()).add(service);
  }
  return out;
}

function sameNames(a: Map<string, unknown>, b: Map<string, unknown>): boolean {
  if (a.size !== b.size) return false;
  for (const k of a.keys()) if (!b.has(k)) return false;
  return true;
}

