/**
 * Istio's HTTP metadata exchange: the client sidecar adds `x-envoy-peer-metadata-id` and
 * `x-envoy-peer-metadata` (base64 of its node metadata) to each outbound request; the server sidecar reads
 * and strips them and answers with the same pair about itself, which the client reads and strips. Neither
 * side ever passes them to an app. Istio encodes a protobuf Struct in the header; we encode a JSON object
 * (WORKLOAD_NAME, NAMESPACE, LABELS, CLUSTER_ID, SERVICE_ACCOUNT, PRINCIPAL), so it only works between our
 * sidecars. PRINCIPAL is the sender's SPIFFE id: Envoy reads the destination principal of an outbound request
 * from the upstream certificate; our router does not hand that certificate to the stats, so the server
 * sidecar names itself, and only on a mutual TLS connection (selfValueMtls), never in plaintext.
 *
 * Our own header value is encoded once per process; a peer's value is decoded once and cached by its text.
 */
import type { NodeIdentity } from './node-identity';

export const PEER_METADATA = 'x-envoy-peer-metadata';
export const PEER_METADATA_ID = 'x-envoy-peer-metadata-id';

/** What a peer said about itself ('unknown' for anything it did not say). */
export interface PeerInfo {
  workload: string;
  namespace: string;
  app: string;
  version: string;
  cluster: string;
  /** the peer's SPIFFE id, when it said so over mutual TLS */
  principal: string;
}

export const UNKNOWN_PEER: PeerInfo = Object.freeze({ workload: 'unknown', namespace: 'unknown', app: 'unknown', version: 'unknown', cluster: 'unknown', principal: 'unknown' });

/** This proxy's SPIFFE id as its workload certificate names it ('unknown' without a service account). */
export function selfPrincipal(node: NodeIdentity, trustDomain = 'cluster.local'): string {
  const sa = node.metadata.SERVICE_ACCOUNT;
  return typeof sa === 'string' && sa !== '' ? `spiffe://${trustDomain}/ns/${node.namespace}/sa/${sa}` : 'unknown';
}

/**
 * The header pair this proxy sends, encoded once: `value` without a principal (plaintext hops, requests),
 * `valueMtls` with it, for a server sidecar answering over mutual TLS.
 */
export function encodeSelf(node: NodeIdentity): { id: string; value: string; valueMtls: string } {
  const m = node.metadata;
  const doc = {
    WORKLOAD_NAME: m.WORKLOAD_NAME,
    NAMESPACE: node.namespace,
    LABELS: { app: node.labels.app, version: node.labels.version },
    CLUSTER_ID: m.CLUSTER_ID,
    SERVICE_ACCOUNT: m.SERVICE_ACCOUNT,
  };
  const principal = selfPrincipal(node);
  const encode = (d: object): string => Buffer.from(JSON.stringify(d)).toString('base64');
  return { id: node.id, value: encode(doc), valueMtls: principal === 'unknown' ? encode(doc) : encode({ ...doc, PRINCIPAL: principal }) };
}

function str(v: unknown): string {
  return typeof v === 'string' && v !== '' ? v : 'unknown';
}

/** Decodes a peer's header; anything malformed yields UNKNOWN_PEER (a bad header never fails a request). */
export function decodePeer(value: string): PeerInfo {
  let doc: unknown;
  try {
    doc = JSON.parse(Buffer.from(value, 'base64').toString('utf8'));
  } catch {
    return UNKNOWN_PEER;
  }
  if (doc === null || typeof doc !== 'object' || Array.isArray(doc)) return UNKNOWN_PEER;
  const d = doc as Record<string, unknown>;
  const labels = d.LABELS !== null && typeof d.LABELS === 'object' ? (d.LABELS as Record<string, unknown>) : {};
  const principal = typeof d.PRINCIPAL === 'string' && d.PRINCIPAL.startsWith('spiffe://') ? d.PRINCIPAL : 'unknown';
  return { workload: str(d.WORKLOAD_NAME), namespace: str(d.NAMESPACE), app: str(labels.app), version: str(labels.version), cluster: str(d.CLUSTER_ID), principal };
}

const MAX_CACHED = 1024;

/** Decoded peers by header text; a mesh has few distinct peers, so this stays small (cleared when full). */
export class PeerCache {
  private readonly byValue = new Map<string, PeerInfo>();

  get(value: string): PeerInfo {
    let p = this.byValue.get(value);
    if (p === undefined) {
      if (this.byValue.size >= MAX_CACHED) this.byValue.clear();
      p = decodePeer(value);
      this.byValue.set(value, p);
    }
    return p;
  }
}
