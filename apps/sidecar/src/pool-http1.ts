/**
 * HTTP/1.1 upstream pool of one endpoint. Requests go through the lean client (upstream-h1-client.ts),
 * plaintext or TLS; mirrors use a keep-alive Agent, made on first use. Both cap connections by the cluster's
 * max_connections breaker and apply a connect timeout to each new socket (Envoy's connect_timeout).
 */
import * as http from 'node:http';
import * as https from 'node:https';
import type * as net from 'node:net';
import * as tls from 'node:tls';
import type { UpstreamTlsConfig } from './config-cluster';
import { H1Pool } from './upstream-h1-client';

export class Http1Pool {
  readonly protocol: 'http:' | 'https:';
  private pool: H1Pool | undefined = undefined;
  private mirrorAgent: http.Agent | undefined = undefined;

  constructor(
    private readonly maxConnections: number,
    private readonly connectTimeoutMs: number,
    private readonly idleTimeoutMs: number,
    private readonly tlsConfig?: UpstreamTlsConfig,
  ) {
    this.protocol = tlsConfig ? 'https:' : 'http:';
  }

  /** The lean pool of this endpoint (created on first use). */
  lean(host: string, port: number): H1Pool {
    if (this.pool === undefined) {
      const tlsConnect = this.tlsConfig ? h1TlsOptions(this.tlsConfig) : undefined;
      this.pool = new H1Pool(host, port, Math.min(this.maxConnections, 1_000_000), this.connectTimeoutMs, this.idleTimeoutMs, tlsConnect);
    }
    return this.pool;
  }

  /** The keep-alive Agent of request mirrors (created on first use). */
  get agent(): http.Agent {
    if (this.mirrorAgent === undefined) this.mirrorAgent = this.makeAgent();
    return this.mirrorAgent;
  }

  private makeAgent(): http.Agent {
    const connectTimeoutMs = this.connectTimeoutMs;
    const options: http.AgentOptions = {
      keepAlive: true,
      keepAliveMsecs: 1000,
      maxSockets: Math.min(this.maxConnections, 1_000_000),
      maxFreeSockets: Math.min(this.maxConnections, 1024),
      timeout: this.idleTimeoutMs,
      scheduling: 'lifo',
    };
    const agent = this.tlsConfig ? new https.Agent({ ...options, ...h1TlsOptions(this.tlsConfig) }) : new http.Agent(options);
    // The connect timeout covers only the TCP handshake; it is cleared once connected.
    const create = agent.createConnection.bind(agent);
    agent.createConnection = ((options: net.NetConnectOpts, cb?: (err: Error | null, s: import('node:stream').Duplex) => void) => {
      const socket = create({ ...(options as http.ClientRequestArgs), noDelay: true } as http.ClientRequestArgs, cb) as net.Socket;
      if (socket && socket.connecting) {
        socket.setTimeout(connectTimeoutMs, onConnectTimeout);
        socket.once('connect', clearConnectTimeout);
      }
      return socket;
    }) as typeof agent.createConnection;
    return agent;
  }

  /** Sockets open to this endpoint (busy + idle). */
  connections(): number {
    let n = this.pool ? this.pool.connections() : 0;
    const agent = this.mirrorAgent;
    if (agent === undefined) return n;
    for (const list of Object.values(agent.sockets)) n += list?.length ?? 0;
    for (const list of Object.values(agent.freeSockets)) n += list?.length ?? 0;
    return n;
  }

  /** Requests waiting for a socket. */
  pending(): number {
    let n = this.pool ? this.pool.pending() : 0;
    const agent = this.mirrorAgent;
    if (agent === undefined) return n;
    for (const list of Object.values(agent.requests)) n += list?.length ?? 0;
    return n;
  }

  /**
   * Retired (endpoints or TLS settings changed, e.g. a certificate rotation): idle sockets close now, busy
   * ones once their response is done, so no request in flight is cut (Envoy drains old pools the same way).
   */
  destroy(): void {
    const agent = this.mirrorAgent;
    if (agent !== undefined) {
      (agent as unknown as { keepAlive: boolean }).keepAlive = false;
      for (const list of Object.values(agent.freeSockets)) for (const s of list ?? []) s.destroy();
    }
    this.pool?.destroy();
  }
}

const prepared = new WeakMap<UpstreamTlsConfig, tls.ConnectionOptions>();

/**
 * tlsOptions for HTTP/1.1 with the secure context built once per identity: the cluster's UpstreamTlsConfig
 * object (a rotated certificate or trust bundle arrives as a new object, with new pools), so every connection
 * to every host of the cluster shares one context until the next rotation. PEM the context cannot load stays
 * as raw options: each connect then fails (503 UF) instead of the process.
 */
export function h1TlsOptions(c: UpstreamTlsConfig): tls.ConnectionOptions {
  let o = prepared.get(c);
  if (o === undefined) {
    const { ca, cert, key, ...rest } = tlsOptions(c, ['http/1.1']);
    try {
      o = { ...rest, secureContext: tls.createSecureContext({ ca, cert, key }) };
    } catch {
      o = { ...rest, ca, cert, key };
    }
    prepared.set(c, o);
  }
  return o;
}

/**
 * Envoy's upstream TLS semantics: without a validation context the peer is not verified; with one, the
 * chain must verify against trusted_ca, and the SAN must match when match_typed_subject_alt_names is set
 * (the host name itself is not checked).
 */
export function tlsOptions(c: UpstreamTlsConfig, defaultAlpn: string[]): tls.ConnectionOptions {
  return {
    ca: c.ca,
    cert: c.cert,
    key: c.key,
    servername: c.sni || undefined,
    rejectUnauthorized: c.ca !== undefined,
    ALPNProtocols: c.alpn.length > 0 ? c.alpn : defaultAlpn,
    checkServerIdentity: (_host, cert) => {
      if (c.sans.length === 0 && c.sanPrefixes.length === 0) return undefined;
      const names = (cert.subjectaltname ?? '').split(/,\s*/).map((n) => n.replace(/^(URI|DNS|IP Address):/, ''));
      if (c.sans.some((san) => names.includes(san)) || c.sanPrefixes.some((p) => names.some((n) => n.startsWith(p)))) return undefined;
      // Coded like Node's own SAN failure, so the router reports a connect failure (UF).
      const wanted = [...c.sans, ...c.sanPrefixes.map((p) => `${p}*`)].join(', ');
      return Object.assign(new Error(`peer certificate SANs ${cert.subjectaltname ?? '(none)'} match none of ${wanted}`), { code: 'ERR_TLS_CERT_ALTNAME_INVALID' });
    },
  };
}

function onConnectTimeout(this: net.Socket): void {
  const err = Object.assign(new Error('connect timeout'), { code: 'ETIMEDOUT_CONNECT' });
  this.destroy(err);
}

function clearConnectTimeout(this: net.Socket): void {
  this.setTimeout(0);
}
