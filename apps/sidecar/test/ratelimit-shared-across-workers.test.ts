/**
 * --concurrency 2 (the built binary, two node:cluster workers): one local rate limit token bucket per
 * config for the whole process, as Envoy shares it across its worker threads. A route allowing 10 requests
 * per hour admits exactly 10 of 40 requests on fresh connections although both workers serve some (with a
 * bucket per worker it would admit 20); a TCP listener allowing 10 connections per hour lets exactly 10 of 40
 * through and closes the rest. The 429, its header, the stats and the RL flag are as with one worker.
 * If the primary was ever slow to answer (local_rate_limit.shared_bucket.timeouts > 0, a loaded machine),
 * the stated bound applies instead: at most 10 + the requests decided by a worker's own share.
 */
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as net from 'node:net';
import { after, before, describe, it } from 'node:test';
import { AdsServer, clusterRoute, httpConnectionManager, httpListener, routeConfiguration, socketListener, tcpProxyFilter, typedConfig } from '@mesh/xds';
import { quietLogger } from '@mesh/xds/testing';
import { BUILT_SIDECAR, cluster, NODE_ID, request, snapshot, startBackend, startBuiltSidecar, statsMap, tcpReceive, type Backend, type BuiltSidecar } from './helpers';

/** 'data' when the TCP backend's greeting arrived, 'closed' when the proxy closed the connection first. */
const tcpTry = async (port: number): Promise<'data' | 'closed'> => ((await tcpReceive(port)).includes('tcp-backend') ? 'data' : 'closed');

const WEB = 'outbound|80||web.default.svc.cluster.local';
const TCP = 'outbound|81||tcp.default.svc.cluster.local';
const HTTP_RL = 'type.googleapis.com/envoy.extensions.filters.http.local_ratelimit.v3.LocalRateLimit';
const NET_RL = 'type.googleapis.com/envoy.extensions.filters.network.local_ratelimit.v3.LocalRateLimit';
const ALL = { runtime_key: 'rl_on', default_value: { numerator: 100, denominator: 'HUNDRED' } };
/** 10 tokens, one more per hour: no token comes back during the test */
const BUCKET = { max_tokens: 10, tokens_per_fill: { value: 1 }, fill_interval: { seconds: '3600', nanos: 0 } };
const SENT = 40;

describe('local rate limit shared by --concurrency workers', () => {
  let backend: Backend;
  let tcpBackend: net.Server;
  let ads: AdsServer;
  let bound: { port: number; close(): Promise<void> };
  let sidecar: BuiltSidecar | undefined;
  const stderr = (): string => sidecar?.stderr() ?? '';
  let adminPort = 0;
  const ports = { http: 0, tcp: 0 };
  const stats = async (): Promise<Map<string, number>> => statsMap((await request(adminPort, { path: '/stats' })).body);

  before(async () => {
    assert.ok(fs.existsSync(BUILT_SIDECAR), `build first: node tools/build-app.mjs apps/sidecar (${BUILT_SIDECAR})`);
    backend = await startBackend('web');
    tcpBackend = net.createServer((s) => {
      s.on('error', () => undefined);
      s.end('tcp-backend');
    });
    await new Promise<void>((resolve) => tcpBackend.listen(0, '127.0.0.1', resolve));
    const web = cluster(WEB, [{ port: backend.port }]);
    const tcp = cluster(TCP, [{ port: (tcpBackend.address() as net.AddressInfo).port }]);
    // The listener's filter has no bucket and is not enabled: only the route /limited is limited.
    const rlFilter = { name: 'envoy.filters.http.local_ratelimit', typed_config: typedConfig(HTTP_RL, { stat_prefix: 'listener_rl' }) };
    const hcm = httpConnectionManager({ statPrefix: 'in', routeConfigName: 'rl.routes', filters: [rlFilter as never] });
    const limited = {
      match: { prefix: '/limited' },
      route: { cluster: WEB },
      typed_per_filter_config: {
        'envoy.filters.http.local_ratelimit': typedConfig(HTTP_RL, { stat_prefix: 'route_rl', token_bucket: BUCKET, filter_enabled: ALL, filter_enforced: ALL, response_headers_to_add: [{ header: { key: 'x-rl', value: 'route' } }] }),
      },
    };
    const tcpChain = {
      filters: [
        { name: 'envoy.filters.network.local_ratelimit', typed_config: typedConfig(NET_RL, { stat_prefix: 'tcp_rl', token_bucket: BUCKET }) },
        tcpProxyFilter({ stat_prefix: 'tcp', cluster: TCP } as never),
      ],
    };
    ads = new AdsServer({ logger: quietLogger() });
    ads.setSnapshot(NODE_ID, snapshot({
      listeners: [httpListener({ name: 'rl-http', address: '127.0.0.1', port: 0, hcm }), socketListener({ name: 'rl-tcp', address: '127.0.0.1', port: 0, filterChains: [tcpChain as never] })],
      routes: [routeConfiguration('rl.routes', [{ name: 'all', domains: ['*'], routes: [limited as never, clusterRoute('/', WEB)] }])],
      clusters: [web.cluster, tcp.cluster],
      endpoints: [web.endpoints, tcp.endpoints],
    }));
    bound = await ads.listen('127.0.0.1:0');
    sidecar = await startBuiltSidecar(bound.port, 2, ['--log-level', 'debug']);
    adminPort = sidecar.adminPort;
    for (let i = 0; i < 200 && (ports.http === 0 || ports.tcp === 0); i++) {
      const l = JSON.parse((await request(adminPort, { path: '/listeners?format=json' })).body) as { listener_statuses: { name: string; local_address: { socket_address: { port_value: number } } }[] };
      for (const s of l.listener_statuses) {
        if (s.name === 'rl-http') ports.http = s.local_address.socket_address.port_value;
        if (s.name === 'rl-tcp') ports.tcp = s.local_address.socket_address.port_value;
      }
      if (ports.http === 0 || ports.tcp === 0) await new Promise((r) => setTimeout(r, 50));
    }
    assert.ok(ports.http > 0 && ports.tcp > 0, 'listeners bound');
    // The second worker may bind the shared listeners a little later: unlimited requests until both served.
    let w0 = 0;
    let w1 = 0;
    for (let i = 0; i < 200 && (w0 === 0 || w1 === 0); i++) {
      assert.equal((await request(ports.http, { path: `/free${i}` })).status, 200);
      const s = await stats();
      w0 = s.get('http.downstream.worker_0.downstream_rq_total') ?? 0;
      w1 = s.get('http.downstream.worker_1.downstream_rq_total') ?? 0;
    }
    assert.ok(w0 > 0 && w1 > 0, `both workers serve the HTTP listener (worker 0: ${w0}, worker 1: ${w1})`);
    // The TCP listener came in the same LDS update, so both workers have it by now.
  });

  after(async () => {
    await sidecar?.stop();
    await bound?.close();
    await backend?.close();
    await new Promise((r) => tcpBackend?.close(r));
  });

  /** The stated bound: exactly `max` when the primary always answered in time, else at most max + the worker-share admissions. */
  function assertAdmitted(admitted: number, s: Map<string, number>, what: string): void {
    const timeouts = s.get('local_rate_limit.shared_bucket.timeouts') ?? 0;
    const asks = s.get('local_rate_limit.shared_bucket.asks') ?? 0;
    const fallbackOk = s.get('local_rate_limit.shared_bucket.fallback_ok') ?? 0;
    if (timeouts === 0) assert.equal(admitted, 10, `${what}: exactly max_tokens admitted over both workers`);
    else {
      assert.ok(timeouts < asks, `${what}: the primary answered some asks (asks ${asks}, timeouts ${timeouts})`);
      assert.ok(admitted <= 10 + fallbackOk, `${what}: ${admitted} admitted, bound 10 + ${fallbackOk} decided alone`);
    }
    assert.ok(asks > 0, `${what}: the workers asked the primary (asks ${asks})`);
  }

  it('admits max_tokens requests over both workers, not max_tokens per worker', async () => {
    const before = await stats();
    const statuses: number[] = [];
    const rl: (string | undefined)[] = [];
    // 4 rounds of 10 concurrent requests, each on its own connection (handed to the workers in turn)
    for (let round = 0; round < SENT / 10; round++) {
      const replies = await Promise.all(Array.from({ length: 10 }, (_, i) => request(ports.http, { path: `/limited/${round}-${i}` })));
      for (const r of replies) {
        statuses.push(r.status);
        if (r.status === 429) {
          rl.push(r.headers['x-rl'] as string | undefined);
          assert.equal(r.body, 'local_rate_limited');
        }
      }
    }
    const s = await stats();
    const served = [0, 1].map((w) => (s.get(`http.downstream.worker_${w}.downstream_rq_total`) ?? 0) - (before.get(`http.downstream.worker_${w}.downstream_rq_total`) ?? 0));
    assert.ok(served[0] > 0 && served[1] > 0, `both workers served limited requests (${served.join(', ')})`);
    assert.equal(served[0] + served[1], SENT);
    const ok = statuses.filter((x) => x === 200).length;
    const limitedCount = statuses.filter((x) => x === 429).length;
    assert.equal(ok + limitedCount, SENT, `only 200 and 429 (${statuses.join(',')})`);
    assertAdmitted(ok, s, 'HTTP');
    assert.ok(rl.every((h) => h === 'route'), 'response_headers_to_add on every 429');
    assert.equal(s.get('route_rl.http_local_rate_limit.enabled'), SENT);
    assert.equal(s.get('route_rl.http_local_rate_limit.ok'), ok);
    assert.equal(s.get('route_rl.http_local_rate_limit.rate_limited'), limitedCount);
    assert.equal(s.get('route_rl.http_local_rate_limit.enforced'), limitedCount);
    const prom = (await request(adminPort, { path: '/stats/prometheus' })).body;
    const rlSamples = prom.split('\n').filter((l) => l.startsWith('istio_requests_total{') && l.includes('response_code="429"') && l.includes('response_flags="RL"'));
    assert.equal(rlSamples.reduce((n, l) => n + Number(l.slice(l.lastIndexOf(' ') + 1)), 0), limitedCount, 'RL flag on every limited request');
  });

  it('lets max_tokens connections through over both workers and closes the rest', async () => {
    const results: string[] = [];
    for (let round = 0; round < SENT / 10; round++) results.push(...(await Promise.all(Array.from({ length: 10 }, () => tcpTry(ports.tcp)))));
    const through = results.filter((r) => r === 'data').length;
    const s = await stats();
    assert.equal(s.get('local_rate_limit.tcp_rl.rate_limited'), SENT - through);
    assertAdmitted(through, s, 'TCP');
    // closed connections logged by each worker (debug): both workers took part
    const closedBy = (w: number) => (stderr().match(new RegExp(`"msg":"connection rate limited; closed"[^\\n]*"worker":${w}\\b|"worker":${w}\\b[^\\n]*"msg":"connection rate limited; closed"`, 'g')) ?? []).length;
    assert.ok(closedBy(0) > 0 && closedBy(1) > 0, `both workers closed connections (worker 0: ${closedBy(0)}, worker 1: ${closedBy(1)})`);
  });
});
