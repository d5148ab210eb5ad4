/**
 * The router filter: route action -> weighted cluster choice -> cluster checks (NC, UH, unsupported TLS
 * answers UF), redirects and direct responses. What happens upstream (host choice, breakers, timeouts,
 * retries, mirrors, relaying the response) is one UpstreamRequest per downstream stream (upstream-request.ts).
 */
import type { RedirectAction, Route } from './config-route';
import type { RouteAction, WeightedCluster } from './config-route-action';
import type { ClusterManager } from './cluster-manager';
import { applyMutations } from './header-mutation';
import type { FilterHost, HttpFilter } from './http-filter';
import type { HttpStream } from './http-stream';
import { Flag } from './response-flags';
import type { RouteTable } from './config-route';
import { UpstreamRequest } from './upstream-request';

export interface RouterHost extends FilterHost {
  /** the route table the stream matched in (for response header mutations) */
  table(s: HttpStream): RouteTable | undefined;
  readonly serverName: string;
  /** last look at the headers sent upstream (metadata exchange adds this proxy's peer headers) */
  upstreamRequestHeaders(s: HttpStream, h: Record<string, string | string[]>): void;
  /** first look at the upstream response headers, already copied (metadata exchange reads and strips) */
  upstreamResponseHeaders(s: HttpStream, h: Record<string, string | string[]>): void;
}

export class RouterFilter implements HttpFilter {
  constructor(
    readonly clusters: ClusterManager,
    readonly host: RouterHost,
  ) {}

  decode(s: HttpStream): boolean {
    const route = s.route;
    if (!route) {
      s.flags |= Flag.NR;
      this.host.sendLocal(s, 404, '');
      return false;
    }
    const action = route.action;
    if (action.kind === 'direct') this.host.sendLocal(s, action.status, action.body, this.localHeaders(s, route));
    else if (action.kind === 'redirect') this.redirect(s, route, action);
    else this.forward(s, route, action);
    return false;
  }

  private forward(s: HttpStream, route: Route, action: RouteAction): void {
    const wc = pickWeighted(action.clusters, action.totalWeight);
    s.clusterName = wc.name;
    const cluster = this.clusters.get(wc.name);
    if (!cluster) {
      s.flags |= Flag.NC;
      this.host.sendLocal(s, 503, '');
      return;
    }
    if (cluster.available.length === 0) {
      s.flags |= Flag.UH;
      this.host.sendLocal(s, 503, 'no healthy upstream');
      return;
    }
    const unsupported = cluster.config.upstreamTls?.unsupported;
    if (unsupported) {
      // Never fall back to plaintext when the cluster asks for TLS we cannot set up.
      s.flags |= Flag.UF;
      this.host.sendLocal(s, 503, `upstream connect error or disconnect/reset before headers. reset reason: ${unsupported}`);
      return;
    }
    new UpstreamRequest(this, s, route, action, wc, cluster).start();
  }

  private localHeaders(s: HttpStream, route: Route): Record<string, string> {
    const h: Record<string, string | string[]> = {};
    applyMutations(h, route.response, s, true);
    if (s.vhost) applyMutations(h, s.vhost.response, s, true);
    const t = this.host.table(s);
    if (t) applyMutations(h, t.response, s, true);
    const out: Record<string, string> = {};
    for (const k in h) out[k] = String(h[k]);
    return out;
  }

  private redirect(s: HttpStream, route: Route, a: RedirectAction): void {
    const q = s.query;
    const scheme = a.scheme ?? q.scheme;
    let host = a.host ?? q.authority;
    if (a.port > 0) host = `${host.replace(/:\d+$/, '')}:${a.port}`;
    else if (a.scheme && a.scheme !== q.scheme) host = host.replace(/:\d+$/, '');
    let path = q.path;
    if (a.path !== undefined) path = a.path;
    else if (a.prefixRewrite !== undefined) path = a.prefixRewrite + path.slice(route.pathKind === 0 || route.pathKind === 3 ? route.pathValue.length : path.length);
    const query = a.stripQuery || (a.path !== undefined && a.path.includes('?')) ? '' : q.rawQuery;
    const headers = this.localHeaders(s, route);
    headers.location = `${scheme}://${host}${path}${query ? `?${query}` : ''}`;
    this.host.sendLocal(s, a.status, '', headers);
  }
}

function pickWeighted(clusters: readonly WeightedCluster[], total: number): WeightedCluster {
  if (clusters.length === 1) return clusters[0];
  let r = Math.random() * total;
  for (let i = 0; i < clusters.length; i++) {
    r -= clusters[i].weight;
    if (r < 0) return clusters[i];
  }
  return clusters[clusters.length - 1];
}
