/**
 * Public types of the ADS server: options, hooks, events and the status Pilot shows on /debug/syncz.
 */
import type { Logger } from '@mesh/runtime';
import type { XdsNode } from './node';
import type { Snapshot } from './snapshot';

/** Which protocol a connection speaks. */
export type AdsStreamKind = 'sotw' | 'delta' | 'sds';

export interface AdsServerOptions {
  logger?: Logger;
  /**
   * Make before break: when a push adds EDS clusters, listeners and routes wait until the client has
   * asked for and received their endpoints, at most this long (default 5000 ms).
   */
  warmingTimeoutMs?: number;
  /**
   * Istio's PILOT_PUSH_THROTTLE: at most this many streams have a push in flight (written, not yet flushed
   * to the transport); the others wait their turn and then push their node's latest snapshot (default 100).
   */
  pushThrottle?: number;
  /**
   * Called once per connection when its first request (with the Node) arrives, before anything is sent.
   * Return a snapshot to use for this node id (or call setSnapshot yourself and return undefined). When it
   * returns nothing and the server holds no snapshot for the node, requests are remembered and answered
   * as soon as setSnapshot is called for that node.
   */
  onConnect?: (node: XdsNode, info: ConnectionInfo) => Snapshot | undefined | Promise<Snapshot | undefined>;
  /** Called when a connection ends (client gone, cancelled, or server closing). */
  onDisconnect?: (node: XdsNode, info: ConnectionInfo) => void;
  /** Called for each ACK (a request whose response_nonce is the latest and without error_detail). */
  onAck?: (event: AckEvent) => void;
  /** Called for each NACK (a request with error_detail for the latest nonce). */
  onNack?: (event: NackEvent) => void;
  /** Called after each response is written. */
  onSend?: (event: SendEvent) => void;
}

export interface ConnectionInfo {
  /** Unique per stream, increasing. */
  connectionId: number;
  kind: AdsStreamKind;
  /** The peer address as grpc-js reports it. */
  peer: string;
  connectedAt: Date;
}

export interface AckEvent {
  nodeId: string;
  connectionId: number;
  typeUrl: string;
  version: string;
  nonce: string;
  /** When the acknowledged response was sent. */
  sentAt: Date;
  ackedAt: Date;
}

export interface NackEvent {
  nodeId: string;
  connectionId: number;
  typeUrl: string;
  /** The version the client rejected (the one we sent with that nonce). */
  rejectedVersion: string;
  /** The version the client still runs (its request's version_info; empty for Delta). */
  keptVersion: string;
  nonce: string;
  message: string;
  at: Date;
}

export interface SendEvent {
  nodeId: string;
  connectionId: number;
  typeUrl: string;
  version: string;
  nonce: string;
  /** Names carried by the response (for Delta: the added/updated ones). */
  resourceNames: string[];
  /** Delta only: names removed by this response. */
  removedNames: string[];
  at: Date;
}

/** Per node+type state, as /debug/syncz shows it. */
export interface TypeStatus {
  typeUrl: string;
  /** '*' for a wildcard subscription, else the subscribed names. */
  subscribed: '*' | string[];
  sentVersion: string;
  sentNonce: string;
  sentAt?: Date;
  ackedVersion: string;
  ackedAt?: Date;
  lastNack?: { message: string; version: string; nonce: string; at: Date };
}

export interface ConnectionStatus extends ConnectionInfo {
  node: XdsNode;
  types: TypeStatus[];
}
