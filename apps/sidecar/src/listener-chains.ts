/**
 * A listener with several filter chains (Istio's inbound listener): each connection picks its chain by
 * filter_chain_match in Envoy's order (filter-chain-match.ts), after the listener filters looked at the
 * first bytes without consuming them (listener-inspector.ts: transport protocol, SNI and ALPN from the
 * ClientHello; h2c / http/1.x from plaintext), else the default_filter_chain; then: TLS terminated with the
 * chain's DownstreamTlsContext (SDS 'default'/'ROOTCA' from the node agent, rotated in place), the peer's
 * SPIFFE id recorded, the network RBAC filter applied, and the connection handed to the chain's HTTP
 * connection manager or TCP proxy. No matching chain: the connection is closed (STRICT refuses plaintext).
 */
import * as net from 'node:net';
import * as tls from 'node:tls';
import type { Logger } from '@mesh/runtime';
import type { ClusterManager } from './cluster-manager';
import type { FilterChainConfig, ListenerConfig, TlsServerConfig } from './config-listener';
import { admitConnection } from './filter-local-ratelimit';
import { connectionFacts, selectChain, type FilterChainMatch } from './filter-chain-match';
import type { HcmDeps } from './hcm';
import { HttpListener } from './listener-http';
import { TcpListener } from './listener-tcp';
import { evaluateRbac } from './rbac-policy';
import { PrefacedSocket } from './socket-preface';
import type { MeshStats } from './stats';
import { recordPeerPrincipal } from './tls-peer';
import type { LocalSecrets } from './tls-secrets';
import { listenOn } from './listen';
import { inspect, type Inspection } from './listener-inspector';

/** Envoy's listener_filters_timeout default: a client that sends nothing is closed after 15 s. */
const INSPECT_TIMEOUT_MS = 15_000;
/** No listener filters: every connection is raw_buffer without SNI or ALPN. */
const NOTHING_SEEN: Inspection = { transport: 'raw_buffer', sni: '', alpn: [] };
const matchOfHandler = (h: ChainHandler): FilterChainMatch => h.chain.match;

export interface ChainDeps {
  hcm: HcmDeps;
  clusters: ClusterManager;
  secrets: LocalSecrets;
  stats: MeshStats;
  log: Logger;
}

/** Node secure-context options for a chain's TLS, or a reason it cannot serve. */
function serverTlsOptions(t: TlsServerConfig, secrets: LocalSecrets): tls.SecureContextOptions | string {
  if (t.sdsCert === undefined && t.sdsCa === undefined) return { cert: t.cert, key: t.key, ca: t.ca };
  const r = secrets.resolve(t.sdsCert, t.sdsCa);
  if (!r) return secrets.available ? `SDS secrets ${t.sdsCert ?? ''}/${t.sdsCa ?? ''} are not served by the node agent` : 'SDS secrets need the node agent (--ca-address)';
  return { cert: r.cert ?? t.cert, key: r.key ?? t.key, ca: r.ca ?? t.ca };
}

/** A TLS socket over a Duplex has no addresses of its own: take them from the TCP socket. */
function inheritAddresses(tlsSocket: tls.TLSSocket, raw: net.Socket): void {
  if (tlsSocket.remoteAddress !== undefined) return;
  for (const key of ['remoteAddress', 'remotePort', 'remoteFamily', 'localAddress', 'localPort'] as const) {
    Object.defineProperty(tlsSocket, key, { value: raw[key], configurable: true });
  }
}

class ChainHandler {
  readonly http: HttpListener | undefined;
  readonly tcp: TcpListener | undefined;
  private readonly tlsServer: tls.Server | undefined;
  /** set when TLS cannot be served (SDS unavailable): connections are refused */
  private readonly refusal: string | undefined;
  private readonly unsubscribe: () => void;

  constructor(
    public chain: FilterChainConfig,
    private listener: ListenerConfig,
    private readonly d: ChainDeps,
  ) {
    const cfg: ListenerConfig = { ...listener, hcm: chain.hcm, tcp: chain.tcp, tls: chain.tls, chains: [chain] };
    this.http = chain.hcm ? new HttpListener(cfg, d.hcm, d.stats, d.log, false) : undefined;
    this.tcp = chain.tcp ? new TcpListener(cfg, d.clusters, d.stats, d.log, d.hcm.accessLog) : undefined;
    this.unsubscribe = () => undefined;
    const t = chain.tls;
    if (!t) return;
    const options = serverTlsOptions(t, d.secrets);
    if (typeof options === 'string') {
      this.refusal = options;
      d.log.warn('filter chain cannot serve TLS; its connections are refused', { code: 'MESH_ERR_SIDECAR_TLS_UNAVAILABLE', listener: listener.name, chain: chain.name, reason: options });
      return;
    }
    const wanted = t.alpn.length > 0 ? t.alpn : chain.hcm ? (chain.hcm.codec === 'HTTP1' ? ['http/1.1'] : ['h2', 'http/1.1']) : [];
    const server = tls.createServer({
      ...options,
      requestCert: true,
      rejectUnauthorized: t.requireClientCert,
      // Envoy goes on without ALPN when nothing matches; Node needs one of the client's names (ours first).
      ALPNCallback: ({ protocols }) => wanted.find((p) => protocols.includes(p)) ?? protocols[0],
    });
    server.on('secureConnection', (s: tls.TLSSocket) => this.onSecure(s));
    server.on('tlsClientError', (err: Error, s: tls.TLSSocket) => {
      d.log.debug('downstream TLS handshake failed', { listener: listener.name, chain: chain.name, error: err.message });
      s.destroy();
    });
    this.tlsServer = server;
    if (t.sdsCert !== undefined || t.sdsCa !== undefined) {
      this.unsubscribe = d.secrets.onRotate(() => {
        const next = serverTlsOptions(t, d.secrets);
        if (typeof next !== 'string') server.setSecureContext(next);
        d.log.info('filter chain certificate rotated', { listener: listener.name, chain: chain.name });
      });
    }
  }

  /**
   * Same kind and same TLS settings: the chain's filters change in place (open connections keep going,
   * new requests use the new HTTP connection manager / RBAC). False when a new handler is needed.
   */
  tryUpdate(chain: FilterChainConfig, listener: ListenerConfig): boolean {
    if (Boolean(chain.hcm) !== Boolean(this.http) || Boolean(chain.tcp) !== Boolean(this.tcp)) return false;
    if (JSON.stringify(chain.tls) !== JSON.stringify(this.chain.tls) || JSON.stringify(chain.match) !== JSON.stringify(this.chain.match) || chain.isDefault !== this.chain.isDefault) return false;
    const cfg: ListenerConfig = { ...listener, hcm: chain.hcm, tcp: chain.tcp, tls: chain.tls, chains: [chain] };
    this.http?.update(cfg);
    this.tcp?.update(cfg);
    this.chain = chain;
    this.listener = listener;
    return true;
  }

  /** true when this chain terminates TLS (Node's TLS socket then replays bytes already read itself) */
  get terminatesTls(): boolean {
    return this.tlsServer !== undefined;
  }

  accept(socket: net.Socket, raw: net.Socket): void {
    if (this.refusal) {
      socket.destroy();
      return;
    }
    const limit = this.chain.networkRateLimit;
    const verdict = limit ? admitConnection(limit) : true;
    if (verdict !== true) {
      if (verdict === false) this.rateLimited(socket, raw);
      else {
        socket.on('error', () => undefined); // a reset while waiting for the shared bucket
        void verdict.then((ok) => (!ok ? this.rateLimited(socket, raw) : socket.destroyed ? undefined : this.admitted(socket, raw)));
      }
      return;
    }
    this.admitted(socket, raw);
  }

  private rateLimited(socket: net.Socket, raw: net.Socket): void {
    this.d.log.debug('connection rate limited; closed', { listener: this.listener.name, chain: this.chain.name, remote: raw.remoteAddress, response_flags: 'RL' });
    socket.destroy();
  }

  private admitted(socket: net.Socket, raw: net.Socket): void {
    if (this.tlsServer) {
      (socket as net.Socket & { meshRaw?: net.Socket }).meshRaw = raw;
      this.tlsServer.emit('connection', socket);
      return;
    }
    this.pass(socket, '');
  }

  private onSecure(s: tls.TLSSocket): void {
    const raw = (s as unknown as { _parent?: { meshRaw?: net.Socket } })._parent?.meshRaw ?? (s as unknown as { _parent?: net.Socket })._parent;
    if (raw instanceof net.Socket) inheritAddresses(s, raw);
    this.pass(s, recordPeerPrincipal(s));
  }

  private pass(socket: net.Socket, principal: string): void {
    const rbac = this.chain.networkRbac;
    if (rbac?.rules || rbac?.shadow) {
      const input = { principal, remoteIp: socket.remoteAddress ?? '', destinationIp: socket.localAddress ?? '', destinationPort: socket.localPort ?? 0, headers: undefined, path: undefined };
      if (rbac.shadow && !evaluateRbac(rbac.shadow, input).allowed) this.d.stats.server.rbac_shadow_denied++;
      if (rbac.rules) {
        const decision = evaluateRbac(rbac.rules, input);
        if (rbac.rules.action === 'LOG') {
          if (decision.policy !== '') this.d.stats.server.rbac_logged++;
        } else if (!decision.allowed) {
          this.d.stats.server.rbac_denied++;
          this.d.log.info('connection denied by RBAC', { listener: this.listener.name, chain: this.chain.name, principal, remote: input.remoteIp, policy: decision.policy, response_flags: 'RBAC' });
          if (this.tcp) this.tcp.refuse(socket, principal, decision.policy);
          else socket.destroy();
          return;
        } else this.d.stats.server.rbac_allowed++;
      }
    }
    if (this.http) this.http.accept(socket);
    else if (this.tcp) this.tcp.accept(socket, principal);
    else socket.destroy();
  }

  activeRequests(): number {
    return (this.http?.activeRequests() ?? 0) + (this.tcp?.activeRequests() ?? 0);
  }

  async drain(ms: number): Promise<void> {
    this.unsubscribe();
    await Promise.all([this.http?.drain(ms), this.tcp?.drain(ms)]);
  }
}

export class ChainListener {
  readonly server: net.Server;
  private cfg: ListenerConfig;
  private handlers: ChainHandler[];
  /** the handlers matched by filter_chain_match, and the default_filter_chain's */
  private matchable: ChainHandler[];
  private fallback: ChainHandler | undefined;
  private readonly retired = new Set<ChainHandler>();

  constructor(
    cfg: ListenerConfig,
    private readonly d: ChainDeps,
    private readonly drainMs: number,
  ) {
    this.cfg = cfg;
    this.handlers = cfg.chains.map((c) => new ChainHandler(c, cfg, d));
    this.matchable = this.handlers.filter((h) => !h.chain.isDefault);
    this.fallback = this.handlers.find((h) => h.chain.isDefault);
    this.server = net.createServer({ noDelay: true }, (socket) => this.onConnection(socket));
  }

  get config(): ListenerConfig {
    return this.cfg;
  }

  /** New chains for new connections; connections already accepted keep their chain. */
  update(cfg: ListenerConfig): void {
    const next: ChainHandler[] = [];
    for (const [i, chain] of cfg.chains.entries()) {
      const same = this.handlers[i];
      if (same && same.tryUpdate(chain, cfg)) next.push(same);
      else next.push(new ChainHandler(chain, cfg, this.d));
    }
    // Handlers no longer selected finish their connections within the drain time.
    for (const h of this.handlers) {
      if (next.includes(h)) continue;
      this.retired.add(h);
      void h.drain(this.drainMs).then(() => this.retired.delete(h));
    }
    this.cfg = cfg;
    this.handlers = next;
    this.matchable = next.filter((h) => !h.chain.isDefault);
    this.fallback = next.find((h) => h.chain.isDefault);
  }

  private select(socket: net.Socket, seen: Inspection): ChainHandler | undefined {
    const facts = connectionFacts({ address: socket.localAddress, port: socket.localPort }, { address: socket.remoteAddress, port: socket.remotePort }, seen);
    return selectChain(this.matchable, matchOfHandler, facts) ?? this.fallback;
  }

  private onConnection(socket: net.Socket): void {
    socket.on('error', () => undefined);
    const cfg = this.cfg;
    if (!cfg.inspectTls && !cfg.inspectHttp) {
      this.dispatch(socket, undefined, NOTHING_SEEN);
      return;
    }
    // Listener filters: read until the inspectors know enough (or Envoy's listener_filters_timeout).
    const timer = setTimeout(() => socket.destroy(), INSPECT_TIMEOUT_MS);
    let seen: Buffer | undefined;
    const onData = (chunk: Buffer): void => {
      seen = seen ? Buffer.concat([seen, chunk]) : chunk;
      const r = inspect(seen, cfg.inspectTls, cfg.inspectHttp);
      if (r === 'more') return;
      clearTimeout(timer);
      socket.off('data', onData);
      socket.pause();
      if (r === 'too-large') {
        this.d.log.debug('TLS ClientHello too large; connection closed', { listener: cfg.name });
        socket.destroy();
        return;
      }
      this.dispatch(socket, seen, r);
    };
    socket.on('data', onData);
    socket.once('close', () => clearTimeout(timer));
  }

  private dispatch(socket: net.Socket, first: Buffer | undefined, seen: Inspection): void {
    const h = this.select(socket, seen);
    if (!h) {
      this.d.log.debug('no filter chain matches; connection closed', { listener: this.cfg.name, transportProtocol: seen.transport, serverName: seen.sni, alpn: seen.alpn.join(','), port: socket.localPort });
      socket.destroy();
      return;
    }
    if (!first) {
      h.accept(socket, socket);
      return;
    }
    // Bytes the inspectors read must reach the chain. A TLS socket feeds bytes buffered on the socket it
    // wraps into its handle and then reads the handle natively, so for TLS chains the bytes go back with
    // unshift() (half the CPU per TLS record of a JavaScript stream in between). Other chains (h2c reads
    // the handle directly; TCP and HTTP/1 read events) get a stream without a handle that replays them.
    if (h.terminatesTls) {
      socket.unshift(first);
      h.accept(socket, socket);
    } else h.accept(new PrefacedSocket(socket, first) as unknown as net.Socket, socket);
  }

  activeRequests(): number {
    let n = 0;
    for (const h of this.handlers) n += h.activeRequests();
    for (const h of this.retired) n += h.activeRequests();
    return n;
  }

  listen(): Promise<number> {
    return listenOn(this.server, this.cfg.host, this.cfg.port);
  }

  async drain(ms: number): Promise<void> {
    this.server.close();
    await Promise.all([...this.handlers, ...this.retired].map((h) => h.drain(ms)));
  }
}
