/**
 * What a stream (SotW, Delta or SDS) needs from the server that owns it, and the base shared by both
 * stream kinds: node handshake, queueing of requests until the node's snapshot is known, status.
 */
import type * as grpc from '@grpc/grpc-js';
import type { Logger } from '@mesh/runtime';
import { decodeNode, type XdsNode } from './node';
import type { ThrottledStream } from './server-push-throttle';
import type { Snapshot } from './snapshot';
import type { AckEvent, AdsStreamKind, ConnectionInfo, ConnectionStatus, NackEvent, SendEvent, TypeStatus } from './server-types';

export interface StreamHost {
  readonly logger: Logger;
  /** How long a push holds listeners/routes back for new clusters to warm. */
  readonly warmingTimeoutMs: number;
  snapshotFor(nodeId: string): Snapshot | undefined;
  /** Registers the stream and runs onConnect; resolves when requests may be answered. */
  attach(stream: AdsStreamBase): Promise<void>;
  detach(stream: AdsStreamBase): void;
  nextNonce(): string;
  nextConnectionId(): number;
  ack(event: AckEvent): void;
  nack(event: NackEvent): void;
  sent(event: SendEvent): void;
}

/** Per type: what was sent and what the client said about it. */
export interface TypeProgress {
  sentVersion: string;
  sentNonce: string;
  sentAt?: Date;
  ackedVersion: string;
  ackedAt?: Date;
  lastNack?: { message: string; version: string; nonce: string; at: Date };
}

export function newProgress(): TypeProgress {
  return { sentVersion: '', sentNonce: '', ackedVersion: '' };
}

type AnyCall = grpc.ServerDuplexStream<unknown, unknown>;

export abstract class AdsStreamBase implements ThrottledStream {
  readonly info: ConnectionInfo;
  node: XdsNode | undefined;
  protected ready = false;
  protected closed = false;
  private readonly queue: unknown[] = [];
  protected log: Logger;

  constructor(
    protected readonly host: StreamHost,
    protected readonly call: AnyCall,
    kind: AdsStreamKind,
  ) {
    this.info = { connectionId: host.nextConnectionId(), kind, peer: call.getPeer(), connectedAt: new Date() };
    this.log = host.logger.child({ connection: this.info.connectionId, kind });
    call.on('data', (req: unknown) => this.onData(req));
    // The client half-closed: end our side too, so its call completes.
    call.on('end', () => this.close());
    call.on('error', (err: Error) => {
      this.log.debug('stream error', { err });
      this.finish();
    });
    call.on('cancelled', () => this.finish());
  }

  /** Answering requests (its node's snapshot known) and not ended. */
  isReady(): boolean {
    return this.ready && !this.closed;
  }

  get nodeId(): string {
    return this.node?.id ?? '';
  }

  /** The node's snapshot changed (or appeared): push what differs. */
  abstract onSnapshot(snapshot: Snapshot): void;
  protected abstract handle(req: unknown): void;
  protected abstract typeStatuses(): TypeStatus[];

  status(): ConnectionStatus | undefined {
    if (!this.node) return undefined;
    return { ...this.info, node: this.node, types: this.typeStatuses() };
  }

  /** Ends the stream from the server side (server shutting down). */
  close(): void {
    if (this.closed) return;
    try {
      this.call.end();
    } catch {
      // already ended by the transport
    }
    this.finish();
  }

  /** Refuses the stream with a gRPC status (bad request): the client sees the message. */
  protected fail(code: grpc.status, message: string): void {
    if (this.closed) return;
    this.log.warn('refusing stream', { node: this.nodeId, reason: message });
    this.call.emit('error', { code, details: message, message });
    this.finish();
  }

  /**
   * True while the client does not read fast enough (grpc-js buffer full). Streams then send nothing more:
   * their state still says what the client lacks, and on 'drain' one catch-up push sends the latest
   * snapshot instead of every intermediate one (a slow proxy never makes the server buffer without bound).
   */
  protected blocked = false;

  /** Responses written and not yet flushed to the transport, and who waits for them (the push throttle). */
  private unflushed = 0;
  private flushWaiters: (() => void)[] = [];

  /** The node's current snapshot, pushed (the push throttle calls this when the stream's turn comes). */
  pushLatest(): void {
    const snapshot = this.host.snapshotFor(this.nodeId);
    if (snapshot && !this.closed) this.onSnapshot(snapshot);
  }

  onFlushed(done: () => void): void {
    if (this.unflushed === 0 || this.closed) done();
    else this.flushWaiters.push(done);
  }

  private flushed(): void {
    if (--this.unflushed > 0) return;
    const waiters = this.flushWaiters;
    this.flushWaiters = [];
    for (const w of waiters) w();
  }

  protected write(response: unknown): void {
    if (this.closed) return;
    this.unflushed++;
    if (this.call.write(response, () => this.flushed()) || this.blocked) return;
    this.blocked = true;
    this.log.debug('client is slow; holding pushes until it drains');
    this.call.once('drain', () => {
      this.blocked = false;
      const snapshot = this.host.snapshotFor(this.nodeId);
      if (snapshot && !this.closed) this.onSnapshot(snapshot);
    });
  }

  private onData(req: unknown): void {
    if (this.closed) return;
    try {
      if (!this.node) {
        const node = decodeNode((req as { node?: unknown } | null)?.node);
        if (!node.id) {
          this.fail(3, 'the first request of a stream must carry node.id');
          return;
        }
        this.node = node;
        this.log = this.log.child({ node: node.id });
        this.queue.push(req);
        this.host.attach(this).then(
          () => {
            this.ready = true;
            this.log.info('proxy connected', { cluster: node.cluster, peer: this.info.peer });
            while (this.queue.length > 0 && !this.closed) this.handle(this.queue.shift());
            const snapshot = this.host.snapshotFor(node.id);
            if (snapshot && !this.closed) this.onSnapshot(snapshot);
          },
          (err: unknown) => this.fail(statusOf(err), `cannot compute configuration for ${node.id}: ${(err as Error).message}`),
        );
        return;
      }
      if (!this.ready) {
        this.queue.push(req);
        return;
      }
      this.handle(req);
    } catch (err) {
      // Never crash the process on one bad request: refuse that stream with a clear status.
      this.fail(3, `bad discovery request: ${(err as Error).message}`);
    }
  }

  /** Subclass clean-up when the stream ends (timers). */
  protected onClose(): void {
    // nothing by default
  }

  private finish(): void {
    if (this.closed) return;
    this.closed = true;
    this.onClose();
    this.unflushed = 0;
    const waiters = this.flushWaiters;
    this.flushWaiters = [];
    for (const w of waiters) w();
    if (this.node) {
      this.log.info('proxy disconnected');
      this.host.detach(this);
    }
  }
}

/** The gRPC status an onConnect failure carries (a MeshError's mapping, e.g. INVALID_ARGUMENT for a bad node id), else INTERNAL. */
function statusOf(err: unknown): number {
  const status = (err as { grpcStatus?: unknown } | undefined)?.grpcStatus;
  return typeof status === 'number' && status > 0 && status <= 16 ? status : 13;
}
