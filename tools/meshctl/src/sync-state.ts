/**
 * A proxy's xDS sync state per type, from Pilot's /debug/syncz: NACKED when the last NACK was for the
 * version Pilot sent last, STALE when the sent version is not acknowledged yet, else SYNCED.
 */
export type SyncState = 'SYNCED' | 'STALE' | 'NACKED';

export interface SyncType {
  typeUrl: string;
  sentVersion: string;
  ackedVersion: string;
  lastNack: { message: string; version: string; at?: string } | null;
}

export interface SyncProxy {
  proxy: string;
  kind: string;
  peer?: string;
  connectedAt?: string;
  /** Keyed by the type's short name in upper case: CDS, EDS, LDS, RDS, SDS. */
  types: Record<string, SyncType>;
}

export function syncState(t: SyncType): SyncState {
  if (t.lastNack && t.lastNack.version === t.sentVersion) return 'NACKED';
  if (t.sentVersion !== t.ackedVersion) return 'STALE';
  return 'SYNCED';
}

/** The order types are shown in (the order Envoy applies them), then anything else. */
export const TYPE_ORDER = ['CDS', 'EDS', 'LDS', 'RDS', 'SDS'];

/** /debug/syncz's JSON, checked for the fields meshctl reads; undefined when it is not that shape. */
export function parseSyncz(body: unknown): SyncProxy[] | undefined {
  if (!Array.isArray(body)) return undefined;
  const out: SyncProxy[] = [];
  for (const p of body as Record<string, unknown>[]) {
    if (typeof p?.proxy !== 'string' || typeof p.types !== 'object' || p.types === null) return undefined;
    const types: Record<string, SyncType> = {};
    for (const [name, t] of Object.entries(p.types as Record<string, Record<string, unknown>>)) {
      const nack = t.lastNack as SyncType['lastNack'] | undefined;
      types[name.toUpperCase()] = {
        typeUrl: String(t.typeUrl ?? name),
        sentVersion: String(t.sentVersion ?? ''),
        ackedVersion: String(t.ackedVersion ?? ''),
        lastNack: nack ? { message: String(nack.message ?? ''), version: String(nack.version ?? ''), at: nack.at } : null,
      };
    }
    out.push({ proxy: p.proxy, kind: String(p.kind ?? ''), peer: p.peer as string | undefined, connectedAt: p.connectedAt as string | undefined, types });
  }
  return out;
}

export function orderTypeNames(names: Iterable<string>): string[] {
  const rank = (n: string): number => (TYPE_ORDER.includes(n) ? TYPE_ORDER.indexOf(n) : TYPE_ORDER.length);
  return [...new Set(names)].sort((a, b) => rank(a) - rank(b) || a.localeCompare(b));
}
