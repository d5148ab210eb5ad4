/**
 * An immutable set of resources for one proxy (or one class of proxies): per type URL a version (which
 * belongs to the resources) and the resources by name. Encoded bytes are cached per resource object, so a
 * resource shared by many snapshots is encoded once however many proxies receive it.
 */
import { createHash } from 'node:crypto';
import { deltaResourceEntry, sotwResourceEntry } from './wire';
import { encodeAny, resourceName, TYPE_URL, type WireAny, type XdsMessage, type XdsTypeUrl } from './protos';

/** One type's content in a snapshot: its version and its resources (canonical form). */
export interface SnapshotTypeInput {
  version: string;
  /** Resources in canonical form (builder output or decoded objects). */
  resources: readonly object[];
}

export type SnapshotInput = Partial<Record<XdsTypeUrl, SnapshotTypeInput>>;

/** A resource with its encoded form and its own version (a content hash, used by Delta xDS). */
export interface SnapshotResource {
  readonly name: string;
  readonly resource: XdsMessage;
  readonly any: WireAny;
  /** Per-resource version for Delta xDS: a hash of the encoded bytes. */
  readonly version: string;
  /** Pre-encoded DiscoveryResponse.resources entry (built on first use, shared by every snapshot). */
  sotwEntry(): Buffer;
  /** Pre-encoded DeltaDiscoveryResponse.resources entry under this name. */
  deltaEntry(): Buffer;
}

class Encoded {
  private sotw: Buffer | undefined;
  private delta: Map<string, Buffer> | undefined;

  constructor(
    readonly any: WireAny,
    readonly version: string,
  ) {}

  sotwEntry(): Buffer {
    this.sotw ??= unpooled(sotwResourceEntry(this.any.type_url, this.any.value));
    return this.sotw;
  }

  deltaEntry(name: string): Buffer {
    this.delta ??= new Map();
    let entry = this.delta.get(name);
    if (!entry) {
      entry = unpooled(deltaResourceEntry(name, this.version, this.any.type_url, this.any.value));
      this.delta.set(name, entry);
    }
    return entry;
  }
}

class Entry implements SnapshotResource {
  constructor(
    readonly name: string,
    readonly resource: XdsMessage,
    private readonly enc: Encoded,
  ) {}

  get any(): WireAny {
    return this.enc.any;
  }

  get version(): string {
    return this.enc.version;
  }

  sotwEntry(): Buffer {
    return this.enc.sotwEntry();
  }

  deltaEntry(): Buffer {
    return this.enc.deltaEntry(this.name);
  }
}

/**
 * A copy of `buf` in its own memory. Small Buffers are slices of shared 8 KB pool slabs: one cached slice
 * would keep its whole slab (mostly garbage of the same push) alive for as long as the resource lives.
 */
function unpooled(buf: Buffer): Buffer {
  if (buf.buffer.byteLength === buf.byteLength) return buf;
  const own = Buffer.allocUnsafeSlow(buf.byteLength);
  buf.copy(own);
  return own;
}

// Keyed by the resource object: Pilot hands the same object to every snapshot that shares it.
const encodedCache = new WeakMap<XdsMessage, Map<string, Encoded>>();

function encodeCached(typeUrl: string, resource: XdsMessage): Encoded {
  let byType = encodedCache.get(resource);
  if (!byType) {
    byType = new Map();
    encodedCache.set(resource, byType);
  }
  let enc = byType.get(typeUrl);
  if (!enc) {
    const encoded = encodeAny(typeUrl, resource);
    const any = { type_url: encoded.type_url, value: unpooled(encoded.value) };
    enc = new Encoded(any, createHash('sha256').update(any.value).digest('base64url').slice(0, 16));
    byType.set(typeUrl, enc);
  }
  return enc;
}

interface TypeContent {
  version: string;
  resources: Map<string, SnapshotResource>;
  /** The input list it was built from (a later snapshot given the same list and version shares it). */
  source: readonly object[];
  nameProblems: string[] | undefined;
}

/** What differs in one type between two snapshots: names new or changed (by version), names gone. */
export interface SnapshotTypeChanges {
  readonly changed: readonly string[];
  readonly removed: readonly string[];
}

const NO_CHANGES: SnapshotTypeChanges = { changed: [], removed: [] };

export class Snapshot {
  private readonly types = new Map<string, TypeContent>();
  private problems: string[] | undefined;
  private nameProblems: string[] | undefined;
  /** previous snapshot -> type URL -> changes (computed once, however many streams move between the two). */
  private readonly changes = new WeakMap<Snapshot, Map<string, SnapshotTypeChanges>>();

  /**
   * Builds a snapshot; every resource is encoded here (once per resource object), so an unencodable
   * resource throws MESH_ERR_XDS_ENCODE now, not while a proxy waits. Duplicate or empty names are
   * consistency problems (setSnapshot refuses the snapshot).
   *
   * `previous`: a snapshot this one replaces. A type given with the very same resource list (same array)
   * and version as in `previous` shares its content instead of indexing it again, and changesSince()
   * knows at once that it did not change.
   */
  constructor(input: SnapshotInput, previous?: Snapshot) {
    for (const [typeUrl, content] of Object.entries(input) as [XdsTypeUrl, SnapshotTypeInput][]) {
      if (!content) continue;
      const before = previous?.types.get(typeUrl);
      if (before && before.source === content.resources && before.version === content.version) {
        this.types.set(typeUrl, before);
        if (before.nameProblems) (this.nameProblems ??= []).push(...before.nameProblems);
        continue;
      }
      const resources = new Map<string, SnapshotResource>();
      let nameProblems: string[] | undefined;
      for (const resource of content.resources) {
        const message = resource as XdsMessage;
        const name = resourceName(typeUrl, message);
        const enc = encodeCached(typeUrl, message);
        if (name === '') (nameProblems ??= []).push(`a ${shortTypeName(typeUrl)} without a name`);
        else if (resources.has(name)) (nameProblems ??= []).push(`duplicate ${shortTypeName(typeUrl)} "${name}"`);
        resources.set(name, new Entry(name, message, enc));
      }
      if (nameProblems) (this.nameProblems ??= []).push(...nameProblems);
      this.types.set(typeUrl, { version: content.version, resources, source: content.resources, nameProblems });
    }
  }

  /** Type URLs present in this snapshot. */
  typeUrls(): string[] {
    return [...this.types.keys()];
  }

  has(typeUrl: string): boolean {
    return this.types.has(typeUrl);
  }

  /** The version of a type ('' when the type is absent). */
  version(typeUrl: string): string {
    return this.types.get(typeUrl)?.version ?? '';
  }

  /** The resources of a type by name (empty when the type is absent). */
  resources(typeUrl: string): ReadonlyMap<string, SnapshotResource> {
    return this.types.get(typeUrl)?.resources ?? EMPTY;
  }

  /**
   * The names of a type that are new or have another version than in `previous`, and those `previous` had
   * that this snapshot lacks. Computed once per pair of snapshots and type, so the many streams of one proxy
   * class moving from the same snapshot to this one each look only at what changed.
   */
  changesSince(previous: Snapshot, typeUrl: string): SnapshotTypeChanges {
    if (previous === this) return NO_CHANGES;
    let byType = this.changes.get(previous);
    if (!byType) {
      byType = new Map();
      this.changes.set(previous, byType);
    }
    let out = byType.get(typeUrl);
    if (!out) {
      const before = previous.resources(typeUrl);
      const after = this.resources(typeUrl);
      const changed: string[] = [];
      const removed: string[] = [];
      if (before !== after) {
        for (const [name, r] of after) if (before.get(name)?.version !== r.version) changed.push(name);
        for (const name of before.keys()) if (!after.has(name)) removed.push(name);
      }
      out = changed.length === 0 && removed.length === 0 ? NO_CHANGES : { changed, removed };
      byType.set(typeUrl, out);
    }
    return out;
  }

  /**
   * Every problem that would make a proxy wait for something that never comes: an RDS name referenced by a
   * listener that has no RouteConfiguration, an EDS cluster whose service name has no ClusterLoadAssignment.
   * A snapshot without listeners (or without clusters) has nothing to check for them; one with listeners
   * that reference routes must carry those routes (likewise EDS clusters and their endpoints).
   */
  consistencyProblems(): string[] {
    // Immutable: computed once, however many proxies share this snapshot.
    this.problems ??= this.findProblems();
    return [...this.problems];
  }

  private findProblems(): string[] {
    const problems: string[] = [...(this.nameProblems ?? [])];
    const routes = this.resources(TYPE_URL.ROUTE);
    for (const [listener, entry] of this.resources(TYPE_URL.LISTENER)) {
      for (const name of referencedRouteNames(entry.resource)) {
        if (!routes.has(name)) problems.push(`listener "${listener}" references missing route "${name}"`);
      }
    }
    const endpoints = this.resources(TYPE_URL.ENDPOINT);
    for (const [cluster, entry] of this.resources(TYPE_URL.CLUSTER)) {
      const name = edsServiceName(entry.resource);
      if (name !== undefined && !endpoints.has(name)) problems.push(`cluster "${cluster}" references missing endpoints "${name}"`);
    }
    return problems;
  }
}

const EMPTY: ReadonlyMap<string, SnapshotResource> = new Map();

/**
 * Requested names as the snapshot's own strings where it has them: every stream of a proxy class names the
 * same hundreds of resources, and each request decodes fresh copies; kept in subscriptions, they would be
 * held once per stream instead of once.
 */
export function canonicalNames(names: readonly string[] | undefined, snapshot: Snapshot | undefined, typeUrl: string): readonly string[] {
  if (!names || names.length === 0) return NO_NAMES;
  if (!snapshot) return names;
  const available = snapshot.resources(typeUrl);
  return names.map((n) => available.get(n)?.name ?? n);
}

const NO_NAMES: readonly string[] = [];

/** The EDS service name of an EDS cluster (service_name, or the cluster name), undefined otherwise. */
export function edsServiceName(cluster: XdsMessage): string | undefined {
  if (cluster.type !== 'EDS') return undefined;
  const cfg = cluster.eds_cluster_config as { service_name?: string } | null | undefined;
  return cfg?.service_name || (cluster.name as string);
}

/** RDS names a listener references through HttpConnectionManager.rds (in filter chains or api_listener). */
export function referencedRouteNames(listener: XdsMessage): string[] {
  const names: string[] = [];
  const visitHcm = (cfg: unknown): void => {
    const hcm = cfg as { rds?: { route_config_name?: string } | null } | null | undefined;
    const name = hcm?.rds?.route_config_name;
    if (name) names.push(name);
  };
  const api = listener.api_listener as { api_listener?: unknown } | null | undefined;
  if (api?.api_listener) visitHcm(api.api_listener);
  const chains = [
    ...((listener.filter_chains as unknown[] | undefined) ?? []),
    ...(listener.default_filter_chain ? [listener.default_filter_chain] : []),
  ] as { filters?: { typed_config?: { '@type'?: string } }[] }[];
  for (const chain of chains) {
    for (const filter of chain?.filters ?? []) {
      if (filter.typed_config?.['@type']?.endsWith('.HttpConnectionManager')) visitHcm(filter.typed_config);
    }
  }
  return names;
}

function shortTypeName(typeUrl: string): string {
  return typeUrl.slice(typeUrl.lastIndexOf('.') + 1);
}
