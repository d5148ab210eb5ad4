/**
 * The listener side of HTTP/1.1 (plaintext and TLS), at connection level instead of Node's http.Server:
 * the strict request parser shared with the upstream client (H1RequestParser), one request at a time
 * (pipelined requests wait, unparsed and bounded, until the response before them went out), keep-alive,
 * Expect: 100-continue answered locally, upgrades handed over with the bytes already read, backpressure
 * both ways (a request body that nobody reads pauses the socket; see H1Response for the other way).
 * Malformed heads get 400 (431 when too large) and a closed connection. One coarse timer per connection
 * covers its phases: idle (no request: idle_timeout), head (request_headers_timeout: 408), exchange
 * (request_timeout until the request is complete, stream_idle_timeout on no activity either way).
 */
import type { IncomingHttpHeaders } from 'node:http';
import type * as net from 'node:net';
import type { Duplex } from 'node:stream';
import { H1Request, H1Response, type H1ResponseOwner } from './downstream-h1-exchange';
import { H1RequestParser, type H1RequestHandler, type H1RequestHead } from './downstream-h1-parser';
import type { ResponseHeaders } from './h1-framing';
import { CoarseTimer, coarseNow } from './timers-coarse';

export interface H1ServerHooks {
  onRequest(req: H1Request, res: H1Response): void;
  /** the connection leaves HTTP: `head` holds the bytes already read after the request head */
  onUpgrade(req: H1Request, socket: Duplex, head: Buffer): void;
  /** a malformed head (400/431) or a head that never completed (408); the connection is closing */
  onProtocolError(status: number, reason: string): void;
  onConnectionClose(conn: H1ServerConnection): void;
}

export interface H1ServerLimits {
  maxHeaderBytes: number;
  /** 0: none */
  headersTimeoutMs: number;
  requestTimeoutMs: number;
  idleTimeoutMs: number;
  streamIdleTimeoutMs: number;
}

const enum Phase {
  /** between requests */
  Idle,
  /** a request head is arriving */
  Head,
  /** a request is being served */
  Exchange,
  /** the connection is going away (rejected, ended, upgraded) */
  Closing,
}

const REASONS: Record<number, string> = { 400: 'Bad Request', 408: 'Request Timeout', 431: 'Request Header Fields Too Large' };
const CONTINUE = 'HTTP/1.1 100 Continue\r\n\r\n';
const EMPTY = Buffer.alloc(0);
/** how long a closing connection may linger for the peer to read our last bytes */
const LINGER_MS = 1000;

function onTimer(conn: H1ServerConnection): void {
  conn.onTimer();
}

function afterResponse(conn: H1ServerConnection, res: H1Response): void {
  conn.afterResponse(res);
}

export class H1ServerConnection implements H1RequestHandler, H1ResponseOwner {
  private readonly parser: H1RequestParser;
  private readonly timer: CoarseTimer;
  private phase = Phase.Idle;
  private req: H1Request | undefined = undefined;
  private res: H1Response | undefined = undefined;
  private upgradeReq: H1Request | undefined = undefined;
  private exchangeStart = 0;
  private lastActivity = 0;
  private readPaused = false;
  /** inside parser.execute(): a response that ends now ends within a request callback */
  private feeding = false;
  /** set by drain: finish the current response, then close */
  private closeAfterResponse = false;
  private readonly onData = (chunk: Buffer): void => this.feed(chunk);
  private readonly onDrain = (): void => this.res?.drained();

  constructor(
    readonly socket: Duplex,
    private readonly hooks: H1ServerHooks,
    private readonly limits: H1ServerLimits,
    first?: Buffer,
  ) {
    this.parser = new H1RequestParser(this, limits.maxHeaderBytes);
    this.timer = new CoarseTimer(onTimer, this);
    socket.on('data', this.onData);
    socket.on('drain', this.onDrain);
    socket.once('close', () => this.onClose());
    this.armIdle();
    if (first !== undefined && first.length > 0) this.feed(first);
  }

  /** true while no request is in progress (drain closes such connections at once) */
  get idle(): boolean {
    return this.phase === Phase.Idle;
  }

  /** Drain: the response in progress is the last one on this connection; an idle connection closes now. */
  closeWhenIdle(): void {
    this.closeAfterResponse = true;
    if (this.res !== undefined) this.res.closeConnection = true;
    else if (this.phase === Phase.Idle) this.shutdown();
  }

  private feed(chunk: Buffer): void {
    if (this.phase === Phase.Closing) return;
    if (this.phase === Phase.Idle) {
      this.phase = Phase.Head;
      this.armHead();
    } else if (this.phase === Phase.Exchange) this.lastActivity = coarseNow();
    let err: string | undefined;
    this.feeding = true;
    try {
      err = this.parser.execute(chunk);
    } finally {
      this.feeding = false;
    }
    if (err !== undefined) {
      this.protocolError(err);
      return;
    }
    if (this.upgradeReq !== undefined) {
      this.upgrade(this.upgradeReq);
      return;
    }
    const rest = this.parser.rest;
    if (rest !== undefined && rest.length > this.limits.maxHeaderBytes) this.pauseBody();
  }

  onRequestHead(head: H1RequestHead): void {
    const req = new H1Request(head.method, head.url, head.minor, head.headers as IncomingHttpHeaders, this.socket as net.Socket, head.hasBody, this);
    if (head.upgrade) {
      this.upgradeReq = req;
      return;
    }
    const res = new H1Response(this, head.minor, head.keepAlive && !this.closeAfterResponse, head.method === 'HEAD');
    this.req = req;
    this.res = res;
    this.phase = Phase.Exchange;
    if (head.hasBody && head.minor === 1) {
      const expect = head.headers.expect;
      if (typeof expect === 'string' && expect.toLowerCase() === '100-continue') {
        // Answered here, as Envoy does by default; the upstream sees no Expect.
        delete head.headers.expect;
        this.socket.write(CONTINUE, 'latin1');
      }
    }
    this.exchangeStart = this.lastActivity = Date.now();
    this.armExchange();
    this.hooks.onRequest(req, res);
  }

  onBody(chunk: Buffer): void {
    this.req?.pushBody(chunk);
  }

  onComplete(_trailers: ResponseHeaders | undefined): void {
    this.req?.finish();
  }

  /**
   * H1ResponseOwner: the response went out completely. Usually it ends in an upstream read, with its request
   * complete and nothing pipelined behind it: the connection is ready for the next request at once.
   * Otherwise after this tick (a local reply ends inside the parser's callback, before the request is
   * complete; a pipelined request must not start inside the response that precedes it).
   */
  responseDone(res: H1Response): void {
    this.lastActivity = coarseNow();
    if (!this.feeding && res === this.res && this.req !== undefined && this.req.complete && this.parser.rest === undefined) this.afterResponse(res);
    else process.nextTick(afterResponse, this, res);
  }

  afterResponse(res: H1Response): void {
    if (res !== this.res) return;
    const req = this.req;
    this.req = undefined;
    this.res = undefined;
    res.close(true);
    if (res.closeConnection || this.closeAfterResponse || req === undefined || !req.complete) {
      // A request body not read to its end leaves the connection in an unknown place: close it.
      this.shutdown();
      return;
    }
    this.phase = Phase.Idle;
    this.armIdle();
    const rest = this.parser.rest;
    this.parser.next();
    this.resumeBody();
    if (rest !== undefined) this.feed(rest);
  }

  pauseBody(): void {
    if (this.readPaused) return;
    this.readPaused = true;
    this.socket.pause();
  }

  resumeBody(): void {
    if (!this.readPaused) return;
    this.readPaused = false;
    this.socket.resume();
  }

  /** activity on the exchange (response bytes out), for stream_idle_timeout */
  touch(): void {
    this.lastActivity = coarseNow();
  }

  private upgrade(req: H1Request): void {
    this.upgradeReq = undefined;
    this.phase = Phase.Closing;
    this.timer.clear();
    const head = this.parser.rest ?? EMPTY;
    this.parser.next();
    const socket = this.socket;
    socket.removeListener('data', this.onData);
    socket.removeListener('drain', this.onDrain);
    // Nothing may be lost between now and the tunnel's pipe(): stop the flow.
    socket.pause();
    this.readPaused = false;
    this.hooks.onUpgrade(req, socket, head);
  }

  private protocolError(reason: string): void {
    const status = this.parser.errorStatus;
    this.hooks.onProtocolError(status, reason);
    if (this.res !== undefined) {
      // The request in progress is broken (its body): reset it.
      this.socket.destroy();
      return;
    }
    this.reject(status);
  }

  /** Answers `status` with an empty body and closes the connection. */
  private reject(status: number): void {
    this.phase = Phase.Closing;
    this.socket.removeListener('data', this.onData);
    const socket = this.socket;
    if (!socket.writable) {
      socket.destroy();
      return;
    }
    socket.end(`HTTP/1.1 ${status} ${REASONS[status] ?? 'Bad Request'}\r\ncontent-length: 0\r\nconnection: close\r\n\r\n`, 'latin1');
    this.resumeBody();
    this.timer.arm(LINGER_MS);
  }

  private shutdown(): void {
    this.phase = Phase.Closing;
    this.socket.end();
    this.timer.arm(LINGER_MS);
  }

  private armIdle(): void {
    if (this.limits.idleTimeoutMs > 0) this.timer.arm(this.limits.idleTimeoutMs);
    else this.timer.clear();
  }

  private armHead(): void {
    if (this.limits.headersTimeoutMs > 0) this.timer.arm(this.limits.headersTimeoutMs);
    else this.timer.clear();
  }

  /** The exchange's next deadline: request_timeout while the request is incomplete, stream idle always. */
  private armExchange(): void {
    const l = this.limits;
    let wait = -1;
    if (l.requestTimeoutMs > 0 && !(this.req?.complete ?? true)) wait = this.exchangeStart + l.requestTimeoutMs - Date.now();
    if (l.streamIdleTimeoutMs > 0) {
      const idle = this.lastActivity + l.streamIdleTimeoutMs - Date.now();
      if (wait < 0 || idle < wait) wait = idle;
    }
    if (wait < 0 && l.requestTimeoutMs <= 0 && l.streamIdleTimeoutMs <= 0) this.timer.clear();
    else this.timer.arm(Math.max(1, wait));
  }

  onTimer(): void {
    switch (this.phase) {
      case Phase.Idle:
        this.phase = Phase.Closing;
        this.socket.destroy();
        return;
      case Phase.Head:
        this.hooks.onProtocolError(408, 'request headers timeout');
        this.reject(408);
        return;
      case Phase.Closing:
        this.socket.destroy();
        return;
      case Phase.Exchange:
        break;
    }
    const res = this.res;
    const req = this.req;
    if (res === undefined || req === undefined) return;
    const now = Date.now();
    const l = this.limits;
    let kind: 'request' | 'stream_idle' | undefined;
    if (l.requestTimeoutMs > 0 && !req.complete && now >= this.exchangeStart + l.requestTimeoutMs) kind = 'request';
    else if (l.streamIdleTimeoutMs > 0 && now >= this.lastActivity + l.streamIdleTimeoutMs) kind = 'stream_idle';
    if (kind === undefined) {
      this.armExchange();
      return;
    }
    const hook = res.ontimeout;
    if (hook !== undefined) hook(res, kind);
    else if (!res.headersSent) res.writeHead(408, { 'content-length': '0' }).end();
    else res.destroy();
  }

  private onClose(): void {
    this.phase = Phase.Closing;
    this.timer.clear();
    const req = this.req;
    const res = this.res;
    this.req = undefined;
    this.res = undefined;
    req?.abort();
    res?.close(res.writableEnded);
    this.hooks.onConnectionClose(this);
  }
}
