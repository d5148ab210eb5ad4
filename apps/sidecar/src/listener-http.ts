/**
 * An HTTP listener: one socket, HTTP/1.1 and HTTP/2 (h2c by prior-knowledge sniffing, or TLS with ALPN),
 * handing every request to the current HTTP connection manager. The edge is hardened here: malformed
 * requests get 400 and a closed connection, oversized headers 431, smuggling shapes are refused, idle and
 * header timeouts apply. A config change swaps the connection manager; in-flight requests keep theirs.
 */
import * as http from 'node:http';
import * as http2 from 'node:http2';
import * as net from 'node:net';
import type * as tls from 'node:tls';
import type { Logger } from '@mesh/runtime';
import type { ListenerConfig } from './config-listener';
import { HttpConnectionManager, type HcmDeps } from './hcm';
import type { DownstreamRequest, DownstreamResponse } from './http-stream';
import { PrefacedSocket } from './socket-preface';
import { tunnelUpgrade } from './upgrade-tunnel';
import type { MeshStats } from './stats';
import { listenOn } from './listen';

const H2_PREFACE = Buffer.from('PRI * HTTP/2.0\r\n');

const REASONS = { 400: 'Bad Request', 408: 'Request Timeout', 431: 'Request Header Fields Too Large' } as const;

function badRequest(socket: net.Socket | import('node:stream').Duplex, status: keyof typeof REASONS): void {
  if (!socket.writable) {
    socket.destroy();
    return;
  }
  const reason = REASONS[status];
  socket.end(`HTTP/1.1 ${status} ${reason}\r\ncontent-length: 0\r\nconnection: close\r\n\r\n`);
  setTimeout(() => socket.destroy(), 1000).unref();
}

/** Shapes Node's parser lets through but Envoy refuses (checked once per request, on raw headers). */
export function smugglingProblem(req: http.IncomingMessage): string | undefined {
  const raw = req.rawHeaders;
  let cl = 0;
  let te = false;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i];
    if (name.length === 14 && name.toLowerCase() === 'content-length') cl++;
    else if (name.length === 17 && name.toLowerCase() === 'transfer-encoding') te = true;
  }
  if (cl > 1) return 'duplicate content-length';
  if (cl > 0 && te) return 'content-length with transfer-encoding';
  return undefined;
}

export class HttpListener {
  readonly server: net.Server;
  private hcm: HttpConnectionManager;
  private readonly h1: http.Server;
  private readonly h2: http2.Http2Server | undefined;
  private readonly sockets = new Set<net.Socket>();
  private draining = false;
  /** the current connection manager and older ones that still have requests in flight */
  private readonly managers = new Set<HttpConnectionManager>();

  constructor(
    private cfg: ListenerConfig,
    private readonly deps: HcmDeps,
    private readonly stats: MeshStats,
    private readonly log: Logger,
    /** false: a chain listener owns the socket (and terminates TLS) and hands connections to accept() */
    ownsSocket = true,
  ) {
    const hcmCfg = cfg.hcm;
    if (!hcmCfg) throw new Error(`listener ${cfg.name} has no http_connection_manager`);
    this.hcm = new HttpConnectionManager(hcmCfg, deps, cfg.tls !== undefined);
    this.managers.add(this.hcm);
    const onRequest = (req: DownstreamRequest, res: DownstreamResponse): void => {
      if (req.httpVersionMajor === 1) {
        const problem = smugglingProblem(req as http.IncomingMessage);
        if (problem) {
          this.stats.server.http_400_rejected++;
          this.log.debug('request refused', { listener: cfg.name, reason: problem });
          badRequest(req.socket, 400);
          return;
        }
        if (this.draining) res.setHeader('connection', 'close');
      }
      try {
        this.hcm.handle(req, res);
      } catch (err) {
        // Nothing a request carries may take the process down: answer 500 and log where it happened.
        this.log.error('request handling failed', { code: 'MESH_ERR_SIDECAR_INTERNAL', listener: cfg.name, path: req.url, error: (err as Error).message });
        if (!res.headersSent) {
          res.writeHead(500, { 'content-type': 'text/plain' });
          res.end('internal error');
        } else res.destroy();
      }
    };
    const maxHeader = hcmCfg.maxRequestHeadersKb * 1024;
    const h1opts: http.ServerOptions = {
      maxHeaderSize: maxHeader,
      requestTimeout: hcmCfg.requestTimeoutMs,
      headersTimeout: hcmCfg.requestHeadersTimeoutMs > 0 ? hcmCfg.requestHeadersTimeoutMs : 60_000,
      keepAliveTimeout: hcmCfg.idleTimeoutMs,
      // How often Node checks header/request timeouts (default 30 s): coarse, but not coarser than the timeouts.
      connectionsCheckingInterval: Math.max(250, Math.min(30_000, Math.floor(Math.min(hcmCfg.requestHeadersTimeoutMs || 60_000, hcmCfg.requestTimeoutMs || 60_000) / 4))),
      requireHostHeader: true,
      insecureHTTPParser: false,
      noDelay: true,
    };
    const h2settings: http2.Settings = { maxHeaderListSize: maxHeader, enablePush: false };
    const onClientError = (err: NodeJS.ErrnoException, socket: import('node:stream').Duplex): void => {
      const overflow = err.code === 'HPE_HEADER_OVERFLOW';
      if (overflow) this.stats.server.http_431_rejected++;
      else this.stats.server.http_400_rejected++;
      this.log.debug('malformed request', { listener: cfg.name, code: err.code, error: err.message });
      if (err.code === 'ECONNRESET') {
        socket.destroy();
        return;
      }
      badRequest(socket, overflow ? 431 : err.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? 408 : 400);
    };
    if (cfg.tls && ownsSocket) {
      const alpn = cfg.tls.alpn.length > 0 ? cfg.tls.alpn : hcmCfg.codec === 'HTTP1' ? ['http/1.1'] : ['h2', 'http/1.1'];
      const secure = http2.createSecureServer(
        {
          cert: cfg.tls.cert,
          key: cfg.tls.key,
          ca: cfg.tls.ca,
          requestCert: cfg.tls.requireClientCert,
          rejectUnauthorized: cfg.tls.requireClientCert,
          allowHTTP1: true,
          ALPNProtocols: alpn,
          settings: h2settings,
          maxSessionMemory: 64,
        },
        onRequest,
      );
      secure.on('sessionError', () => undefined);
      this.server = secure;
      this.h1 = http.createServer(h1opts);
      this.h2 = undefined;
    } else {
      this.h1 = http.createServer(h1opts, onRequest);
      this.h1.on('clientError', onClientError);
      this.h1.on('upgrade', (req: http.IncomingMessage, socket: import('node:stream').Duplex, head: Buffer) => {
        const hcm = this.hcm;
        tunnelUpgrade(req, socket, head, hcm.config, hcm.table(), deps.clusters);
      });
      // This server never listens itself (connections are handed to it), so start Node's timeout
      // bookkeeping (headers/request timeouts) the way listen() would.
      this.h1.emit('listening');
      this.h2 = hcmCfg.codec === 'HTTP1' ? undefined : http2.createServer({ settings: h2settings }, onRequest);
      this.h2?.on('sessionError', () => undefined);
      const codec = hcmCfg.codec;
      this.server = net.createServer({ noDelay: true }, (socket) => this.onConnection(socket, codec));
    }
    this.server.on('connection', (socket: net.Socket) => {
      this.stats.server.downstream_cx_total++;
      this.sockets.add(socket);
      socket.once('close', () => this.sockets.delete(socket));
      socket.on('error', () => undefined);
    });
  }

  /**
   * A connection from a chain listener: plaintext (possibly with its first bytes already read) or a TLS
   * socket whose handshake is done (ALPN h2 goes to HTTP/2, anything else to HTTP/1.1).
   */
  accept(socket: net.Socket): void {
    this.stats.server.downstream_cx_total++;
    this.sockets.add(socket);
    socket.once('close', () => this.sockets.delete(socket));
    socket.on('error', () => undefined);
    // ALPN decides when it names h2 or http/1.1; otherwise (none agreed, Istio's "istio" names) the codec
    // sniffs the HTTP/2 preface, as Envoy's AUTO codec does.
    const alpn = (socket as Partial<tls.TLSSocket>).alpnProtocol;
    if (alpn === 'h2' && this.h2) this.h2.emit('connection', socket);
    else if (alpn === 'http/1.1') this.h1.emit('connection', socket);
    else this.onConnection(socket, this.cfg.hcm?.codec ?? 'AUTO');
  }

  private onConnection(socket: net.Socket, codec: 'AUTO' | 'HTTP1' | 'HTTP2'): void {
    if (codec === 'HTTP1' || !this.h2) {
      this.h1.emit('connection', socket);
      return;
    }
    if (codec === 'HTTP2') {
      this.h2.emit('connection', socket);
      return;
    }
    // AUTO: the HTTP/2 connection preface picks h2c; anything else is HTTP/1.x.
    socket.once('data', (chunk: Buffer) => {
      const n = Math.min(chunk.length, H2_PREFACE.length);
      const h2 = n >= 3 && chunk.subarray(0, n).equals(H2_PREFACE.subarray(0, n));
      if (h2 && this.h2) {
        this.h2.emit('connection', new PrefacedSocket(socket, chunk));
        return;
      }
      socket.pause();
      socket.unshift(chunk);
      this.h1.emit('connection', socket);
      socket.resume();
    });
  }

  get config(): ListenerConfig {
    return this.cfg;
  }

  activeRequests(): number {
    let n = 0;
    for (const m of this.managers) n += m.active;
    return n;
  }

  /** Same socket, new HCM settings or routes: new requests use the new manager. */
  update(cfg: ListenerConfig): void {
    if (!cfg.hcm) return;
    this.cfg = cfg;
    for (const m of this.managers) if (m.active === 0) this.managers.delete(m);
    this.hcm = new HttpConnectionManager(cfg.hcm, this.deps, cfg.tls !== undefined);
    this.managers.add(this.hcm);
  }

  listen(): Promise<number> {
    return listenOn(this.server, this.cfg.host, this.cfg.port);
  }

  /** Stops accepting, lets in-flight requests finish for up to `ms`, then closes what is left. */
  async drain(ms: number): Promise<void> {
    this.draining = true;
    this.server.close();
    this.h1.closeIdleConnections();
    this.h1.close(() => undefined);
    const deadline = Date.now() + ms;
    while (this.activeRequests() > 0 && Date.now() < deadline) {
      for (const m of this.managers) if (m.active === 0 && m !== this.hcm) this.managers.delete(m);
      await new Promise((r) => setTimeout(r, 20));
    }
    for (const s of this.sockets) s.destroy();
  }
}
