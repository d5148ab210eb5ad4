/**
 * A lean HTTP/1.1 client for upstream endpoints, plaintext or TLS (sockets from upstream-h1-tls.ts): a keep-alive pool per endpoint
 * (LIFO idle list, connections capped by the cluster's max_connections, a FIFO of requests waiting for a
 * connection), the request head written as one string, the response read by H1ResponseParser and handed to
 * a sink without Node's ClientRequest/IncomingMessage objects. Backpressure both ways: the socket is paused
 * while the sink's consumer is full, and a streamed request body is paused while the socket is.
 */
import * as net from 'node:net';
import type { Readable } from 'node:stream';
import type * as tls from 'node:tls';
import { isHeaderValue, isTokenName, type ResponseHeaders } from './h1-framing';
import { CoarseTimer } from './timers-coarse';
import { H1ResponseParser, type H1ResponseHandler } from './upstream-h1-parser';
import { openSocket, readyEvent, tlsConnectError, type H1Endpoint } from './upstream-h1-tls';
import { TLS_CONNECT_FAILED } from './upstream-reset';

/** Upstream response headers may be as large as Envoy allows (60 KiB by default, plus slack). */
const MAX_RESPONSE_HEADER_BYTES = 96 * 1024;
const LAST_CHUNK = Buffer.from('0\r\n\r\n');
const CRLF = Buffer.from('\r\n');

/**
 * Plaintext connections read into this one buffer (net.connect's `onread`): no buffer allocated per read and
 * no Readable stream in between. Reads run one at a time on the event loop, and whatever a read delivers is
 * used or copied before its callback returns, so every connection can share it.
 */
const READ_BUFFER = Buffer.allocUnsafe(64 * 1024);

/** Who gets the response of one exchange. onData returns false to stop the flow until resume(). */
export interface H1ResponseSink {
  onUpstreamHead(status: number, headers: ResponseHeaders): void;
  /** `transient`: the chunk is a view of a buffer reused after the call: copy what is kept */
  onUpstreamData(chunk: Buffer, transient: boolean): boolean;
  onUpstreamEnd(trailers: ResponseHeaders | undefined): void;
  onUpstreamError(err: NodeJS.ErrnoException): void;
}

/**
 * The request head: request line, the headers (validated: a name must be a token, a value printable), and
 * the body framing header line(s). Throws when a header cannot be sent (the caller fails that request only).
 */
export function requestHead(method: string, path: string, headers: Record<string, string | string[]>, framing: string): string {
  let head = `${method} ${path} HTTP/1.1\r\n`;
  for (const name in headers) {
    const v = headers[name];
    if (!isTokenName(name)) throw new Error(`invalid header name ${JSON.stringify(name)}`);
    if (typeof v === 'string') {
      if (!isHeaderValue(name, v)) throw new Error(`invalid value for header ${name}`);
      head += `${name}: ${v}\r\n`;
    } else {
      for (let i = 0; i < v.length; i++) {
        if (!isHeaderValue(name, v[i])) throw new Error(`invalid value for header ${name}`);
        head += `${name}: ${v[i]}\r\n`;
      }
    }
  }
  return `${head}${framing}\r\n`;
}

/** One request/response on the pool. destroy() cancels it (the connection is closed if it was in use). */
export class H1Exchange {
  conn: H1Connection | undefined = undefined;
  /** the request was written completely (the connection may be reused after the response) */
  requestDone = false;
  finished = false;
  /** already sent again once after a reused connection closed under it */
  replayed = false;
  private bodyPaused = false;

  constructor(
    readonly pool: H1Pool,
    readonly head: string,
    readonly noResponseBody: boolean,
    /** buffered body (sent with the head), or undefined */
    readonly body: Buffer | undefined,
    /** streamed body, or undefined */
    readonly stream: Readable | undefined,
    /** streamed body re-framed with chunked transfer-encoding */
    readonly chunked: boolean,
    public sink: H1ResponseSink | undefined,
    /**
     * An idempotent request with its whole body at hand: when a reused keep-alive connection turns out to
     * have been closed by the upstream before any response byte (the upstream's idle close racing our
     * write), it is sent once more on another connection instead of failing.
     */
    readonly replayable = false,
  ) {}

  /** Writes the request on its connection. */
  start(conn: H1Connection): void {
    this.conn = conn;
    const socket = conn.socket;
    if (this.stream === undefined) {
      if (this.body !== undefined && this.body.length > 0) {
        socket.cork();
        socket.write(this.head, 'latin1');
        socket.write(this.body);
        socket.uncork();
      } else socket.write(this.head, 'latin1');
      this.requestDone = true;
      return;
    }
    socket.write(this.head, 'latin1');
    const stream = this.stream;
    stream.on('data', (c: Buffer) => {
      if (this.finished || !this.conn) return;
      const s = this.conn.socket;
      let ok: boolean;
      if (this.chunked) {
        if (c.length === 0) return;
        s.cork();
        s.write(`${c.length.toString(16)}\r\n`, 'latin1');
        s.write(c);
        ok = s.write(CRLF);
        s.uncork();
      } else ok = s.write(c);
      if (!ok) {
        this.bodyPaused = true;
        stream.pause();
      }
    });
    stream.once('end', () => {
      if (this.finished || !this.conn) return;
      if (this.chunked) this.conn.socket.write(LAST_CHUNK);
      this.requestDone = true;
      this.conn.maybeReleaseAfterRequest();
    });
  }

  /** the socket drained: let a paused request body flow again */
  onSocketDrain(): void {
    if (this.bodyPaused && this.stream) {
      this.bodyPaused = false;
      this.stream.resume();
    }
  }

  /**
   * The exchange ended before its streamed body was sent (early response, reset): let the body flow into
   * the no-op listener so the downstream connection is not left paused.
   */
  releaseBody(): void {
    if (this.bodyPaused && this.stream) {
      this.bodyPaused = false;
      this.stream.resume();
    }
  }

  /** the sink can take more response data */
  resume(): void {
    this.conn?.socket.resume();
  }

  destroy(): void {
    if (this.finished) return;
    this.finished = true;
    this.sink = undefined;
    const conn = this.conn;
    this.conn = undefined;
    if (conn) conn.abandon();
    else this.pool.dequeue(this);
  }
}

function closeIdle(conn: H1Connection): void {
  if (conn.exchange === undefined) conn.socket.destroy();
}

function onConnectTimeout(conn: H1Connection): void {
  conn.socket.destroy(Object.assign(new Error('connect timeout'), { code: 'ETIMEDOUT_CONNECT' }));
}

/** An exchange that never got a connection fails with err (unless cancelled meanwhile). */
function failUnconnected(ex: H1Exchange, err: NodeJS.ErrnoException): void {
  if (ex.finished) return;
  ex.finished = true;
  ex.releaseBody();
  const sink = ex.sink;
  ex.sink = undefined;
  sink?.onUpstreamError(err);
}

export class H1Connection implements H1ResponseHandler {
  readonly socket: net.Socket;
  readonly parser: H1ResponseParser;
  exchange: H1Exchange | undefined = undefined;
  connecting = true;
  closed = false;
  /** the response ended but the request body is still being written */
  private responseDone = false;
  private keepAlive = false;
  /** closes the connection after idle_timeout in the pool */
  readonly idleTimer = new CoarseTimer(closeIdle, this);
  /** exchanges assigned so far (more than one: a reused keep-alive connection) */
  private served = 0;
  /** Envoy's connect_timeout over TCP connect and TLS handshake (a socket timeout restarts on every record) */
  private connectTimer: NodeJS.Timeout | undefined;

  /** reads land in READ_BUFFER (plaintext) rather than in a new buffer per read (TLS) */
  private readonly transient: boolean;

  constructor(
    readonly pool: H1Pool,
    first: H1Exchange,
    /** a TLS socket from openSocket; undefined: a plaintext connection reading into READ_BUFFER */
    tlsSocket: net.Socket | undefined,
  ) {
    this.transient = tlsSocket === undefined;
    this.parser = new H1ResponseParser(this, MAX_RESPONSE_HEADER_BYTES, this.transient);
    const socket = tlsSocket ?? net.connect({ host: pool.host, port: pool.port, noDelay: true, onread: { buffer: READ_BUFFER, callback: (n: number) => this.onRead(n) } });
    this.socket = socket;
    this.connectTimer = setTimeout(onConnectTimeout, pool.connectTimeoutMs, this);
    socket.once(readyEvent(pool), () => {
      this.connecting = false;
      clearTimeout(this.connectTimer);
    });
    if (tlsSocket !== undefined) socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('drain', () => this.exchange?.onSocketDrain());
    socket.on('end', () => this.onEnd());
    socket.on('error', (err: NodeJS.ErrnoException) => this.fail(err));
    socket.once('close', () => {
      this.closed = true;
      clearTimeout(this.connectTimer);
      this.idleTimer.clear();
      this.fail(Object.assign(new Error('upstream connection closed'), { code: 'ECONNRESET' }));
      this.pool.removeConnection(this);
    });
    this.assign(first);
  }

  assign(ex: H1Exchange): void {
    this.idleTimer.clear();
    this.served++;
    this.exchange = ex;
    this.responseDone = false;
    this.keepAlive = false;
    this.parser.reset(ex.noResponseBody);
    ex.start(this);
  }

  /** a plaintext read: `n` bytes in READ_BUFFER (socket.pause() inside stops the reads that follow) */
  private onRead(n: number): boolean {
    this.onData(READ_BUFFER.subarray(0, n));
    return true;
  }

  private onData(chunk: Buffer): void {
    if (this.exchange === undefined) {
      // Bytes on an idle connection: nothing may answer no request.
      this.socket.destroy();
      return;
    }
    const err = this.parser.execute(chunk);
    if (err !== undefined) {
      this.fail(Object.assign(new Error(err), { code: 'HPE_UPSTREAM_PROTOCOL' }));
      this.socket.destroy();
    }
  }

  private onEnd(): void {
    if (this.exchange !== undefined) {
      const err = this.parser.finish();
      if (err !== undefined) this.fail(Object.assign(new Error(err), { code: 'ECONNRESET' }));
    }
    this.socket.destroy();
  }

  /** The exchange in flight (if any) fails with err; the connection is not reused. */
  private fail(err: NodeJS.ErrnoException): void {
    const ex = this.exchange;
    this.exchange = undefined;
    if (ex === undefined) return;
    if (this.connecting && this.pool.tls !== undefined) err = tlsConnectError(err);
    ex.conn = undefined;
    if (ex.replayable && !ex.replayed && this.served > 1 && this.parser.idle && (err.code === 'ECONNRESET' || err.code === 'EPIPE')) {
      ex.replayed = true;
      if (!this.closed) this.socket.destroy();
      this.pool.request(ex);
      return;
    }
    ex.finished = true;
    ex.releaseBody();
    const sink = ex.sink;
    ex.sink = undefined;
    if (!this.closed) this.socket.destroy();
    sink?.onUpstreamError(err);
  }

  onHead(status: number, headers: ResponseHeaders, keepAlive: boolean): void {
    this.keepAlive = keepAlive;
    this.exchange?.sink?.onUpstreamHead(status, headers);
  }

  onBody(chunk: Buffer): void {
    const sink = this.exchange?.sink;
    if (sink !== undefined && !sink.onUpstreamData(chunk, this.transient)) this.socket.pause();
  }

  onComplete(trailers: ResponseHeaders | undefined): void {
    const ex = this.exchange;
    if (ex === undefined) return;
    const sink = ex.sink;
    ex.sink = undefined;
    ex.finished = true;
    this.responseDone = true;
    this.maybeReleaseAfterRequest();
    sink?.onUpstreamEnd(trailers);
  }

  /** Once both the response and the request are complete, the connection goes back to the pool. */
  maybeReleaseAfterRequest(): void {
    const ex = this.exchange;
    if (ex === undefined || !this.responseDone) return;
    if (!ex.requestDone) {
      // The upstream answered before the request body was sent: the connection cannot be reused.
      if (ex.finished) this.abandon();
      return;
    }
    ex.conn = undefined;
    this.exchange = undefined;
    if (!this.keepAlive || this.parser.extra || this.closed || this.socket.destroyed) {
      this.socket.destroy();
      return;
    }
    this.socket.resume();
    this.pool.release(this);
    if (this.exchange === undefined && !this.socket.destroyed && this.pool.idleTimeoutMs > 0) this.idleTimer.arm(this.pool.idleTimeoutMs);
  }

  /** The exchange was cancelled mid-flight: the connection's state is unknown, close it. */
  abandon(): void {
    const ex = this.exchange;
    this.exchange = undefined;
    if (ex) {
      ex.conn = undefined;
      ex.releaseBody();
    }
    this.socket.destroy();
  }
}

/** The keep-alive pool of one endpoint. */
export class H1Pool implements H1Endpoint {
  private readonly idle: H1Connection[] = [];
  private readonly waiting: H1Exchange[] = [];
  private total = 0;
  /** retired: connections close when their exchange ends */
  private closed = false;
  tlsSession: Buffer | undefined = undefined;

  constructor(
    readonly host: string,
    readonly port: number,
    readonly maxConnections: number,
    readonly connectTimeoutMs: number,
    readonly idleTimeoutMs: number,
    /** TLS connect options with a prepared secure context (pool-http1.ts), or undefined for plaintext */
    readonly tls: tls.ConnectionOptions | undefined = undefined,
  ) {}

  request(ex: H1Exchange): void {
    let conn = this.idle.pop();
    // A connection closed while idle leaves the list on 'close', a tick later: never hand it out.
    while (conn !== undefined && conn.socket.destroyed) conn = this.idle.pop();
    if (conn !== undefined) conn.assign(ex);
    else if (this.total < this.maxConnections) {
      let socket: net.Socket | undefined;
      try {
        if (this.tls !== undefined) socket = openSocket(this);
      } catch (err) {
        // tls.connect refused its options (e.g. a key that does not match the certificate): a failed connect.
        process.nextTick(failUnconnected, ex, Object.assign(new Error(`TLS connect failed: ${(err as Error).message}`), { code: TLS_CONNECT_FAILED }));
        return;
      }
      this.total++;
      new H1Connection(this, ex, socket);
    } else this.waiting.push(ex);
  }

  /** A connection is free again: the oldest waiting request takes it, or it waits idle. */
  release(conn: H1Connection): void {
    if (this.closed) {
      conn.socket.destroy();
      return;
    }
    const next = this.waiting.shift();
    if (next !== undefined) conn.assign(next);
    else this.idle.push(conn);
  }

  removeConnection(conn: H1Connection): void {
    this.total--;
    const i = this.idle.indexOf(conn);
    if (i >= 0) this.idle.splice(i, 1);
    // A slot opened: a waiting request may connect now.
    const next = this.waiting.shift();
    if (next !== undefined) this.request(next);
  }

  dequeue(ex: H1Exchange): void {
    const i = this.waiting.indexOf(ex);
    if (i >= 0) this.waiting.splice(i, 1);
  }

  connections(): number {
    return this.total;
  }

  pending(): number {
    return this.waiting.length;
  }

  destroy(): void {
    this.closed = true;
    for (const ex of this.waiting.splice(0)) ex.sink?.onUpstreamError(Object.assign(new Error('upstream pool closed'), { code: 'ECONNRESET' }));
    for (const c of this.idle.splice(0)) c.socket.destroy();
  }
}
