/**
 * One upstream request of a downstream stream: host choice (with hash keys for ring hash), circuit breakers
 * (UO), per-route and per-try timeouts (504 UT), retries with exponential backoff (URX when exhausted),
 * request mirroring, and the response relayed downstream. HTTP/1.1 (plaintext and TLS) goes through the lean
 * client (this class is its sink), HTTP/2 through the endpoint's session. The pieces that
 * need none of this state live beside it: lb-hash-key.ts, upstream-retry.ts (retriable statuses, backoff),
 * upstream-reset.ts (what a failure was), upstream-mirror.ts.
 */
import * as http2 from 'node:http2';
import type { Route } from './config-route';
import type { RouteAction, RetryPolicy, WeightedCluster } from './config-route-action';
import type { UpstreamCluster, UpstreamHost } from './cluster-manager';
import { corsResponseHeaders } from './filter-cors';
import { applyMutations, copyEndToEnd } from './header-mutation';
import type { ResponseHeaders } from './h1-framing';
import { requestBody, requestHasBody, respond, writeResponse, type HttpStream } from './http-stream';
import { hashKey } from './lb-hash-key';
import { Flag } from './response-flags';
import type { RouterFilter } from './router';
import { H1Exchange, requestHead, type H1ResponseSink } from './upstream-h1-client';
import { FifoTimeouts } from './timers-fifo';
import { sendMirrors } from './upstream-mirror';
import { CONNECT_ERRORS, resetKind } from './upstream-reset';
import { backoffMs, IDEMPOTENT, retriableStatus } from './upstream-retry';

/** the (shared, never written) body of a request without one */
const NO_BODY = Buffer.alloc(0);
/** Bodies up to this size are buffered when a retry or mirror may need to resend them (Envoy: 1 MiB). */
const MAX_BUFFERED_BODY = 1024 * 1024;
/** What beginResponse decided about the upstream response body. */
const enum Next {
  /** a retry was scheduled: discard this response */
  Discard,
  /** nobody will read the body (downstream gone, or headers refused): drop the upstream */
  Drop,
  /** the response is complete already (gRPC trailers-only) */
  Done,
  /** headers sent downstream: stream the body */
  Stream,
}

function onRouteTimeout(u: UpstreamRequest): void {
  u.onGlobalTimeout();
}

/** Route timeouts by duration: requests of one route all wait the same time (timers-fifo.ts). */
const routeTimeouts = new Map<number, FifoTimeouts<UpstreamRequest>>();

function routeTimeoutQueue(ms: number): FifoTimeouts<UpstreamRequest> {
  let q = routeTimeouts.get(ms);
  if (q === undefined) {
    q = new FifoTimeouts<UpstreamRequest>(ms, onRouteTimeout);
    routeTimeouts.set(ms, q);
  }
  return q;
}

export class UpstreamRequest implements H1ResponseSink {
  private host: UpstreamHost | undefined = undefined;
  private readonly retry: RetryPolicy | undefined;
  private retriesLeft: number;
  /**
   * The route timeout: an entry in the route's FIFO of deadlines (released at once when the request ends; a
   * coarse timer would keep the finished request reachable until its next tick and get it promoted to the
   * old generation), or a native timer when that queue is full.
   */
  private globalQueue: FifoTimeouts<UpstreamRequest> | undefined = undefined;
  private globalHandle = -1;
  private globalTimer: NodeJS.Timeout | undefined = undefined;
  private tryTimer: NodeJS.Timeout | undefined = undefined;
  private backoffTimer: NodeJS.Timeout | undefined = undefined;
  /** the attempt in flight (lean h1 exchange or h2 stream) */
  private current: http2.ClientHttp2Stream | H1Exchange | undefined = undefined;
  /** resumes the lean upstream once the downstream drained (created on first backpressure) */
  private onDrain: (() => void) | undefined = undefined;
  private upstreamStart = 0;
  private responded = false;
  private finished = false;
  private holdsRequest = false;
  private path: string;
  private headers: Record<string, string | string[]> = {};

  constructor(
    private readonly router: RouterFilter,
    private readonly s: HttpStream,
    private readonly route: Route,
    private readonly a: RouteAction,
    private readonly wc: WeightedCluster,
    private readonly cluster: UpstreamCluster,
  ) {
    this.retry = a.retry ?? s.vhost?.retry;
    this.retriesLeft = this.retry ? this.retry.numRetries : 0;
    this.path = s.query.path;
  }

  start(): void {
    const s = this.s;
    this.buildHeaders();
    s.cancel = () => this.abort();
    if (this.a.timeoutMs > 0) this.armRouteTimeout(this.a.timeoutMs);
    const needsBuffer = this.retriesLeft > 0 || this.a.mirrors.length > 0;
    if (!requestHasBody(s.req)) {
      s.body = NO_BODY;
      sendMirrors(this.router, s, this.a.mirrors, this.headers, this.path);
      this.attempt();
      return;
    }
    const cl = Number(s.req.headers['content-length'] ?? NaN);
    const body = requestBody(s.req);
    if (needsBuffer && cl <= MAX_BUFFERED_BODY) {
      const chunks: Buffer[] = [];
      body.on('data', (c: Buffer) => {
        chunks.push(c);
        s.requestBytes += c.length;
      });
      body.once('end', () => {
        s.body = Buffer.concat(chunks);
        if (!this.finished) {
          sendMirrors(this.router, s, this.a.mirrors, this.headers, this.path);
          this.attempt();
        }
      });
      return;
    }
    // Streamed body: it cannot be replayed, so no retries.
    this.retriesLeft = 0;
    body.on('data', (c: Buffer) => {
      s.requestBytes += c.length;
    });
    this.attempt();
  }

  private armRouteTimeout(ms: number): void {
    const q = routeTimeoutQueue(ms);
    const handle = q.add(this);
    if (handle >= 0) {
      this.globalQueue = q;
      this.globalHandle = handle;
    } else this.globalTimer = setTimeout(onRouteTimeout, ms, this);
  }

  private buildHeaders(): void {
    const s = this.s;
    const q = s.query;
    const h = copyEndToEnd(s.req.headers, true);
    const a = this.a;
    let path = q.path;
    if (a.prefixRewrite !== undefined && (this.route.pathKind === 0 || this.route.pathKind === 1 || this.route.pathKind === 3)) {
      path = a.prefixRewrite + path.slice(this.route.pathKind === 1 ? path.length : this.route.pathValue.length);
      if (path === '') path = '/';
    } else if (a.regexRewrite) path = path.replace(a.regexRewrite.re, a.regexRewrite.substitution);
    if (path !== q.path) h['x-envoy-original-path'] = q.rawQuery ? `${q.path}?${q.rawQuery}` : q.path;
    this.path = q.rawQuery ? `${path}?${q.rawQuery}` : path;
    h.host = a.hostRewrite ?? q.authority;
    const timeout = this.retry && this.retry.perTryTimeoutMs > 0 ? this.retry.perTryTimeoutMs : a.timeoutMs;
    if (timeout > 0) h['x-envoy-expected-rq-timeout-ms'] = String(timeout);
    applyMutations(h, this.wc.headers, s);
    applyMutations(h, this.route.request, s);
    if (s.vhost) applyMutations(h, s.vhost.request, s);
    const t = this.router.host.table(s);
    if (t) applyMutations(h, t.request, s);
    this.router.host.upstreamRequestHeaders(s, h);
    this.headers = h;
    s.upstreamHeaders = h;
  }

  private attempt(): void {
    const s = this.s;
    const cluster = this.cluster;
    if (this.finished) return;
    const host = cluster.lb.pick(cluster.available, cluster.config.lbPolicy === 'RING_HASH' || cluster.config.lbPolicy === 'MAGLEV' ? hashKey(s, this.a) : undefined) as UpstreamHost | undefined;
    if (!host) {
      s.flags |= Flag.UH;
      this.fail(503, 'no healthy upstream');
      return;
    }
    if (!this.holdsRequest) {
      if (!cluster.breaker.tryRequest(host.pending())) {
        s.flags |= Flag.UO;
        cluster.counters.upstream_rq_pending_overflow++;
        this.fail(503, 'upstream connect error or disconnect/reset before headers. reset reason: overflow');
        return;
      }
      this.holdsRequest = true;
    }
    this.host = host;
    host.activeRequests++;
    s.attempts++;
    s.upstreamHost = host.address;
    cluster.counters.upstream_rq_total++;
    this.upstreamStart = performance.now();
    if (this.retry && this.retry.perTryTimeoutMs > 0) this.tryTimer = setTimeout(() => this.onTryTimeout(), this.retry.perTryTimeoutMs);
    if (cluster.config.http2) this.sendHttp2(host);
    else this.sendHttp1(host);
  }

  /** HTTP/1.1 through the lean client: the head as one string, the response to the sink methods. */
  private sendHttp1(host: UpstreamHost): void {
    const s = this.s;
    const pool = host.http1().lean(host.host, host.port);
    const body = s.body;
    // A buffered body (or none) keeps the downstream's content-length; a streamed one without it is chunked.
    const chunked = body === undefined && this.headers['content-length'] === undefined;
    let head: string;
    try {
      head = requestHead(s.query.method, this.path, this.headers, chunked ? 'transfer-encoding: chunked\r\n' : '');
    } catch (err) {
      host.activeRequests--;
      if (this.tryTimer) clearTimeout(this.tryTimer);
      this.fail(503, `upstream request refused: ${(err as Error).message}`);
      return;
    }
    const method = s.query.method;
    const ex = new H1Exchange(pool, head, method === 'HEAD', body, body === undefined ? requestBody(s.req) : undefined, chunked, this, body !== undefined && IDEMPOTENT.has(method));
    this.current = ex;
    pool.request(ex);
  }

  onUpstreamHead(status: number, headers: ResponseHeaders): void {
    const ex = this.current as H1Exchange;
    const next = this.beginResponse(this.host as UpstreamHost, status, headers, false);
    if (next !== Next.Stream) ex.destroy();
  }

  onUpstreamData(chunk: Buffer, transient: boolean): boolean {
    const s = this.s;
    s.responseBytes += chunk.length;
    if (this.onDrain === undefined) this.onDrain = () => (this.current as H1Exchange | undefined)?.resume();
    return writeResponse(s.res, chunk, this.onDrain, transient);
  }

  onUpstreamEnd(trailers: ResponseHeaders | undefined): void {
    const s = this.s;
    if (trailers !== undefined && !s.http2) s.res.addTrailers(trailers);
    s.res.end();
    this.complete();
  }

  onUpstreamError(err: NodeJS.ErrnoException): void {
    if (!this.responded) {
      this.onError(this.host as UpstreamHost, err);
      return;
    }
    // Reset after the response started: nothing to retry, reset the downstream too.
    this.current = undefined;
    this.s.flags |= resetKind(err).flag;
    if (!this.s.res.writableEnded) this.s.res.destroy();
    this.complete();
  }

  private sendHttp2(host: UpstreamHost): void {
    const s = this.s;
    const session = host.http2().get();
    const headers: http2.OutgoingHttpHeaders = { ...this.headers, ':method': s.query.method, ':path': this.path, ':authority': String(this.headers.host), ':scheme': 'http' };
    delete headers.host;
    let stream: http2.ClientHttp2Stream;
    try {
      stream = session.request(headers, { endStream: s.body !== undefined && s.body.length === 0 });
    } catch (err) {
      this.onError(host, err as NodeJS.ErrnoException);
      return;
    }
    this.current = stream;
    stream.on('response', (rh, flags: number) => {
      if (this.current !== stream) return;
      const status = Number(rh[':status'] ?? 502);
      this.onResponse(host, status, rh, stream, (flags & http2.constants.NGHTTP2_FLAG_END_STREAM) !== 0);
    });
    stream.on('trailers', (trailers) => {
      if (this.current === stream && this.responded && !this.s.res.writableEnded) this.s.res.addTrailers(copyEndToEnd(trailers, false));
    });
    stream.on('error', (err: NodeJS.ErrnoException) => {
      if (this.current === stream) this.onError(host, Object.assign(err, { rstCode: stream.rstCode }));
    });
    stream.on('close', () => {
      if (this.current === stream && !this.responded && stream.rstCode !== undefined && stream.rstCode !== 0) {
        this.onError(host, Object.assign(new Error(`stream reset ${stream.rstCode}`), { code: 'ERR_HTTP2_STREAM_ERROR', rstCode: stream.rstCode }));
      }
    });
    if (s.body === undefined || s.body.length > 0) this.sendBody(stream);
  }

  private sendBody(out: http2.ClientHttp2Stream): void {
    const s = this.s;
    if (s.body !== undefined) out.end(s.body);
    else requestBody(s.req).pipe(out);
  }

  private shouldRetry(status: number): boolean {
    const p = this.retry;
    if (!p || this.retriesLeft <= 0) return false;
    return retriableStatus(p, status);
  }

  private endAttempt(host: UpstreamHost): void {
    host.activeRequests--;
    if (this.tryTimer) {
      clearTimeout(this.tryTimer);
      this.tryTimer = undefined;
    }
  }

  /** Schedules the next attempt after the backoff; false when no retry may be taken. */
  private scheduleRetry(): boolean {
    const cluster = this.cluster;
    const p = this.retry;
    if (!p || this.retriesLeft <= 0 || !cluster.breaker.tryRetry()) return false;
    const n = p.numRetries - this.retriesLeft;
    this.retriesLeft--;
    cluster.counters.upstream_rq_retry++;
    const delay = backoffMs(p, n);
    this.current = undefined;
    this.backoffTimer = setTimeout(() => {
      this.backoffTimer = undefined;
      cluster.breaker.releaseRetry();
      this.attempt();
    }, delay);
    return true;
  }

  private onResponse(host: UpstreamHost, status: number, headers: http2.IncomingHttpHeaders, body: http2.ClientHttp2Stream, headersOnly = false): void {
    const s = this.s;
    const next = this.beginResponse(host, status, headers, headersOnly);
    if (next === Next.Discard) {
      body.resume();
      return;
    }
    if (next === Next.Drop) {
      body.destroy();
      return;
    }
    if (next === Next.Done) return;
    if (s.query.method === 'HEAD' || status === 204 || status === 304) {
      body.resume();
      body.once('end', () => this.complete());
      s.res.end();
      return;
    }
    const resume = (): void => {
      body.resume();
    };
    body.on('data', (c: Buffer) => {
      s.responseBytes += c.length;
      if (!writeResponse(s.res, c, resume, false)) body.pause();
    });
    body.once('end', () => {
      s.res.end();
      this.complete();
    });
    body.once('error', () => {
      if (!s.res.writableEnded) s.res.destroy();
      this.complete();
    });
  }

  /** Accounting, retry decision and the response headers sent downstream, for every upstream protocol. */
  private beginResponse(host: UpstreamHost, status: number, headers: http2.IncomingHttpHeaders | ResponseHeaders, headersOnly: boolean): Next {
    const s = this.s;
    const cluster = this.cluster;
    this.endAttempt(host);
    cluster.recordResult(host, status);
    if (this.shouldRetry(status) && this.scheduleRetry()) return Next.Discard;
    if (this.retry && this.retriesLeft <= 0 && s.attempts > 1 && this.shouldRetryIgnoringBudget(status)) s.flags |= Flag.URX;
    this.responded = true;
    s.upstreamMs = Math.round(performance.now() - this.upstreamStart);
    const out = copyEndToEnd(headers, false);
    this.router.host.upstreamResponseHeaders(s, out);
    out['x-envoy-upstream-service-time'] = String(s.upstreamMs);
    out.server = this.router.host.serverName;
    applyMutations(out, this.wc.responseHeaders, s, true);
    applyMutations(out, this.route.response, s, true);
    if (s.vhost) applyMutations(out, s.vhost.response, s, true);
    const t = this.router.host.table(s);
    if (t) applyMutations(out, t.response, s, true);
    corsResponseHeaders(s, out);
    s.status = status;
    const bucket = status >= 500 ? 'upstream_rq_5xx' : status >= 400 ? 'upstream_rq_4xx' : 'upstream_rq_2xx';
    cluster.counters[bucket]++;
    if (s.downstreamGone) return Next.Drop;
    if (s.http2 && headersOnly) {
      // Trailers-only (gRPC errors): keep it one HEADERS frame with END_STREAM, as the client expects.
      const ds = (s.res as http2.Http2ServerResponse).stream;
      try {
        ds.respond({ ...out, ':status': status }, { endStream: true });
      } catch {
        ds.close(http2.constants.NGHTTP2_INTERNAL_ERROR);
      }
      this.complete();
      return Next.Done;
    }
    try {
      respond(s.res, status, out);
    } catch {
      // A header the downstream protocol cannot carry: answer 502 instead of crashing.
      respond(s.res, 502, { 'content-type': 'text/plain' });
      s.res.end('upstream sent invalid headers');
      this.complete();
      return Next.Drop;
    }
    return Next.Stream;
  }

  private shouldRetryIgnoringBudget(status: number): boolean {
    const left = this.retriesLeft;
    this.retriesLeft = 1;
    const r = this.shouldRetry(status);
    this.retriesLeft = left;
    return r;
  }

  private onError(host: UpstreamHost, err: NodeJS.ErrnoException): void {
    const s = this.s;
    const cluster = this.cluster;
    this.current = undefined;
    this.endAttempt(host);
    const kind = resetKind(err);
    if (this.responded) {
      // Reset after the response started: nothing to retry, reset the downstream too.
      s.flags |= kind.flag;
      if (!s.res.writableEnded) s.res.destroy();
      this.complete();
      return;
    }
    const connect = err.code !== undefined && CONNECT_ERRORS.has(err.code);
    if (connect) cluster.counters.upstream_cx_connect_fail++;
    cluster.recordResult(host, 0);
    const p = this.retry;
    if (p && ((connect && p.connectFailure) || (!connect && p.reset)) && this.scheduleRetry()) return;
    if (p && s.attempts > 1) s.flags |= Flag.URX;
    s.flags |= connect ? Flag.UF : kind.flag;
    const reason = connect ? 'connection failure' : kind.reason;
    this.fail(kind.status, `upstream connect error or disconnect/reset before headers. reset reason: ${reason}`);
  }

  private onTryTimeout(): void {
    this.tryTimer = undefined;
    const host = this.host;
    if (!host) return;
    const cur = this.current;
    this.current = undefined;
    cur?.destroy();
    this.endAttempt(host);
    this.cluster.counters.upstream_rq_timeout++;
    this.cluster.recordResult(host, 504);
    if (this.shouldRetry(504) && this.scheduleRetry()) return;
    this.s.flags |= Flag.UT;
    if (this.s.attempts > 1) this.s.flags |= Flag.URX;
    this.fail(504, 'upstream request timeout');
  }

  onGlobalTimeout(): void {
    this.globalTimer = undefined;
    this.globalQueue = undefined;
    const s = this.s;
    s.flags |= Flag.UT;
    this.cluster.counters.upstream_rq_timeout++;
    if (this.responded) {
      this.abort();
      if (!s.res.writableEnded) s.res.destroy();
      this.complete();
      return;
    }
    this.abort();
    this.fail(504, 'upstream request timeout');
  }

  /** Stops everything in flight (downstream gone or timeout). */
  private abort(): void {
    if (this.backoffTimer) {
      clearTimeout(this.backoffTimer);
      this.backoffTimer = undefined;
      this.cluster.breaker.releaseRetry();
    }
    const cur = this.current;
    this.current = undefined;
    if (cur) {
      cur.destroy();
      if (this.host && !this.responded) this.endAttempt(this.host);
    }
    this.complete();
  }

  private fail(status: number, body: string): void {
    this.complete();
    this.router.host.sendLocal(this.s, status, body);
  }

  private complete(): void {
    if (this.finished) return;
    this.finished = true;
    if (this.globalQueue !== undefined) {
      this.globalQueue.cancel(this.globalHandle);
      this.globalQueue = undefined;
    } else if (this.globalTimer !== undefined) {
      clearTimeout(this.globalTimer);
      this.globalTimer = undefined;
    }
    if (this.tryTimer) clearTimeout(this.tryTimer);
    if (this.holdsRequest) this.cluster.breaker.releaseRequest();
    this.holdsRequest = false;
    this.s.cancel = undefined;
  }
}
