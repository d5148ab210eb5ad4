/**
 * The HTTP connection manager: for each downstream request, the Envoy-standard headers (x-request-id,
 * x-forwarded-for, x-forwarded-proto; trace headers pass through untouched), the route lookup (RDS table
 * by authority, then route by path/headers/query), the HTTP filters composed once for the listener
 * (fault, CORS, router), local replies, and per-request accounting (Istio metrics, access log).
 */
import { randomUUID } from 'node:crypto';
import type * as http2 from 'node:http2';
import type { Logger } from '@mesh/runtime';
import type { AccessLog } from './access-log';
import type { ClusterManager } from './cluster-manager';
import type { HcmConfig } from './config-listener';
import type { RouteTable } from './config-route';
import type { ConfigStore } from './config-store';
import { CorsFilter } from './filter-cors';
import { FaultFilter } from './filter-fault';
import { LocalRateLimitFilter } from './filter-local-ratelimit';
import { RbacFilter } from './filter-rbac';
import type { HttpFilter } from './http-filter';
import { H1Response } from './downstream-h1-exchange';
import { HttpStream, respond, type DownstreamRequest, type DownstreamResponse } from './http-stream';
import { PEER_METADATA, PEER_METADATA_ID, UNKNOWN_PEER } from './peer-metadata';
import { flagString, Flag } from './response-flags';
import { matchRoute, RouteQuery, selectVirtualHost } from './route-match';
import { RouterFilter, type RouterHost } from './router';
import type { MeshStats } from './stats';
import { peerPrincipalOf } from './tls-peer';

export interface HcmDeps {
  store: ConfigStore;
  clusters: ClusterManager;
  stats: MeshStats;
  accessLog: AccessLog | undefined;
  log: Logger;
}

const TEXT_PLAIN = 'text/plain';

/** Istio's inbound cluster names start so; every other cluster is the client side of a hop. */
function isInbound(clusterName: string): boolean {
  return clusterName.startsWith('inbound|');
}

export class HttpConnectionManager implements RouterHost {
  private readonly filters: HttpFilter[];
  readonly serverName: string;
  /** in-flight streams, for drain */
  active = 0;
  private readonly scheme: string;

  constructor(
    readonly config: HcmConfig,
    private readonly deps: HcmDeps,
    secure: boolean,
  ) {
    this.serverName = config.serverName;
    this.scheme = secure ? 'https' : 'http';
    this.filters = config.filters.map((f): HttpFilter => {
      switch (f.kind) {
        case 'fault':
          return new FaultFilter(f.defaults, this);
        case 'cors':
          return new CorsFilter(f.defaults, this);
        case 'rbac':
          return new RbacFilter(f.rbac, this, deps.stats);
        case 'local_ratelimit':
          return new LocalRateLimitFilter(f.config, this);
        case 'router':
          return new RouterFilter(deps.clusters, this);
      }
    });
  }

  table(_s?: HttpStream): RouteTable | undefined {
    const c = this.config;
    if (c.inlineRoutes) return c.inlineRoutes;
    return c.rdsName ? this.deps.store.routes.resources.get(c.rdsName)?.value : undefined;
  }

  /** The request handler for http.Server / http2 compat servers. */
  readonly handle = (req: DownstreamRequest, res: DownstreamResponse): void => {
    const isH2 = req.httpVersionMajor === 2;
    const headers = req.headers;
    const authority = (isH2 ? ((headers[':authority'] as string | undefined) ?? headers.host) : headers.host) ?? '';
    let url = req.url ?? '/';
    if (url.charCodeAt(0) !== 47 /* / */ && url !== '*') {
      // absolute-form (http://host/path): keep only the path
      const m = /^[a-z][a-z0-9+.-]*:\/\/[^/]*(\/.*)?$/i.exec(url);
      url = m ? (m[1] ?? '/') : '/';
    }
    const qi = url.indexOf('?');
    const path = qi < 0 ? url : url.slice(0, qi);
    const rawQuery = qi < 0 ? '' : url.slice(qi + 1);
    const remote = req.socket?.remoteAddress ?? '';
    const q = new RouteQuery(req.method ?? 'GET', path, rawQuery, authority, this.scheme, headers);
    let id = headers['x-request-id'];
    if (typeof id !== 'string' || id === '') {
      id = this.config.generateRequestId ? randomUUID() : '';
      if (id) headers['x-request-id'] = id;
    }
    if (this.config.useRemoteAddress && remote) {
      const xff = headers['x-forwarded-for'];
      headers['x-forwarded-for'] = typeof xff === 'string' && xff !== '' ? `${xff}, ${remote}` : remote;
      headers['x-forwarded-proto'] = this.scheme;
    } else if (headers['x-forwarded-proto'] === undefined) headers['x-forwarded-proto'] = this.scheme;
    const s = new HttpStream(req, res, q, id, performance.now(), Date.now(), remote, isH2);
    // Metadata exchange: never passed on. Kept for the inbound side only (see upstreamRequestHeaders).
    const peer = headers[PEER_METADATA];
    if (peer !== undefined || headers[PEER_METADATA_ID] !== undefined) {
      if (typeof peer === 'string') s.peerMetadata = peer;
      delete headers[PEER_METADATA];
      delete headers[PEER_METADATA_ID];
    }
    this.active++;
    this.deps.stats.server.downstream_rq_total++;
    if (res instanceof H1Response) {
      res.context = s;
      res.onclose = this.onH1Close;
      res.ontimeout = this.onH1Timeout;
    } else {
      res.once('close', () => this.onClose(s));
      const idle = this.config.streamIdleTimeoutMs;
      if (idle > 0) (req as http2.Http2ServerRequest).setTimeout(idle, () => this.streamTimeout(s, 'stream_idle'));
    }
    if (!authority && !isH2) {
      this.sendLocal(s, 400, 'missing host header');
      return;
    }
    const table = this.table(s);
    if (table) {
      const vh = selectVirtualHost(table, authority);
      if (vh) {
        s.vhost = vh;
        s.route = matchRoute(vh, q);
      }
    }
    this.continueDecoding(s);
  };

  private readonly onH1Close = (res: H1Response): void => this.onClose(res.context as HttpStream);
  private readonly onH1Timeout = (res: H1Response, kind: 'request' | 'stream_idle'): void => this.streamTimeout(res.context as HttpStream, kind);

  /**
   * request_timeout (the request did not arrive in time) or stream_idle_timeout (nothing moved either way):
   * 408 when no response started (504 for a stream idle timeout once the request is complete; flag SI, as
   * Envoy), else the stream is reset.
   */
  streamTimeout(s: HttpStream, kind: 'request' | 'stream_idle'): void {
    if (s.done) return;
    const server = this.deps.stats.server;
    if (kind === 'stream_idle') {
      s.flags |= Flag.SI;
      server.downstream_rq_idle_timeout++;
    } else server.downstream_rq_timeout++;
    const cancel = s.cancel;
    s.cancel = undefined;
    cancel?.();
    if (s.res.headersSent) {
      if (!s.res.writableEnded) s.res.destroy();
      return;
    }
    // Envoy: a stream idle timeout while waiting on the upstream (the request fully received) is 504.
    const status = kind === 'stream_idle' && s.req.complete ? 504 : 408;
    this.sendLocal(s, status, kind === 'stream_idle' ? 'stream timeout' : 'request timeout');
  }

  continueDecoding(s: HttpStream): void {
    const f = this.filters;
    while (s.filterIndex < f.length && !s.done) {
      const filter = f[s.filterIndex++];
      if (!filter.decode(s)) return;
    }
  }

  /** Client side of a hop: tell the server sidecar who we are (the inbound side sends nothing to its app). */
  upstreamRequestHeaders(s: HttpStream, h: Record<string, string | string[]>): void {
    if (isInbound(s.clusterName)) return;
    s.peerMetadata = '';
    const self = this.deps.stats.selfMetadata;
    h[PEER_METADATA_ID] = self.id;
    h[PEER_METADATA] = self.value;
  }

  /**
   * Client side: read and strip what the server sidecar said about itself. Server side: strip anything the
   * app sent and answer a client sidecar (one that sent its metadata) with ours.
   */
  upstreamResponseHeaders(s: HttpStream, h: Record<string, string | string[]>): void {
    const peer = h[PEER_METADATA];
    if (peer !== undefined || h[PEER_METADATA_ID] !== undefined) {
      delete h[PEER_METADATA];
      delete h[PEER_METADATA_ID];
    }
    if (!isInbound(s.clusterName)) {
      s.peerMetadata = typeof peer === 'string' ? peer : '';
    } else if (s.peerMetadata !== '') {
      const self = this.deps.stats.selfMetadata;
      h[PEER_METADATA_ID] = self.id;
      // Our SPIFFE id goes only to a client that proved its own over mutual TLS (its destination_principal).
      h[PEER_METADATA] = peerPrincipalOf(s.req.socket) !== '' ? self.valueMtls : self.value;
    }
  }

  sendLocal(s: HttpStream, status: number, body: string, headers?: Record<string, string>): void {
    const res = s.res;
    s.status = status;
    if (res.headersSent || s.downstreamGone) {
      if (!res.writableEnded) res.destroy();
      return;
    }
    const h: Record<string, string> = { ...headers, server: this.serverName };
    if (body !== '' || status >= 400) {
      h['content-type'] = TEXT_PLAIN;
      h['content-length'] = String(Buffer.byteLength(body));
    } else if (status !== 204 && status !== 304) h['content-length'] = '0';
    if (s.corsPolicy && status !== 200) h['access-control-allow-origin'] = s.corsOrigin;
    s.responseBytes += Buffer.byteLength(body);
    respond(res, status, h);
    res.end(body);
  }

  sendGrpcLocal(s: HttpStream, grpcStatus: number, message: string): void {
    const res = s.res;
    s.status = 200;
    if (res.headersSent) {
      res.destroy();
      return;
    }
    respond(res, 200, { 'content-type': 'application/grpc', 'grpc-status': String(grpcStatus), 'grpc-message': encodeURIComponent(message), server: this.serverName });
    res.end();
  }

  private onClose(s: HttpStream): void {
    this.active--;
    s.done = true;
    const res = s.res;
    if (!res.writableFinished) {
      s.downstreamGone = true;
      s.flags |= Flag.DC;
      this.deps.stats.server.downstream_rq_rx_reset++;
      const cancel = s.cancel;
      s.cancel = undefined;
      cancel?.();
      if (s.status === 0) s.status = 0;
    }
    const status = s.status;
    const server = this.deps.stats.server;
    if (status >= 500) server.downstream_rq_5xx++;
    else if (status >= 400) server.downstream_rq_4xx++;
    else if (status >= 200) server.downstream_rq_2xx++;
    const duration = performance.now() - s.startMs;
    const flags = flagString(s.flags);
    const grpc = s.http2 ? String((res as http2.Http2ServerResponse).getHeader?.('grpc-status') ?? '') : '';
    const reqBytes = s.requestBytes || Number(s.req.headers['content-length'] ?? 0) || 0;
    const stats = this.deps.stats;
    const inbound = isInbound(s.clusterName);
    // Inbound: what the client sidecar sent. Outbound: only what an upstream answered (the app's request
    // value was cleared when the request went upstream; a local reply before that never reached a peer).
    const peer = s.peerMetadata === '' || (!inbound && s.upstreamHeaders === undefined) ? UNKNOWN_PEER : stats.peers.get(s.peerMetadata);
    const principal = inbound ? peerPrincipalOf(s.req.socket) : '';
    stats.recordRequest(s.clusterName || 'unknown', peer, principal, s.http2 ? (s.req.headers['content-type']?.startsWith('application/grpc') ? 'grpc' : 'http') : 'http', status, grpc, flags, duration, reqBytes, s.responseBytes);
    const log = this.deps.accessLog;
    if (log) {
      const h = s.req.headers;
      log.write({
        start_time: new Date(s.startEpochMs).toISOString(),
        method: s.query.method,
        path: s.query.rawQuery ? `${s.query.path}?${s.query.rawQuery}` : s.query.path,
        protocol: s.http2 ? 'HTTP/2' : `HTTP/${s.req.httpVersion}`,
        response_code: status,
        response_flags: flags,
        bytes_received: reqBytes,
        bytes_sent: s.responseBytes,
        duration: Math.round(duration),
        upstream_service_time: s.upstreamMs,
        x_forwarded_for: String(h['x-forwarded-for'] ?? '-'),
        user_agent: String(h['user-agent'] ?? '-'),
        request_id: s.requestId,
        authority: s.query.authority,
        upstream_host: s.upstreamHost || '-',
        upstream_cluster: s.clusterName || '-',
        downstream_remote_address: s.downstreamAddress,
        route_name: s.route?.name || '-',
      });
    }
  }
}
