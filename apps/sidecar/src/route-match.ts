/**
 * Picking the virtual host by authority and the first matching route, as Envoy does: exact domain, then the
 * longest `*.suffix`, then the longest `prefix.*`, then `*`; routes in order, first match wins.
 */
import type { HeaderSource, Route, RouteTable, VirtualHost } from './config-route';

export function selectVirtualHost(table: RouteTable, authority: string): VirtualHost | undefined {
  let host = authority.toLowerCase();
  if (table.ignorePort) host = stripPort(host);
  const exact = table.exact.get(host);
  if (exact) return exact;
  for (const s of table.suffixes) if (host.length > s.suffix.length && host.endsWith(s.suffix)) return s.vh;
  for (const p of table.prefixes) if (host.length > p.prefix.length && host.startsWith(p.prefix)) return p.vh;
  return table.star;
}

function stripPort(host: string): string {
  const colon = host.lastIndexOf(':');
  if (colon < 0 || host.endsWith(']')) return host;
  return host.slice(0, colon);
}

/** `path` is the request path without the query; `query` is parsed lazily only when a route needs it. */
export class RouteQuery implements HeaderSource {
  private params: URLSearchParams | undefined = undefined;
  private lowerPath: string | undefined = undefined;

  constructor(
    readonly method: string,
    readonly path: string,
    readonly rawQuery: string,
    readonly authority: string,
    readonly scheme: string,
    readonly headers: Record<string, string | string[] | undefined>,
  ) {}

  header(name: string): string | undefined {
    if (name.charCodeAt(0) === 58 /* : */) {
      if (name === ':method') return this.method;
      if (name === ':path') return this.rawQuery ? `${this.path}?${this.rawQuery}` : this.path;
      if (name === ':authority') return this.authority;
      if (name === ':scheme') return this.scheme;
      return undefined;
    }
    const v = this.headers[name];
    return Array.isArray(v) ? v.join(',') : v;
  }

  query(): URLSearchParams {
    if (!this.params) this.params = new URLSearchParams(this.rawQuery);
    return this.params;
  }

  lower(): string {
    if (this.lowerPath === undefined) this.lowerPath = this.path.toLowerCase();
    return this.lowerPath;
  }
}

function pathMatches(route: Route, q: RouteQuery): boolean {
  const path = route.caseSensitive ? q.path : q.lower();
  switch (route.pathKind) {
    case 0:
      return path.startsWith(route.pathValue);
    case 1:
      return path === route.pathValue;
    case 2:
      return route.regex !== undefined && route.regex.test(path);
    case 3: {
      const p = route.pathValue;
      return path === p || (path.startsWith(p) && path.charCodeAt(p.length) === 47 /* / */);
    }
    case 4:
      return q.method === 'CONNECT';
  }
}

export function matchRoute(vh: VirtualHost, q: RouteQuery): Route | undefined {
  const routes = vh.routes;
  for (let i = 0; i < routes.length; i++) {
    const r = routes[i];
    if (!pathMatches(r, q)) continue;
    let ok = true;
    for (let j = 0; j < r.headers.length && ok; j++) ok = r.headers[j](q);
    for (let j = 0; j < r.query.length && ok; j++) ok = r.query[j](q.query());
    if (ok) return r;
  }
  return undefined;
}
