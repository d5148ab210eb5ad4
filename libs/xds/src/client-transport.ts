/**
 * A lean gRPC client stream on node:http2 for the ADS client, so that a sidecar does not load grpc-js (about
 * 7 MB of RSS for a library it would use for one stream). gRPC over HTTP/2: a POST to /<service>/<method>
 * with content-type application/grpc and te: trailers; each message framed as 1 byte (compressed flag, always
 * 0 here: we never offer compression) + 4 bytes big-endian length + the protobuf bytes; the status arrives in
 * the trailers (grpc-status, grpc-message percent-encoded) or, with no messages, in the response headers.
 * One HTTP/2 session per channel, re-opened for the next stream after it failed, and kept alive with PINGs
 * (a control plane that vanished without closing the connection is noticed).
 */
import { EventEmitter } from 'node:events';
import * as http2 from 'node:http2';
import { GrpcStatus } from '@mesh/runtime';
import type { XdsMessage } from './protos';

/** gRPC status codes (@mesh/runtime's table: the same numbers as grpc-js's `status`, without loading grpc-js). */
export const GRPC_STATUS = GrpcStatus;

const STATUS_NAMES = new Map<number, string>(Object.entries(GRPC_STATUS).map(([name, code]) => [code, name]));

/** 'UNAVAILABLE' for 14; the number itself for a code outside the table. */
export function grpcStatusName(code: number): string {
  return STATUS_NAMES.get(code) ?? String(code);
}

export interface GrpcStreamError {
  code: number;
  details: string;
}

export interface GrpcStreamEvents {
  data: [message: XdsMessage];
  /** The stream failed (non-OK status, reset, connection lost). */
  error: [err: GrpcStreamError];
  /** The server closed the stream with status OK. */
  end: [];
}

export interface MessageCodec {
  encode(message: object): Uint8Array;
  decode(bytes: Uint8Array): XdsMessage;
}

export interface ChannelOptions {
  /** Largest message accepted from the server. */
  maxReceiveBytes: number;
  /** PING interval and how long to wait for its ACK before the session is dropped. */
  keepaliveMs: number;
  keepaliveTimeoutMs: number;
}

/** One bidirectional gRPC stream. */
export class GrpcStream extends EventEmitter<GrpcStreamEvents> {
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  private done = false;

  constructor(
    private readonly req: http2.ClientHttp2Stream,
    private readonly request: MessageCodec,
    private readonly response: MessageCodec,
    private readonly maxReceiveBytes: number,
  ) {
    super();
    req.on('response', (headers) => {
      // Trailers-only: the status comes with the headers and the stream ends.
      if (headers['grpc-status'] !== undefined) this.finish(headers);
      else if (headers[':status'] !== 200) this.fail(GRPC_STATUS.UNAVAILABLE, `HTTP status ${String(headers[':status'])}`);
    });
    req.on('data', (chunk: Buffer) => this.onData(chunk));
    req.on('trailers', (trailers) => this.finish(trailers));
    req.on('error', (err: Error) => this.fail(GRPC_STATUS.UNAVAILABLE, err.message));
    req.on('close', () => this.fail(GRPC_STATUS.UNAVAILABLE, `stream closed (HTTP/2 code ${req.rstCode ?? 0})`));
  }

  write(message: object): void {
    if (this.done) return;
    const body = this.request.encode(message);
    const frame = Buffer.allocUnsafe(5 + body.length);
    frame[0] = 0;
    frame.writeUInt32BE(body.length, 1);
    frame.set(body, 5);
    this.req.write(frame);
  }

  cancel(): void {
    if (this.done) return;
    this.done = true;
    this.req.close(http2.constants.NGHTTP2_CANCEL);
  }

  private onData(chunk: Buffer): void {
    if (this.done) return;
    this.pending.push(chunk);
    this.pendingBytes += chunk.length;
    while (this.pendingBytes >= 5) {
      const buf = this.pending.length === 1 ? (this.pending[0] as Buffer) : Buffer.concat(this.pending, this.pendingBytes);
      const length = buf.readUInt32BE(1);
      if (buf[0] !== 0) return this.abort(GRPC_STATUS.INTERNAL, 'compressed message received but no compression was offered');
      if (length > this.maxReceiveBytes) return this.abort(GRPC_STATUS.RESOURCE_EXHAUSTED, `message of ${length} bytes exceeds the ${this.maxReceiveBytes} limit`);
      if (buf.length < 5 + length) {
        this.pending = [buf];
        return;
      }
      const rest = buf.subarray(5 + length);
      this.pending = rest.length > 0 ? [rest] : [];
      this.pendingBytes = rest.length;
      let message: XdsMessage;
      try {
        message = this.response.decode(buf.subarray(5, 5 + length));
      } catch (err) {
        return this.abort(GRPC_STATUS.INTERNAL, `response does not decode: ${(err as Error).message}`);
      }
      this.emit('data', message);
      if (this.done) return;
    }
  }

  private finish(headers: http2.IncomingHttpHeaders): void {
    if (this.done) return;
    const code = Number(headers['grpc-status']);
    if (code === GRPC_STATUS.OK) {
      this.done = true;
      this.emit('end');
      return;
    }
    const raw = headers['grpc-message'];
    let details = typeof raw === 'string' ? raw : '';
    try {
      details = decodeURIComponent(details);
    } catch {
      // not percent-encoded: keep as received
    }
    this.fail(Number.isInteger(code) ? code : GRPC_STATUS.UNKNOWN, details);
  }

  /** Our own failure: the server is told (RST_STREAM CANCEL), the consumer sees the error. */
  private abort(code: number, details: string): void {
    this.fail(code, details);
    this.req.close(http2.constants.NGHTTP2_CANCEL);
  }

  private fail(code: number, details: string): void {
    if (this.done) return;
    this.done = true;
    this.emit('error', { code, details });
  }
}

/** An HTTP/2 connection to one target (host:port, plaintext), opened on demand. */
export class GrpcChannel {
  private session: http2.ClientHttp2Session | undefined;
  private pingTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly target: string,
    private readonly options: ChannelOptions,
  ) {}

  /** Opens a bidirectional stream to `path` ('/package.Service/Method'). */
  stream(path: string, request: MessageCodec, response: MessageCodec): GrpcStream {
    const req = this.connect().request(
      { ':method': 'POST', ':path': path, 'content-type': 'application/grpc', te: 'trailers', 'user-agent': 'mesh-xds-client' },
      { endStream: false },
    );
    return new GrpcStream(req, request, response, this.options.maxReceiveBytes);
  }

  close(): void {
    this.drop();
  }

  private connect(): http2.ClientHttp2Session {
    const s = this.session;
    if (s && !s.closed && !s.destroyed) return s;
    const session = http2.connect(`http://${this.target}`, { settings: { enablePush: false } });
    this.session = session;
    // Errors reach the streams (each fails with UNAVAILABLE); the session itself is dropped.
    session.on('error', () => undefined);
    session.on('goaway', () => this.drop(session));
    session.on('close', () => this.drop(session));
    this.pingTimer = setInterval(() => this.ping(session), this.options.keepaliveMs);
    this.pingTimer.unref();
    return session;
  }

  private ping(session: http2.ClientHttp2Session): void {
    if (session !== this.session || session.destroyed) return;
    const timer = setTimeout(() => session.destroy(), this.options.keepaliveTimeoutMs);
    timer.unref();
    const sent = session.ping((err) => {
      clearTimeout(timer);
      if (err) session.destroy();
    });
    if (!sent) clearTimeout(timer);
  }

  /** Forgets the session (closes it gracefully: streams in flight still finish). */
  private drop(session = this.session): void {
    if (!session || session !== this.session) return;
    this.session = undefined;
    if (this.pingTimer) clearInterval(this.pingTimer);
    this.pingTimer = undefined;
    if (!session.closed && !session.destroyed) session.close();
  }
}
