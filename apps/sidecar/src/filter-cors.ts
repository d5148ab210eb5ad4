/**
 * CORS (envoy.filters.http.cors): answers preflight requests from allowed origins and marks the stream so
 * the response carries access-control-allow-origin. Policy from the route, then the virtual host.
 */
import type { CorsPolicy } from './config-http-filters';
import type { HttpStream } from './http-stream';
import type { FilterHost, HttpFilter } from './http-filter';

export class CorsFilter implements HttpFilter {
  constructor(
    private readonly defaults: CorsPolicy | undefined,
    private readonly host: FilterHost,
  ) {}

  decode(s: HttpStream): boolean {
    const policy = s.route?.cors ?? s.vhost?.cors ?? this.defaults;
    if (!policy) return true;
    const origin = s.req.headers.origin;
    if (typeof origin !== 'string' || origin === '') return true;
    let allowed = false;
    for (let i = 0; i < policy.allowOrigin.length && !allowed; i++) allowed = policy.allowOrigin[i](origin);
    if (!allowed) return true;
    s.corsOrigin = origin;
    s.corsPolicy = policy;
    const method = s.query.method;
    const requested = s.req.headers['access-control-request-method'];
    if (method === 'OPTIONS' && typeof requested === 'string' && requested !== '') {
      const headers: Record<string, string> = { 'access-control-allow-origin': origin };
      if (policy.allowMethods) headers['access-control-allow-methods'] = policy.allowMethods;
      if (policy.allowHeaders) headers['access-control-allow-headers'] = policy.allowHeaders;
      if (policy.maxAge) headers['access-control-max-age'] = policy.maxAge;
      if (policy.allowCredentials) headers['access-control-allow-credentials'] = 'true';
      this.host.sendLocal(s, 200, '', headers);
      return false;
    }
    return true;
  }
}

/** Response headers for an allowed cross-origin (non-preflight) request. */
export function corsResponseHeaders(s: HttpStream, headers: Record<string, string | string[]>): void {
  const p = s.corsPolicy;
  if (!p) return;
  headers['access-control-allow-origin'] = s.corsOrigin;
  if (p.allowCredentials) headers['access-control-allow-credentials'] = 'true';
  if (p.exposeHeaders) headers['access-control-expose-headers'] = p.exposeHeaders;
}
