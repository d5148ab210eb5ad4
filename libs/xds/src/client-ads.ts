/**
 * AdsClient: an ADS client for the sidecar (State of the World by default, Delta on request). It sends the
 * node on the first request, subscribes per type (wildcard LDS/CDS, named RDS/EDS, changeable at any time),
 * hands the decoded resources of a type to the consumer's handler, ACKs what the handler accepts and NACKs
 * (error_detail with field paths) what it rejects. When the server goes away it keeps the last good config,
 * reconnects with exponential backoff and jitter, and re-subscribes with what it holds.
 *
 *   const client = new AdsClient({ target: '127.0.0.1:15010', node: { id: 'sidecar~...' } });
 *   client.subscribe(TYPE_URL.LISTENER, '*', (update) => validateAndApply(update)); // returns errors or undefined
 *   client.start();
 */
import { EventEmitter } from 'node:events';
import { createLogger, type Logger } from '@mesh/runtime';
import { deltaProtocol } from './client-delta';
import type { AdsUpdateHandler, ClientProtocol, ClientTypeState } from './client-protocol';
import { sotwProtocol } from './client-sotw';
import { xdsErrors } from './errors';
import { GrpcChannel, GRPC_STATUS, grpcStatusName, type GrpcStream } from './client-transport';
import { encodeNode, type XdsNodeInput } from './node';
import { loadXdsProtos, WILDCARD_TYPES, type DecodedAny } from './protos';
import { formatValidationErrors } from './validation';

export type { AdsUpdate, AdsUpdateHandler } from './client-protocol';

export interface AdsBackoff {
  initialMs: number;
  maxMs: number;
  multiplier: number;
  /** 0..1: each delay is multiplied by a random factor in [1 - jitter, 1 + jitter]. */
  jitter: number;
}

export interface AdsClientOptions {
  /** host:port of the ADS server. */
  target: string;
  node: XdsNodeInput;
  /** 'sotw' (default, StreamAggregatedResources) or 'delta' (DeltaAggregatedResources). */
  mode?: 'sotw' | 'delta';
  logger?: Logger;
  backoff?: Partial<AdsBackoff>;
}

const ADS_SERVICE = 'envoy.service.discovery.v3.AggregatedDiscoveryService';
const DISCOVERY = 'envoy.service.discovery.v3.';
/** Largest response accepted (a gateway's full state can be large). */
const MAX_RECEIVE_BYTES = 64 * 1024 * 1024;
/** PINGs notice a control plane that vanished without closing the connection. */
const KEEPALIVE_MS = 30_000;
const KEEPALIVE_TIMEOUT_MS = 10_000;

export interface AdsClientEvents {
  connected: [];
  disconnected: [reason: string];
  ack: [event: { typeUrl: string; version: string; nonce: string }];
  nack: [event: { typeUrl: string; version: string; nonce: string; message: string }];
}

const DEFAULT_BACKOFF: AdsBackoff = { initialMs: 500, maxMs: 30_000, multiplier: 2, jitter: 0.2 };

export class AdsClient extends EventEmitter<AdsClientEvents> {
  private readonly types = new Map<string, ClientTypeState>();
  private readonly log: Logger;
  private readonly backoff: AdsBackoff;
  private readonly protocol: ClientProtocol;
  private channel: GrpcChannel | undefined;
  private call: GrpcStream | undefined;
  private nodeSent = false;
  private started = false;
  private closed = false;
  private attempt = 0;
  private retryTimer: NodeJS.Timeout | undefined;
  private isConnected = false;

  constructor(private readonly options: AdsClientOptions) {
    super();
    this.log = (options.logger ?? createLogger('xds-client')).child({ node: options.node.id, target: options.target });
    this.backoff = { ...DEFAULT_BACKOFF, ...options.backoff };
    this.protocol = options.mode === 'delta' ? deltaProtocol : sotwProtocol;
  }

  /** True while a stream is open and the server has answered on it. */
  get connected(): boolean {
    return this.isConnected;
  }

  /**
   * Subscribes to a type ('*' = wildcard, LDS/CDS only) or replaces its names; the handler receives every
   * accepted update of that type. May be called before or after start().
   */
  subscribe(typeUrl: string, names: '*' | readonly string[], handler?: AdsUpdateHandler): void {
    if (this.closed) throw xdsErrors.create('CLIENT_CLOSED', { target: this.options.target });
    if (names === '*' && !WILDCARD_TYPES.has(typeUrl)) throw new Error(`wildcard is only allowed for LDS and CDS, not ${typeUrl}`);
    let state = this.types.get(typeUrl);
    const isNew = !state;
    if (!state) {
      if (!handler) throw new Error(`subscribe(${typeUrl}): a handler is required on the first subscription`);
      state = { typeUrl, wildcard: false, names: new Set(), handler, version: '', resources: new Map(), resourceVersions: new Map(), nonce: '' };
      this.types.set(typeUrl, state);
    } else if (handler) {
      state.handler = handler;
    }
    const previous = { wildcard: state.wildcard, names: state.names };
    state.wildcard = names === '*';
    state.names = new Set(names === '*' ? [] : names);
    // Names dropped from an RDS/EDS subscription leave the local set (LDS/CDS: the next full state decides).
    if (!WILDCARD_TYPES.has(typeUrl)) {
      for (const name of [...state.resources.keys()]) {
        if (state.names.has(name)) continue;
        state.resources.delete(name);
        state.resourceVersions.delete(name);
      }
    }
    if (!this.call) return;
    if (isNew) this.write(this.protocol.initial(state));
    else {
      const req = this.protocol.subscriptionChanged(state, previous);
      if (req) this.write(req);
    }
  }

  /** The last accepted version and resources of a type (kept while the server is away). */
  current(typeUrl: string): { version: string; resources: ReadonlyMap<string, DecodedAny> } | undefined {
    const s = this.types.get(typeUrl);
    return s ? { version: s.version, resources: s.resources } : undefined;
  }

  start(): void {
    if (this.started || this.closed) return;
    this.started = true;
    this.channel = new GrpcChannel(this.options.target, { maxReceiveBytes: MAX_RECEIVE_BYTES, keepaliveMs: KEEPALIVE_MS, keepaliveTimeoutMs: KEEPALIVE_TIMEOUT_MS });
    this.connect();
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    const call = this.call;
    this.call = undefined;
    if (call) {
      call.removeAllListeners();
      call.on('error', () => undefined);
      call.cancel();
    }
    this.channel?.close();
    this.isConnected = false;
  }

  private connect(): void {
    if (this.closed || !this.channel) return;
    const delta = this.protocol.method === 'DeltaAggregatedResources';
    const protos = loadXdsProtos();
    const call = this.channel.stream(
      `/${ADS_SERVICE}/${this.protocol.method}`,
      protos.messageCodec(`${DISCOVERY}${delta ? 'DeltaDiscoveryRequest' : 'DiscoveryRequest'}`),
      protos.messageCodec(`${DISCOVERY}${delta ? 'DeltaDiscoveryResponse' : 'DiscoveryResponse'}`),
    );
    this.call = call;
    this.nodeSent = false;
    let ended = false;
    const onEnd = (reason: string): void => {
      if (ended) return;
      ended = true;
      if (this.call === call) this.call = undefined;
      const was = this.isConnected;
      this.isConnected = false;
      if (this.closed) return;
      if (was) this.emit('disconnected', reason);
      this.scheduleReconnect(reason);
    };
    call.on('data', (res) => {
      if (this.call !== call) return;
      if (!this.isConnected) {
        this.isConnected = true;
        this.attempt = 0;
        this.log.info('ADS stream established', { mode: this.protocol.method });
        this.emit('connected');
      }
      try {
        this.onResponse(res);
      } catch (err) {
        this.log.error('failed to handle a discovery response', { err });
      }
    });
    call.on('error', (err) => onEnd(`${grpcStatusName(err.code)}: ${err.details}`));
    call.on('end', () => onEnd('stream ended by server'));
    for (const state of this.types.values()) {
      state.nonce = '';
      this.write(this.protocol.initial(state));
    }
  }

  private scheduleReconnect(reason: string): void {
    const b = this.backoff;
    const base = Math.min(b.maxMs, b.initialMs * Math.pow(b.multiplier, this.attempt));
    const delay = Math.max(0, Math.round(base * (1 - b.jitter + Math.random() * 2 * b.jitter)));
    this.attempt++;
    this.log.warn('ADS stream lost, reconnecting', { reason, delayMs: delay, attempt: this.attempt });
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      this.connect();
    }, delay);
  }

  private write(req: Record<string, unknown>): void {
    if (!this.call) return;
    if (!this.nodeSent) {
      req.node = encodeNode(this.options.node);
      this.nodeSent = true;
    }
    this.call.write(req);
  }

  private onResponse(raw: unknown): void {
    const { typeUrl, nonce } = this.protocol.header(raw);
    const state = this.types.get(typeUrl);
    if (!state) {
      this.log.warn('response for a type we did not subscribe to', { typeUrl });
      return;
    }
    state.nonce = nonce;
    const merged = this.protocol.merge(state, raw);
    const errors = merged.errors;
    if (errors.length === 0) {
      try {
        const found = state.handler({
          typeUrl,
          version: merged.version,
          resources: merged.resources,
          changed: merged.changed,
          removed: merged.removed,
        });
        if (found) errors.push(...found);
      } catch (err) {
        errors.push({ path: '', message: `handler failed: ${(err as Error).message}` });
      }
    }
    if (errors.length > 0) {
      const message = formatValidationErrors(errors);
      this.log.warn('NACK', { typeUrl, version: merged.version, error: message });
      this.write(this.protocol.nack(state, message, GRPC_STATUS.INVALID_ARGUMENT));
      this.emit('nack', { typeUrl, version: merged.version, nonce, message });
      return;
    }
    state.version = merged.version;
    state.resources = merged.resources;
    state.resourceVersions = merged.resourceVersions;
    this.write(this.protocol.ack(state));
    this.log.debug('ACK', { typeUrl, version: merged.version, resources: merged.resources.size });
    this.emit('ack', { typeUrl, version: merged.version, nonce });
  }
}
