/**
 * gRPC unary methods served straight from node:http2 over TLS, without grpc-js's server. The CA has one
 * unary method; grpc-js spends CPU on every call for machinery it does not use (interceptor chains,
 * stream decoders, a deadline timer per call, call tracking). Here a call is: HTTP/2 request headers, one
 * length-prefixed message, a handler, then either one response message and trailers, or a trailers-only
 * error (the gRPC over HTTP/2 wire format, PROTOCOL-HTTP2 in the gRPC repository).
 *
 * The caller's deadline (grpc-timeout) is not a timer: `abandoned()` compares the clock with it when the
 * handler asks, and the caller's own deadline ends the call on its side (it resets the stream).
 */
import * as http2 from 'node:http2';
import type { HostPort } from '@mesh/runtime';
import { MeshError } from '@mesh/runtime';
import { errors } from './errors';

export interface UnaryCall<Req> {
  readonly request: Req;
  readonly headers: http2.IncomingHttpHeaders;
  /** True once the caller reset or closed the stream, or its grpc-timeout has passed. */
  abandoned(): boolean;
  /** "address:port" of the caller, for logs. */
  peer(): string;
}

export interface UnaryMethod<Req, Res> {
  deserialize(message: Buffer): Req;
  serialize(response: Res): Buffer;
  /** Resolves with the response; a rejection with a MeshError becomes its gRPC status and message. */
  handle(call: UnaryCall<Req>): Promise<Res>;
}

export interface TlsIdentity {
  cert: string;
  key: string;
}

export interface UnaryServerOptions {
  /** method path ("/package.Service/Method") -> method */
  methods: ReadonlyMap<string, UnaryMethod<unknown, unknown>>;
  tls: TlsIdentity;
  /** Largest request message accepted (grpc-js's default is 4 MiB). */
  maxMessageBytes?: number;
  /** Called for requests refused before any method handler saw them (unknown method, bad framing). */
  onRefused?(err: MeshError, peer: string): void;
}

export interface UnaryServer {
  port: number;
  /** New connections use this certificate; open ones keep theirs. */
  setIdentity(tls: TlsIdentity): void;
  stop(): Promise<void>;
}

const TIMEOUT_UNITS_MS: Record<string, number> = { H: 3_600_000, M: 60_000, S: 1000, m: 1, u: 0.001, n: 0.000001 };
const RESPONSE_HEADERS = { ':status': 200, 'content-type': 'application/grpc+proto' };
const OK_TRAILERS = { 'grpc-status': '0' };
const DEFAULT_MAX_MESSAGE = 4 * 1024 * 1024;

function noop(): void {
  return;
}

/** grpc-message is percent-encoded: every byte outside printable ASCII, and '%' itself. */
function grpcMessage(text: string): string {
  return text.replace(/[^\x20-\x24\x26-\x7e]/gu, (c) => encodeURIComponent(c));
}

/** Milliseconds of a grpc-timeout header ("10S", "250m", ...); undefined when absent or malformed. */
export function grpcTimeoutMs(value: string | string[] | undefined): number | undefined {
  if (typeof value !== 'string') return undefined;
  const m = /^(\d{1,8})([HMSmun])$/.exec(value);
  return m ? Number(m[1]) * TIMEOUT_UNITS_MS[m[2]] : undefined;
}

function peerOf(stream: http2.ServerHttp2Stream): string {
  const socket = stream.session?.socket;
  return socket ? `${socket.remoteAddress}:${socket.remotePort}` : 'unknown';
}

/** One call: collects the request message, runs the method, writes the answer. */
class Exchange implements UnaryCall<unknown> {
  request: unknown = undefined;
  private readonly chunks: Buffer[] = [];
  private size = 0;
  private finished = false;

  constructor(
    private readonly stream: http2.ServerHttp2Stream,
    readonly headers: http2.IncomingHttpHeaders,
    private readonly method: UnaryMethod<unknown, unknown>,
    private readonly deadline: number,
    private readonly options: UnaryServerOptions,
    private readonly maxMessageBytes: number,
  ) {}

  abandoned(): boolean {
    return this.stream.destroyed || this.stream.closed || Date.now() >= this.deadline;
  }

  peer(): string {
    return peerOf(this.stream);
  }

  onData(chunk: Buffer): void {
    if (this.finished) return;
    this.size += chunk.length;
    if (this.size > this.maxMessageBytes + 5) {
      this.refuse(errors.create('GRPC_MESSAGE_TOO_LARGE', { size: this.size - 5, max: this.maxMessageBytes }));
      return;
    }
    this.chunks.push(chunk);
  }

  onEnd(): void {
    if (this.finished) return;
    const body = this.chunks.length === 1 ? this.chunks[0] : Buffer.concat(this.chunks);
    if (body.length < 5) return this.refuse(errors.create('GRPC_REQUEST_INVALID', { reason: 'no request message' }));
    if (body[0] !== 0) return this.refuse(errors.create('GRPC_REQUEST_INVALID', { reason: 'compressed message without a grpc-encoding' }));
    const length = body.readUInt32BE(1);
    if (length !== body.length - 5) return this.refuse(errors.create('GRPC_REQUEST_INVALID', { reason: `expected one message of ${length} bytes, got ${body.length - 5} bytes` }));
    try {
      this.request = this.method.deserialize(body.subarray(5));
    } catch (err) {
      return this.refuse(errors.create('GRPC_REQUEST_INVALID', { reason: `cannot decode the request message (${(err as Error).message})` }));
    }
    this.method.handle(this).then(
      (response) => this.reply(response),
      (err: unknown) => this.fail(err),
    );
  }

  private reply(response: unknown): void {
    if (this.finished || this.stream.destroyed || this.stream.closed) return;
    this.finished = true;
    let message: Buffer;
    try {
      message = this.method.serialize(response);
    } catch (err) {
      this.finished = false;
      return this.fail(err);
    }
    const frame = Buffer.allocUnsafe(5 + message.length);
    frame[0] = 0;
    frame.writeUInt32BE(message.length, 1);
    message.copy(frame, 5);
    this.stream.respond(RESPONSE_HEADERS, { waitForTrailers: true });
    this.stream.once('wantTrailers', () => this.stream.sendTrailers(OK_TRAILERS));
    this.stream.end(frame);
  }

  private fail(err: unknown): void {
    const e = err instanceof MeshError ? err : errors.create('SIGN_FAILED', { reason: (err as Error)?.message ?? String(err) });
    this.trailersOnly(e);
  }

  private refuse(e: MeshError): void {
    this.options.onRefused?.(e, this.peer());
    this.trailersOnly(e);
  }

  private trailersOnly(e: MeshError): void {
    if (this.finished || this.stream.destroyed || this.stream.closed) return;
    this.finished = true;
    this.stream.respond({ ...RESPONSE_HEADERS, 'grpc-status': String(e.grpcStatus), 'grpc-message': grpcMessage(`${e.code}: ${e.message}`) }, { endStream: true });
  }
}

/** A trailers-only answer before the request body was read (the body is drained and dropped). */
function refuseStream(options: UnaryServerOptions, stream: http2.ServerHttp2Stream, e: MeshError): void {
  options.onRefused?.(e, peerOf(stream));
  stream.respond({ ...RESPONSE_HEADERS, 'grpc-status': String(e.grpcStatus), 'grpc-message': grpcMessage(`${e.code}: ${e.message}`), 'grpc-accept-encoding': 'identity' }, { endStream: true });
  stream.resume();
}

function onStream(options: UnaryServerOptions, maxMessageBytes: number, stream: http2.ServerHttp2Stream, headers: http2.IncomingHttpHeaders): void {
  stream.on('error', noop); // a reset by the caller; nothing to answer
  const contentType = headers['content-type'];
  if (headers[':method'] !== 'POST' || typeof contentType !== 'string' || !contentType.startsWith('application/grpc')) {
    stream.respond({ ':status': 415 }, { endStream: true });
    return;
  }
  const path = String(headers[':path']);
  const method = options.methods.get(path);
  if (!method) return refuseStream(options, stream, errors.create('GRPC_METHOD_UNKNOWN', { path }));
  const encoding = headers['grpc-encoding'];
  if (encoding !== undefined && encoding !== 'identity') return refuseStream(options, stream, errors.create('GRPC_ENCODING_UNSUPPORTED', { encoding: String(encoding) }));
  const timeout = grpcTimeoutMs(headers['grpc-timeout']);
  const exchange = new Exchange(stream, headers, method, timeout === undefined ? Number.POSITIVE_INFINITY : Date.now() + timeout, options, maxMessageBytes);
  stream.on('data', (chunk: Buffer) => exchange.onData(chunk));
  stream.on('end', () => exchange.onEnd());
}

export async function startUnaryServer(address: HostPort, options: UnaryServerOptions): Promise<UnaryServer> {
  const maxMessageBytes = options.maxMessageBytes ?? DEFAULT_MAX_MESSAGE;
  const server = http2.createSecureServer({ cert: options.tls.cert, key: options.tls.key, allowHTTP1: false });
  const sessions = new Set<http2.ServerHttp2Session>();
  server.on('session', (session: http2.ServerHttp2Session) => {
    sessions.add(session);
    session.on('error', noop);
    session.once('close', () => sessions.delete(session));
  });
  server.on('tlsClientError', noop);
  server.on('stream', (stream, headers) => onStream(options, maxMessageBytes, stream, headers));
  const target = `${address.host.includes(':') ? `[${address.host}]` : address.host}:${address.port}`;
  await new Promise<void>((resolve, reject) => {
    const failed = (err: Error): void => reject(errors.create('LISTEN_FAILED', { address: target, reason: err.message }));
    server.once('error', failed);
    server.listen(address.port, address.host, () => {
      server.off('error', failed);
      resolve();
    });
  });
  const bound = server.address();
  return {
    port: typeof bound === 'object' && bound ? bound.port : address.port,
    setIdentity(tls) {
      server.setSecureContext({ cert: tls.cert, key: tls.key });
    },
    stop: () =>
      new Promise<void>((resolve) => {
        const timer = setTimeout(() => {
          for (const s of sessions) s.destroy();
        }, 5000);
        server.close(() => {
          clearTimeout(timer);
          resolve();
        });
        for (const s of sessions) s.close();
      }),
  };
}
