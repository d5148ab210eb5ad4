/**
 * What differs between SotW and Delta for the ADS client: the gRPC method, how requests look (initial,
 * ACK, NACK, subscription change) and how a response merges into the type's state. The client itself
 * (transport, handlers, backoff) is in client-ads.ts.
 */
import type { DecodedAny, WireAny } from './protos';
import { decodeAny } from './protos';
import type { ValidationError } from './validation';

/** The full current set of one type after a response was merged (LDS/CDS: full state; RDS/EDS: merged). */
export interface AdsUpdate {
  typeUrl: string;
  version: string;
  resources: ReadonlyMap<string, DecodedAny>;
  /** Names added or changed by this response. */
  changed: string[];
  /** Names removed by this response (SotW: LDS/CDS only; Delta: removed_resources). */
  removed: string[];
}

/** Returns validation errors to NACK (the update is not applied), or nothing to ACK. May throw (= NACK). */
export type AdsUpdateHandler = (update: AdsUpdate) => readonly ValidationError[] | undefined | void;

export interface ClientTypeState {
  typeUrl: string;
  wildcard: boolean;
  names: Set<string>;
  handler: AdsUpdateHandler;
  /** Last accepted version (SotW version_info, Delta system_version_info). */
  version: string;
  resources: Map<string, DecodedAny>;
  /** Delta: per-resource versions of the accepted resources. */
  resourceVersions: Map<string, string>;
  /** Last nonce received on the current stream. */
  nonce: string;
}

/** A response merged into a candidate state, not yet accepted. */
export interface MergedResponse {
  version: string;
  resources: Map<string, DecodedAny>;
  resourceVersions: Map<string, string>;
  changed: string[];
  removed: string[];
  /** Decoding problems (the response is NACKed without calling the handler). */
  errors: ValidationError[];
}

export interface ClientProtocol {
  readonly method: 'StreamAggregatedResources' | 'DeltaAggregatedResources';
  /** First request of a type on a new stream (carries what we hold, for a reconnect). */
  initial(state: ClientTypeState): Record<string, unknown>;
  /** After subscribe() changed the names from `previous`. */
  subscriptionChanged(state: ClientTypeState, previous: { wildcard: boolean; names: Set<string> }): Record<string, unknown> | undefined;
  ack(state: ClientTypeState): Record<string, unknown>;
  nack(state: ClientTypeState, message: string, code: number): Record<string, unknown>;
  /** The response's type URL and nonce. */
  header(raw: unknown): { typeUrl: string; nonce: string };
  merge(state: ClientTypeState, raw: unknown): MergedResponse;
}

/** grpc-js (with the canonical options) hands Anys over already expanded; raw ones are decoded here. */
export function decodeResource(typeUrl: string, any: WireAny | DecodedAny): DecodedAny {
  const decoded = typeof (any as DecodedAny)['@type'] === 'string' ? (any as DecodedAny) : decodeAny(any as WireAny);
  if (decoded['@type'] !== typeUrl) throw new Error(`type ${decoded['@type']} in a ${typeUrl} response`);
  return decoded;
}

