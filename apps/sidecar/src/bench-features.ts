/**
 * Microbenchmarks (mitata) of the per-connection and per-request costs added by filter chain matching,
 * header formatters and local rate limiting (run by `npm run bench -- sidecar-features`, or directly:
 * node --import tsx apps/sidecar/src/bench-features.ts). One line per case, one JSON object last:
 * nanoseconds per call (average and p99 wall time, and CPU time per call). Compare `headers_literal_*` with `headers_formatted_*`: a literal
 * value does no work beyond the copy into the header object.
 */
import { measure } from 'mitata';
import { compileRouteConfiguration } from './config-route';
import { compileListener } from './config-listener';
import { connectionFacts, selectChain, type FilterChainMatch } from './filter-chain-match';
import { applyMutations } from './header-mutation';
import { inspect } from './listener-inspector';
import { TokenBucket } from './config-local-ratelimit';
import type { FormatSource } from './header-formatter';
import type * as net from 'node:net';
import { Duplex } from 'node:stream';
import * as tls from 'node:tls';

/** The ClientHello Node's TLS client sends (SNI and ALPN), captured from a stream that goes nowhere. */
function captureClientHello(servername: string, alpn: string[]): Promise<Buffer> {
  return new Promise((resolve) => {
    const sink = new Duplex({
      read() {
        // never answers: the handshake stops after the ClientHello
      },
      write(chunk: Buffer, _enc, cb) {
        resolve(chunk);
        cb();
      },
    });
    const client = tls.connect({ socket: sink as unknown as net.Socket, servername, ALPNProtocols: alpn });
    client.on('error', () => undefined);
    setTimeout(() => client.destroy(), 100).unref();
  });
}

/** CPU nanoseconds per call over n calls (less disturbed by other load than wall time). */
function cpuNs(n: number, fn: () => unknown): number {
  for (let i = 0; i < 1000; i++) fn();
  const start = process.cpuUsage();
  for (let i = 0; i < n; i++) fn();
  const used = process.cpuUsage(start);
  return Math.round(((used.user + used.system) * 1000) / n);
}

async function main(): Promise<void> {
  const results: Record<string, { avg_ns: number; p99_ns: number; cpu_ns: number }> = {};
  const record = async (name: string, fn: () => unknown): Promise<void> => {
    const s = await measure(fn);
    const cpu = cpuNs(100_000, fn);
    results[name] = { avg_ns: Math.round(s.avg), p99_ns: Math.round(s.p99), cpu_ns: cpu };
    process.stdout.write(`${name}: ${s.avg.toFixed(1)} ns/op (p99 ${s.p99.toFixed(1)}), ${cpu} CPU ns/op\n`);
  };

  // 20 chains by server name plus catch-alls, the shape of a gateway with many hosts.
  const tcp = [{ name: 'envoy.filters.network.tcp_proxy', typed_config: { '@type': 'type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy', stat_prefix: 't', cluster: 'c' } }];
  const chains = [
    ...Array.from({ length: 20 }, (_, i) => ({ name: `h${i}`, filter_chain_match: { server_names: [`host${i}.example.com`], transport_protocol: 'tls' }, filters: tcp })),
    { name: 'wild', filter_chain_match: { server_names: ['*.example.com'] }, filters: tcp },
    { name: 'plain', filter_chain_match: { transport_protocol: 'raw_buffer' }, filters: tcp },
  ];
  const l = compileListener({ name: 'gw', address: { socket_address: { address: '0.0.0.0', port_value: 443 } }, filter_chains: chains });
  if (!l.ok) throw new Error(JSON.stringify(l.errors));
  const compiled = l.value.chains;
  const matchOf = (c: { match: FilterChainMatch }) => c.match;
  const hello = await captureClientHello('host19.example.com', ['h2', 'http/1.1']);
  const seen = inspect(hello, true, false);
  if (typeof seen === 'string' || seen.sni !== 'host19.example.com') throw new Error(`ClientHello not understood: ${JSON.stringify(seen)}`);
  await record('inspect_client_hello', () => inspect(hello, true, false));
  await record('select_chain_of_22_by_sni', () => {
    const facts = connectionFacts({ address: '10.0.0.1', port: 443 }, { address: '10.0.0.9', port: 50000 }, { transport: 'tls', sni: 'host19.example.com', alpn: ['h2'] });
    return selectChain(compiled, matchOf, facts);
  });

  const add = (key: string, value: string) => ({ header: { key, value }, append_action: 'OVERWRITE_IF_EXISTS_OR_ADD' });
  const route = (headers: object[]) => {
    const r = compileRouteConfiguration({ name: 'r', virtual_hosts: [{ name: 'v', domains: ['*'], routes: [{ match: { prefix: '/' }, route: { cluster: 'c' }, request_headers_to_add: headers }] }] });
    if (!r.ok) throw new Error(JSON.stringify(r.errors));
    return r.value.virtualHosts[0].routes[0].request;
  };
  const literal = route([add('x-a', 'one'), add('x-b', 'two'), add('x-c', 'three')]);
  const formatted = route([add('x-a', '%REQ(x-in)%'), add('x-b', '%DOWNSTREAM_REMOTE_ADDRESS%'), add('x-c', '%START_TIME%')]);
  const reqHeaders: Record<string, string> = { 'x-in': 'hello', host: 'svc' };
  const source: FormatSource = { req: { socket: { remoteAddress: '10.0.0.9', remotePort: 50000 }, httpVersion: '1.1' }, query: { header: (n) => reqHeaders[n] }, startEpochMs: Date.now(), upstreamHost: '' };
  await record('headers_literal_3', () => {
    const h: Record<string, string | string[]> = { host: 'svc' };
    applyMutations(h, literal, source);
    return h;
  });
  await record('headers_formatted_3', () => {
    const h: Record<string, string | string[]> = { host: 'svc' };
    applyMutations(h, formatted, source);
    return h;
  });

  const bucket = new TokenBucket(1e12, 1e12, 1000);
  await record('token_bucket_consume', () => bucket.consume());

  process.stdout.write(`${JSON.stringify(results)}\n`);
}

void main();
