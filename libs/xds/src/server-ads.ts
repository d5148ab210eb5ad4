/**
 * AdsServer: Aggregated Discovery Service (SotW + Delta) and the Secret Discovery Service on a grpc-js
 * Server, serving one immutable Snapshot per node id. Pilot computes the snapshots (lazily through
 * onConnect, or pushed with setSnapshot); the streams decide what each proxy still needs.
 *
 *   const ads = new AdsServer({ onConnect: (node) => computeSnapshot(node) });
 *   ads.register(grpcServer);
 *   ads.setSnapshot('sidecar~10.0.0.1~a.ns~ns.svc.cluster.local', new Snapshot({...}));
 */
import { randomBytes } from 'node:crypto';
import type * as grpc from '@grpc/grpc-js';
import { createLogger, type Logger } from '@mesh/runtime';
import { GRPC_STATUS } from './client-transport';
import { xdsErrors } from './errors';
import { grpcJs } from './grpc-lazy';
import { loadXdsProtos, TYPE_URL } from './protos';
import type { XdsNode } from './node';
import { DeltaStream } from './server-delta';
import { PushThrottle } from './server-push-throttle';
import { SotwStream } from './server-sotw';
import type { AdsStreamBase, StreamHost } from './server-stream';
import type { Snapshot } from './snapshot';
import { decodeSimpleDeltaDiscoveryRequest, decodeSimpleDiscoveryRequest } from './wire';
import type { AckEvent, AdsServerOptions, ConnectionStatus, NackEvent, SendEvent } from './server-types';

const SDS_TYPES: ReadonlySet<string> = new Set([TYPE_URL.SECRET]);

export class AdsServer {
  private readonly snapshots = new Map<string, Snapshot>();
  private readonly streams = new Set<AdsStreamBase>();
  /** Open streams by node id, so setSnapshot touches only that node's streams (not every stream). */
  private readonly streamsByNode = new Map<string, Set<AdsStreamBase>>();
  private readonly host: StreamHost;
  private readonly logger: Logger;
  private nonce = 0;
  // Nonces differ across server restarts, so a client's old nonce never matches a new stream's.
  private readonly noncePrefix = randomBytes(4).toString('hex');
  private connectionId = 0;
  private readonly throttle: PushThrottle;

  constructor(private readonly options: AdsServerOptions = {}) {
    this.logger = options.logger ?? createLogger('xds-server');
    this.throttle = new PushThrottle(Math.max(1, options.pushThrottle ?? 100));
    this.host = this.makeHost();
  }

  /**
   * Adds the ADS and SDS services to a grpc-js Server (before bindAsync); `{ ads: false }` registers SDS
   * only (the sidecar agent's Unix socket), `{ sds: false }` ADS only.
   */
  register(server: grpc.Server, services: { ads?: boolean; sds?: boolean } = {}): void {
    const protos = loadXdsProtos();
    const ads = protos.serviceDefinition('envoy.service.discovery.v3.AggregatedDiscoveryService');
    const sds = protos.serviceDefinition('envoy.service.secret.v3.SecretDiscoveryService');
    if (services.ads !== false) this.addAds(server, ads);
    if (services.sds !== false) this.addSds(server, sds);
  }

  private addAds(server: grpc.Server, full: grpc.ServiceDefinition): void {
    // ACKs (most requests on a busy server) are read by a small decoder; other requests by protobuf.
    const fast = (method: string, simple: (buf: Buffer) => Record<string, unknown> | undefined): grpc.MethodDefinition<unknown, unknown> => {
      const def = full[method] as grpc.MethodDefinition<unknown, unknown>;
      return { ...def, requestDeserialize: (buf: Buffer) => simple(buf) ?? def.requestDeserialize(buf) };
    };
    const ads: grpc.ServiceDefinition = {
      ...full,
      StreamAggregatedResources: fast('StreamAggregatedResources', decodeSimpleDiscoveryRequest),
      DeltaAggregatedResources: fast('DeltaAggregatedResources', decodeSimpleDeltaDiscoveryRequest),
    };
    server.addService(ads, {
      StreamAggregatedResources: (call: grpc.ServerDuplexStream<unknown, unknown>) => new SotwStream(this.host, call),
      DeltaAggregatedResources: (call: grpc.ServerDuplexStream<unknown, unknown>) => new DeltaStream(this.host, call),
    });
  }

  private addSds(server: grpc.Server, sds: grpc.ServiceDefinition): void {
    server.addService(sds, {
      StreamSecrets: (call: grpc.ServerDuplexStream<unknown, unknown>) => new SotwStream(this.host, call, SDS_TYPES),
      DeltaSecrets: (call: grpc.ServerDuplexStream<unknown, unknown>) =>
        call.emit('error', { code: GRPC_STATUS.UNIMPLEMENTED, details: 'DeltaSecrets is not implemented; use StreamSecrets' }),
      FetchSecrets: (_call: grpc.ServerUnaryCall<unknown, unknown>, cb: grpc.sendUnaryData<unknown>) =>
        cb({ code: GRPC_STATUS.UNIMPLEMENTED, details: 'FetchSecrets is not implemented; use StreamSecrets' }, null),
    });
  }

  /**
   * Sets the snapshot of a node and pushes what changed to its connected streams. An inconsistent snapshot
   * (a listener's RDS name or an EDS cluster's service name without a resource) is refused with
   * MESH_ERR_XDS_SNAPSHOT_INVALID listing what is missing; the previous snapshot stays.
   */
  setSnapshot(nodeId: string, snapshot: Snapshot): void {
    const problems = snapshot.consistencyProblems();
    if (problems.length > 0) throw xdsErrors.create('SNAPSHOT_INVALID', { nodeId, problems }, { nodeId, problems });
    this.snapshots.set(nodeId, snapshot);
    const streams = this.streamsByNode.get(nodeId);
    if (streams) for (const stream of streams) if (stream.isReady()) this.throttle.push(stream);
  }

  getSnapshot(nodeId: string): Snapshot | undefined {
    return this.snapshots.get(nodeId);
  }

  /** Forgets a node's snapshot (connected streams keep what they have; nothing is sent). */
  clearSnapshot(nodeId: string): void {
    this.snapshots.delete(nodeId);
  }

  /** The push throttle's state: streams waiting for a slot, and the most that were ever in flight at once. */
  pushQueue(): { queued: number; peakInFlight: number } {
    return { queued: this.throttle.queued(), peakInFlight: this.throttle.peakInFlight };
  }

  /** Node ids with at least one open stream. */
  connectedNodeIds(): string[] {
    const ids = new Set<string>();
    for (const s of this.streams) if (s.node) ids.add(s.node.id);
    return [...ids];
  }

  /** Every open stream with its node and per type: subscription, sent/acked versions, last NACK. */
  status(): ConnectionStatus[] {
    const out: ConnectionStatus[] = [];
    for (const s of this.streams) {
      const st = s.status();
      if (st) out.push(st);
    }
    return out.sort((a, b) => a.connectionId - b.connectionId);
  }

  /** Ends every stream (call before server.tryShutdown so clients see the end promptly). */
  closeAllStreams(): void {
    for (const s of [...this.streams]) s.close();
  }

  /**
   * Convenience: a grpc-js Server with this service bound to `address` (e.g. '127.0.0.1:0'); resolves the
   * bound port. close() ends the streams and shuts the server down.
   */
  async listen(
    address: string,
    credentials: grpc.ServerCredentials = grpcJs().ServerCredentials.createInsecure(),
    services: { ads?: boolean; sds?: boolean } = {},
  ): Promise<{ port: number; server: grpc.Server; close(): Promise<void> }> {
    const server = new (grpcJs().Server)({ 'grpc.max_receive_message_length': 64 * 1024 * 1024 });
    this.register(server, services);
    const port = await new Promise<number>((resolve, reject) =>
      server.bindAsync(address, credentials, (err, p) => (err ? reject(err) : resolve(p))),
    );
    this.logger.info('xDS server listening', { address, port });
    return {
      port,
      server,
      close: async () => {
        this.closeAllStreams();
        await new Promise<void>((resolve) => {
          const timer = setTimeout(() => {
            server.forceShutdown();
            resolve();
          }, 2000);
          server.tryShutdown(() => {
            clearTimeout(timer);
            resolve();
          });
        });
      },
    };
  }

  private makeHost(): StreamHost {
    const opts = this.options;
    return {
      logger: this.logger,
      warmingTimeoutMs: opts.warmingTimeoutMs ?? 5000,
      snapshotFor: (nodeId) => this.snapshots.get(nodeId),
      attach: async (stream) => {
        this.streams.add(stream);
        const node = stream.node as XdsNode;
        let byNode = this.streamsByNode.get(node.id);
        if (!byNode) {
          byNode = new Set();
          this.streamsByNode.set(node.id, byNode);
        }
        byNode.add(stream);
        if (opts.onConnect) {
          const snapshot = await opts.onConnect(node, stream.info);
          if (snapshot) this.setSnapshot(node.id, snapshot);
        }
      },
      detach: (stream) => {
        this.throttle.remove(stream);
        if (!this.streams.delete(stream)) return;
        const byNode = this.streamsByNode.get(stream.nodeId);
        if (byNode?.delete(stream) && byNode.size === 0) this.streamsByNode.delete(stream.nodeId);
        if (opts.onDisconnect && stream.node) {
          try {
            opts.onDisconnect(stream.node, stream.info);
          } catch (err) {
            this.logger.error('onDisconnect hook failed', { err, node: stream.nodeId });
          }
        }
      },
      nextNonce: () => `${this.noncePrefix}-${(++this.nonce).toString(36)}`,
      nextConnectionId: () => ++this.connectionId,
      ack: (event: AckEvent) => this.hook(opts.onAck, event),
      nack: (event: NackEvent) => this.hook(opts.onNack, event),
      sent: (event: SendEvent) => this.hook(opts.onSend, event),
    };
  }

  private hook<E extends { nodeId: string }>(fn: ((event: E) => void) | undefined, event: E): void {
    if (!fn) return;
    try {
      fn(event);
    } catch (err) {
      this.logger.error('xDS server hook failed', { err, node: event.nodeId });
    }
  }
}
