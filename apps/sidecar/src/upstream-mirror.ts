/**
 * Request mirroring (request_mirror_policies): a copy of the request, fire and forget, to each mirror
 * cluster picked by its fraction, with "-shadow" appended to the host; the responses are discarded.
 */
import * as http from 'node:http';
import type { UpstreamHost } from './cluster-manager';
import type { RouteAction } from './config-route-action';
import type { HttpStream } from './http-stream';
import type { RouterFilter } from './router';

export function sendMirrors(router: RouterFilter, s: HttpStream, mirrors: RouteAction['mirrors'], upstreamHeaders: Record<string, string | string[]>, path: string): void {
  for (const m of mirrors) {
    if (m.fraction < 1 && Math.random() >= m.fraction) continue;
    const c = router.clusters.get(m.cluster);
    const host = c?.lb.pick(c.available) as UpstreamHost | undefined;
    if (!host) continue;
    const headers = { ...upstreamHeaders, host: `${String(upstreamHeaders.host).replace(/:\d+$/, '')}-shadow` };
    const pool = host.http1();
    const req = http.request({ protocol: pool.protocol, host: host.host, port: host.port, method: s.query.method, path, headers, agent: pool.agent, setHost: false });
    req.on('response', (res) => res.resume());
    req.on('error', () => undefined);
    req.end(s.body);
  }
}
