/**
 * The hash key of a request for ring hash / Maglev, from the route's hash policy (Envoy's order: each
 * policy that yields a value is folded in, a terminal one that yields a value ends the list).
 */
import type { RouteAction } from './config-route-action';
import type { HttpStream } from './http-stream';
import { hash32 } from './lb-ring-hash';

export function hashKey(s: HttpStream, a: RouteAction): number | undefined {
  let h: number | undefined;
  for (const p of a.hashPolicy) {
    let v: string | undefined;
    if (p.kind === 'header') v = s.query.header(p.name);
    else if (p.kind === 'source_ip') v = s.downstreamAddress;
    else {
      const cookie = s.req.headers.cookie;
      if (typeof cookie === 'string') {
        for (const part of cookie.split(';')) {
          const eq = part.indexOf('=');
          if (eq > 0 && part.slice(0, eq).trim() === p.name) v = part.slice(eq + 1).trim();
        }
      }
    }
    if (v === undefined) continue;
    const k = hash32(v);
    h = h === undefined ? k : (Math.imul(h, 31) + k) >>> 0;
    if (p.terminal) break;
  }
  return h;
}
