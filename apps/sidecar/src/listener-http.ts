/**
 * An HTTP listener: one socket, HTTP/1.1 and HTTP/2 (h2c by prior-knowledge sniffing, or TLS with ALPN),
 * handing every request to the current HTTP connection manager. HTTP/1.1 runs on the sidecar's own codec
 * (downstream-h1-connection.ts), HTTP/2 on node:http2. The edge is hardened there: malformed requests get
 * 400 and a closed connection, oversized headers 431, smuggling shapes are refused, idle, header, request
 * and stream idle timeouts apply. A config change swaps the connection manager; in-flight requests keep
 * theirs.
 */
import * as http2 from 'node:http2';
import * as net from 'node:net';
import * as tls from 'node:tls';
import type { Duplex } from 'node:stream';
import type { Logger } from '@mesh/runtime';
import type { ListenerConfig } from './config-listener';
import { H1ServerConnection, type H1ServerHooks, type H1ServerLimits } from './downstream-h1-connection';
import type { H1Request } from './downstream-h1-exchange';
import { HttpConnectionManager, type HcmDeps } from './hcm';
import type { DownstreamRequest, DownstreamResponse } from './http-stream';
import { PrefacedSocket } from './socket-preface';
import { tunnelUpgrade } from './upgrade-tunnel';
import type { MeshStats } from './stats';
import { listenOn } from './listen';

const H2_PREFACE = Buffer.from('PRI * HTTP/2.0\r\n');
/** Node's header timeout default, kept when request_headers_timeout is unset (a slowloris guard). */
const DEFAULT_HEADERS_TIMEOUT_MS = 60_000;

export class HttpListener implements H1ServerHooks {
  readonly server: net.Server;
  private hcm: HttpConnectionManager;
  private readonly h2: http2.Http2Server | undefined;
  private readonly sockets = new Set<net.Socket>();
  private readonly h1conns = new Set<H1ServerConnection>();
  private draining = false;
  /** the current connection manager and older ones that still have requests in flight */
  private readonly managers = new Set<HttpConnectionManager>();
  private readonly onRequestFn: (req: DownstreamRequest, res: DownstreamResponse) => void;

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
    this.onRequestFn = (req, res) => this.onRequest(req, res);
    const maxHeader = hcmCfg.maxRequestHeadersKb * 1024;
    const h2settings: http2.Settings = { maxHeaderListSize: maxHeader, enablePush: false };
    this.h2 = hcmCfg.codec === 'HTTP1' ? undefined : http2.createServer({ settings: h2settings, maxSessionMemory: 64 }, this.onRequestFn);
    this.h2?.on('sessionError', () => undefined);
    if (cfg.tls && ownsSocket) {
      const alpn = cfg.tls.alpn.length > 0 ? cfg.tls.alpn : hcmCfg.codec === 'HTTP1' ? ['http/1.1'] : ['h2', 'http/1.1'];
      const secure = tls.createServer({
        cert: cfg.tls.cert,
        key: cfg.tls.key,
        ca: cfg.tls.ca,
        requestCert: cfg.tls.requireClientCert,
        rejectUnauthorized: cfg.tls.requireClientCert,
        ALPNProtocols: alpn,
      });
      secure.on('secureConnection', (socket: tls.TLSSocket) => this.accept(socket));
      secure.on('tlsClientError', (_err: Error, socket: tls.TLSSocket) => socket.destroy());
      this.server = secure;
    } else {
      const codec = hcmCfg.codec;
      this.server = net.createServer({ noDelay: true }, (socket) => {
        this.track(socket);
        this.onConnection(socket, codec);
      });
    }
  }

  private track(socket: net.Socket): void {
    this.stats.server.downstream_cx_total++;
    this.sockets.add(socket);
    socket.once('close', () => this.sockets.delete(socket));
    socket.on('error', () => undefined);
  }

  /** H1ServerHooks, and the node:http2 request handler */
  onRequest(req: DownstreamRequest, res: DownstreamResponse): void {
    if (this.draining && req.httpVersionMajor === 1) res.setHeader('connection', 'close');
    try {
      this.hcm.handle(req, res);
    } catch (err) {
      // Nothing a request carries may take the process down: answer 500 and log where it happened.
      this.log.error('request handling failed', { code: 'MESH_ERR_SIDECAR_INTERNAL', listener: this.cfg.name, path: req.url, error: (err as Error).message });
      if (!res.headersSent) {
        res.writeHead(500, { 'content-type': 'text/plain' });
        res.end('internal error');
      } else res.destroy();
    }
  }

  onUpgrade(req: H1Request, socket: Duplex, head: Buffer): void {
    const hcm = this.hcm;
    tunnelUpgrade(req, socket, head, hcm.config, hcm.table(), this.deps.clusters);
  }

  onProtocolError(status: number, reason: string): void {
    if (status === 431) this.stats.server.http_431_rejected++;
    else this.stats.server.http_400_rejected++;
    this.log.debug('malformed request', { listener: this.cfg.name, status, reason });
  }

  onConnectionClose(conn: H1ServerConnection): void {
    this.h1conns.delete(conn);
  }

  private limits(): H1ServerLimits {
    const c = this.hcm.config;
    return {
      maxHeaderBytes: c.maxRequestHeadersKb * 1024,
      headersTimeoutMs: c.requestHeadersTimeoutMs > 0 ? c.requestHeadersTimeoutMs : DEFAULT_HEADERS_TIMEOUT_MS,
      requestTimeoutMs: c.requestTimeoutMs,
      idleTimeoutMs: c.idleTimeoutMs,
      streamIdleTimeoutMs: c.streamIdleTimeoutMs,
    };
  }

  private serveH1(socket: Duplex, first?: Buffer): void {
    (socket as Partial<net.Socket>).setNoDelay?.(true);
    const conn = new H1ServerConnection(socket, this, this.limits(), first);
    this.h1conns.add(conn);
    if (this.draining) conn.closeWhenIdle();
  }

  /**
   * A connection from a chain listener: plaintext (possibly with its first bytes already read) or a TLS
   * socket whose handshake is done (ALPN h2 goes to HTTP/2, anything else to HTTP/1.1).
   */
  accept(socket: net.Socket): void {
    this.track(socket);
    // ALPN decides when it names h2 or http/1.1; otherwise (none agreed, Istio's "istio" names) the codec
    // sniffs the HTTP/2 preface, as Envoy's AUTO codec does.
    const alpn = (socket as Partial<tls.TLSSocket>).alpnProtocol;
    if (alpn === 'h2' && this.h2) this.h2.emit('connection', socket);
    else if (alpn === 'http/1.1') this.serveH1(socket);
    else this.onConnection(socket, this.cfg.hcm?.codec ?? 'AUTO');
  }

  private onConnection(socket: net.Socket, codec: 'AUTO' | 'HTTP1' | 'HTTP2'): void {
    if (codec === 'HTTP1' || !this.h2) {
      this.serveH1(socket);
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
      this.serveH1(socket, chunk);
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
    for (const c of this.h1conns) c.closeWhenIdle();
    const deadline = Date.now() + ms;
    while (this.activeRequests() > 0 && Date.now() < deadline) {
      for (const m of this.managers) if (m.active === 0 && m !== this.hcm) this.managers.delete(m);
      await new Promise((r) => setTimeout(r, 20));
    }
    for (const s of this.sockets) s.destroy();
  }
}
