/**
 * Microbenchmarks of the sidecar's hot functions with mitata (run by `npm run bench -- sidecar --micro`,
 * or directly: node --import tsx apps/sidecar/src/bench-hot.ts). Prints one line per function and a JSON
 * object last: nanoseconds per call (average and p99).
 */
import { measure } from 'mitata';
import { compileRouteConfiguration } from './config-route';
import { LeastRequestLb } from './lb-least-request';
import { hash32, RingHashLb } from './lb-ring-hash';
import { RoundRobinLb } from './lb-round-robin';
import type { Host } from './lb-types';
import { matchRoute, RouteQuery, selectVirtualHost } from './route-match';
import { requestHead } from './upstream-h1-client';
import type { Duplex } from 'node:stream';
import { H1Response, type H1ResponseOwner } from './downstream-h1-exchange';
import { H1RequestParser } from './downstream-h1-parser';
import { H1ResponseParser } from './upstream-h1-parser';
import { CoarseTimer } from './timers-coarse';
import { FifoTimeouts } from './timers-fifo';
import { knownHeaderName } from './h1-header-names';

async function main(): Promise<void> {
  // 50 virtual hosts x 20 routes, the shape Pilot generates for a mid-size mesh.
  const vhosts = Array.from({ length: 50 }, (_, v) => ({
    name: `svc${v}`,
    domains: [`svc${v}.ns.svc.cluster.local`, `svc${v}.ns.svc.cluster.local:80`],
    routes: Array.from({ length: 20 }, (_, r) => ({
      match: r % 2 === 0 ? { prefix: `/api/v${r}/` } : { prefix: `/p${r}`, headers: [{ name: 'x-user', string_match: { exact: `u${r}` } }] },
      route: { cluster: `outbound|80||svc${v}.ns.svc.cluster.local` },
    })),
  }));
  const compiled = compileRouteConfiguration({ name: 'bench', virtual_hosts: vhosts });
  if (!compiled.ok) throw new Error(JSON.stringify(compiled.errors));
  const table = compiled.value;
  const headers = { host: 'svc49.ns.svc.cluster.local', 'x-user': 'u19', 'user-agent': 'bench' };
  const results: Record<string, { avg_ns: number; p99_ns: number }> = {};
  const record = async (name: string, fn: () => unknown): Promise<void> => {
    const s = await measure(fn);
    results[name] = { avg_ns: Math.round(s.avg), p99_ns: Math.round(s.p99) };
    process.stdout.write(`${name}: ${s.avg.toFixed(1)} ns/op (p99 ${s.p99.toFixed(1)})\n`);
  };
  await record('route_match_last_of_1000', () => {
    const q = new RouteQuery('GET', '/p19/x', '', 'svc49.ns.svc.cluster.local', 'http', headers);
    const vh = selectVirtualHost(table, q.authority);
    return vh && matchRoute(vh, q);
  });
  await record('route_match_first', () => {
    const q = new RouteQuery('GET', '/api/v0/items', '', 'svc0.ns.svc.cluster.local', 'http', headers);
    const vh = selectVirtualHost(table, q.authority);
    return vh && matchRoute(vh, q);
  });
  const hosts: Host[] = Array.from({ length: 10 }, (_, i) => ({ host: '10.0.0.1', port: 8000 + i, weight: 1, address: `10.0.0.1:${8000 + i}`, activeRequests: i % 3 }));
  const weighted: Host[] = hosts.map((h, i) => ({ ...h, weight: 1 + (i % 4) }));
  const rr = new RoundRobinLb();
  const wrr = new RoundRobinLb();
  const lr = new LeastRequestLb(2);
  const ring = new RingHashLb(1024, 8 * 1024 * 1024);
  await record('lb_round_robin_pick', () => rr.pick(hosts));
  await record('lb_weighted_round_robin_pick', () => wrr.pick(weighted));
  await record('lb_least_request_pick', () => lr.pick(hosts));
  let i = 0;
  await record('lb_ring_hash_pick', () => ring.pick(hosts, hash32(`user-${i++ & 1023}`)));
  // The lean upstream client: an nginx-shaped 1 KiB response parsed, and a typical request head written.
  const response = Buffer.from(`HTTP/1.1 200 OK\r\nServer: nginx/1.22.1\r\nDate: Wed, 25 Nov 2026 21:00:00 GMT\r\nContent-Type: text/plain\r\nContent-Length: 1024\r\nConnection: keep-alive\r\n\r\n${'x'.repeat(1024)}`, 'latin1');
  let bodyBytes = 0;
  const parser = new H1ResponseParser({ onHead: () => undefined, onBody: (c) => (bodyBytes += c.length), onComplete: () => undefined }, 96 * 1024);
  await record('upstream_parse_response_1k', () => {
    parser.reset(false);
    return parser.execute(response);
  });
  if (bodyBytes === 0) throw new Error('the parser delivered no body');
  const upstreamHeaders = { host: 'svc49.ns.svc.cluster.local', 'user-agent': 'fortio.org/fortio-1.69.0', 'x-request-id': '6b2a3c1e-8f3d-4c55-9a8e-1f2d3c4b5a69', 'x-forwarded-proto': 'http', 'x-envoy-expected-rq-timeout-ms': '15000' };
  await record('upstream_request_head', () => requestHead('GET', '/api/v1/items?x=1', upstreamHeaders, ''));
  // The downstream codec: a fortio-shaped request head parsed, a proxied 1 KiB response head + body built.
  const requestBytes = Buffer.from('GET /echo?size=1024 HTTP/1.1\r\nHost: 127.0.0.1:15001\r\nUser-Agent: fortio.org/fortio-1.69.0\r\nAccept: */*\r\n\r\n', 'latin1');
  let heads = 0;
  const requestParser = new H1RequestParser({ onRequestHead: () => heads++, onBody: () => undefined, onComplete: () => undefined }, 60 * 1024);
  await record('downstream_parse_request', () => {
    requestParser.next();
    return requestParser.execute(requestBytes);
  });
  if (heads === 0) throw new Error('the request parser delivered no head');
  let written = 0;
  const sink = { write: (b: Buffer | string) => ((written += b.length), true), cork: () => undefined, uncork: () => undefined, destroy: () => undefined } as unknown as Duplex;
  const owner: H1ResponseOwner = { socket: sink, responseDone: () => undefined, pauseBody: () => undefined, resumeBody: () => undefined, touch: () => undefined };
  const body = Buffer.alloc(1024, 120);
  const responseHeaders = { 'content-type': 'text/plain', 'content-length': '1024', date: 'Wed, 25 Nov 2026 21:00:00 GMT', 'x-envoy-upstream-service-time': '1', server: 'envoy' };
  await record('downstream_write_response_1k', () => new H1Response(owner, 1, true, false).writeHead(200, responseHeaders).end(body));
  if (written === 0) throw new Error('the response wrote nothing');
  const timer = new CoarseTimer(() => undefined, undefined);
  await record('coarse_timer_rearm', () => timer.arm(300_000));
  timer.clear();
  // A route timeout per request: the FIFO of one duration (arm + cancel) against a native timer pair.
  const fifo = new FifoTimeouts<object>(15_000, () => undefined);
  const item = {};
  await record('route_timeout_fifo_arm_cancel', () => fifo.cancel(fifo.add(item)));
  const noop = (): void => undefined;
  await record('route_timeout_native_set_clear', () => clearTimeout(setTimeout(noop, 15_000)));
  await record('header_name_known', () => knownHeaderName('User-Agent: x', 0, 10));
  process.stdout.write(`${JSON.stringify(results)}\n`);
}

void main();
