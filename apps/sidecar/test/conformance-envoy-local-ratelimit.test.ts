/**
 * Conformance with Envoy for local rate limiting with tiny token buckets (refill once a minute, so no
 * token comes back during the test): the same xDS to a real Envoy and to the sidecar, the same request
 * sequence to each, and the same answers: the listener's bucket shared by routes without their own, a
 * route's typed_per_filter_config bucket, a limit that is counted but not enforced (the request goes on
 * with request_headers_to_add_when_not_enforced), the 429 local reply and its headers, and the network
 * filter closing the TCP connection that finds no token. The sidecar's stats and Istio metrics carry the
 * counts and the RL response flag.
 */
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { requireDep, startEnvoy, freePort, type EnvoyHandle } from '@mesh/deps';
import { AdsServer, httpConnectionManager, httpListener, routeConfiguration, socketListener, tcpProxyFilter, typedConfig } from '@mesh/xds';
import { envoyBootstrap, quietLogger } from '@mesh/xds/testing';
import type { Proxy } from '../src/proxy';
import { cluster, NODE_ID, request, snapshot, startBackend, startProxy, tcpReceive, waitUntil, type Backend, type Reply, type Resources } from './helpers';

/** What a TCP connection through the proxy received ('closed' when the proxy closed it first). */
const tcpName = async (port: number): Promise<string> => (await tcpReceive(port)) || 'closed';

const ENVOY_NODE = 'sidecar~127.0.0.2~envoy-rl.default~default.svc.cluster.local';
const A = 'outbound|80||a.default.svc.cluster.local';
const T = 'outbound|81||t.default.svc.cluster.local';
const HTTP_RL = 'type.googleapis.com/envoy.extensions.filters.http.local_ratelimit.v3.LocalRateLimit';
const NET_RL = 'type.googleapis.com/envoy.extensions.filters.network.local_ratelimit.v3.LocalRateLimit';
const ALL = { runtime_key: 'rl_on', default_value: { numerator: 100, denominator: 'HUNDRED' } };
const NONE = { runtime_key: 'rl_off', default_value: { numerator: 0, denominator: 'HUNDRED' } };
const bucket = (max: number) => ({ max_tokens: max, tokens_per_fill: { value: 1 }, fill_interval: { seconds: '60', nanos: 0 } });

function resources(httpPort: number, tcpPort: number, a: Backend, tcpBackend: number): Resources {
  const rlFilter = {
    name: 'envoy.filters.http.local_ratelimit',
    typed_config: typedConfig(HTTP_RL, {
      stat_prefix: 'listener_rl',
      token_bucket: bucket(2),
      filter_enabled: ALL,
      filter_enforced: ALL,
      response_headers_to_add: [{ header: { key: 'x-rl', value: 'listener' } }],
    }),
  };
  const hcm = httpConnectionManager({ statPrefix: 'rl', routeConfigName: 'rl.routes', filters: [rlFilter as never] });
  const perRoute = (o: object) => ({ 'envoy.filters.http.local_ratelimit': typedConfig(HTTP_RL, o) });
  const ca = cluster(A, [{ port: a.port }]);
  const ct = cluster(T, [{ port: tcpBackend }]);
  const tcpChain = {
    filters: [
      { name: 'envoy.filters.network.local_ratelimit', typed_config: typedConfig(NET_RL, { stat_prefix: 'tcp_rl', token_bucket: bucket(1) }) },
      tcpProxyFilter({ stat_prefix: 'tcp', cluster: T } as never),
    ],
  };
  return {
    listeners: [httpListener({ name: 'rl', address: '127.0.0.1', port: httpPort, hcm }), socketListener({ name: 'rl-tcp', address: '127.0.0.1', port: tcpPort, filterChains: [tcpChain as never] })],
    routes: [
      routeConfiguration('rl.routes', [
        {
          name: 'svc',
          domains: ['*'],
          routes: [
            {
              match: { prefix: '/route' },
              route: { cluster: A },
              typed_per_filter_config: perRoute({ stat_prefix: 'route_rl', token_bucket: bucket(1), filter_enabled: ALL, filter_enforced: ALL, status: { code: 'ServiceUnavailable' } }),
            },
            {
              match: { prefix: '/shadow' },
              route: { cluster: A },
              typed_per_filter_config: perRoute({
                stat_prefix: 'shadow_rl',
                token_bucket: bucket(1),
                filter_enabled: ALL,
                filter_enforced: NONE,
                request_headers_to_add_when_not_enforced: [{ header: { key: 'x-not-enforced', value: 'yes' } }],
              }),
            },
            { match: { prefix: '/' }, route: { cluster: A } },
          ],
        } as never,
      ]),
    ],
    clusters: [ca.cluster, ct.cluster],
    endpoints: [ca.endpoints, ct.endpoints],
  };
}

function observe(r: Reply): Record<string, unknown> {
  const seen = r.headers['content-type']?.includes('json') ? (JSON.parse(r.body) as { headers: Record<string, string> }).headers : undefined;
  return {
    status: r.status,
    body: seen ? 'backend' : r.body,
    ratelimited: r.headers['x-envoy-ratelimited'] ?? null,
    'x-rl': r.headers['x-rl'] ?? null,
    'content-type': seen ? 'json' : r.headers['content-type'] ?? null,
    'seen:x-not-enforced': seen?.['x-not-enforced'] ?? null,
  };
}

describe('conformance with Envoy: local rate limit', () => {
  let a: Backend;
  let tcpBackend: net.Server | undefined;
  let ads: AdsServer | undefined;
  let bound: { port: number; close(): Promise<void> } | undefined;
  let envoy: EnvoyHandle | undefined;
  let proxy: Proxy | undefined;
  const ports = { envoy: { http: 0, tcp: 0 }, sidecar: { http: 0, tcp: 0 } };
  let skip = false;
  const logDir = fs.mkdtempSync(path.join(os.tmpdir(), 'mesh-rl-'));
  const accessLog = path.join(logDir, 'access.log');

  before(async (t) => {
    if (!requireDep(t as never, 'envoy')) {
      skip = true;
      return;
    }
    a = await startBackend('a');
    tcpBackend = net.createServer((s) => {
      s.on('error', () => undefined);
      s.end('tcp-backend');
    });
    await new Promise<void>((resolve) => tcpBackend?.listen(0, '127.0.0.1', resolve));
    const tcpPort = (tcpBackend.address() as net.AddressInfo).port;
    for (const who of ['envoy', 'sidecar'] as const) ports[who] = { http: await freePort(), tcp: await freePort() };
    ads = new AdsServer({ logger: quietLogger() });
    ads.setSnapshot(ENVOY_NODE, snapshot(resources(ports.envoy.http, ports.envoy.tcp, a, tcpPort)));
    ads.setSnapshot(NODE_ID, snapshot(resources(ports.sidecar.http, ports.sidecar.tcp, a, tcpPort)));
    bound = await ads.listen('127.0.0.1:0');
    envoy = await startEnvoy({ config: envoyBootstrap({ nodeId: ENVOY_NODE, xdsPort: bound.port }), concurrency: 1 });
    proxy = await startProxy({ xdsTarget: `127.0.0.1:${bound.port}`, logName: 'conformance-rl', accessLogPath: accessLog, admin: true });
    // Ready without spending tokens: the HTTP listeners accept connections, the TCP ones are listed as bound.
    let envoyTcp = false;
    await waitUntil('envoy tcp listener', () => {
      void fetch(`${envoy?.adminUrl}/listeners?format=json`).then((r) => r.text()).then((t) => (envoyTcp = t.includes('rl-tcp')), () => undefined);
      return envoyTcp;
    }, 30_000);
    await waitUntil('sidecar tcp listener', () => proxy?.listeners.port('rl-tcp') !== undefined, 30_000);
    for (const who of ['envoy', 'sidecar'] as const) {
      for (const port of [ports[who].http]) {
        let up = false;
        await waitUntil(`${who} listener ${port}`, () => {
          const s = net.connect({ host: '127.0.0.1', port });
          s.on('error', () => undefined);
          s.once('connect', () => {
            up = true;
            s.destroy();
          });
          return up;
        }, 30_000);
      }
    }
  });

  after(async () => {
    await proxy?.stop();
    await envoy?.stop();
    await bound?.close();
    await a?.close();
    tcpBackend?.close();
    fs.rmSync(logDir, { recursive: true, force: true });
  });

  it('the same answers to the same sequence (listener bucket of 2, route bucket of 1, not-enforced bucket of 1)', async (t) => {
    if (skip) return t.skip('envoy not installed');
    const sequence = ['/a', '/b', '/c', '/route', '/route', '/shadow', '/shadow'];
    const run = async (port: number) => {
      const out: Record<string, unknown>[] = [];
      for (const path of sequence) out.push({ path, ...observe(await request(port, { path, host: 'svc.local' })) });
      return out;
    };
    const viaEnvoy = await run(ports.envoy.http);
    const viaSidecar = await run(ports.sidecar.http);
    assert.deepEqual(viaEnvoy.map((r) => r.status), [200, 200, 429, 200, 503, 200, 200], 'Envoy answered otherwise than this test expects');
    assert.deepEqual(viaSidecar, viaEnvoy);
  });

  it('the network filter passes the connection with a token and closes the next one', async (t) => {
    if (skip) return t.skip('envoy not installed');
    const viaEnvoy = [await tcpName(ports.envoy.tcp), await tcpName(ports.envoy.tcp)];
    const viaSidecar = [await tcpName(ports.sidecar.tcp), await tcpName(ports.sidecar.tcp)];
    assert.deepEqual(viaEnvoy, ['tcp-backend', 'closed'], 'Envoy answered otherwise than this test expects');
    assert.deepEqual(viaSidecar, viaEnvoy);
  });

  it('the sidecar counts like Envoy and flags RL in Istio metrics', async (t) => {
    if (skip || !proxy || !envoy) return t.skip('envoy not installed');
    const names = ['listener_rl.http_local_rate_limit.enabled', 'listener_rl.http_local_rate_limit.ok', 'listener_rl.http_local_rate_limit.rate_limited', 'listener_rl.http_local_rate_limit.enforced', 'route_rl.http_local_rate_limit.enforced', 'shadow_rl.http_local_rate_limit.rate_limited', 'shadow_rl.http_local_rate_limit.enforced', 'local_rate_limit.tcp_rl.rate_limited'];
    const read = async (url: string) => {
      const text = await fetch(url).then((r) => r.text());
      const m = new Map<string, number>();
      for (const line of text.split('\n')) {
        const i = line.lastIndexOf(': ');
        if (i > 0) m.set(line.slice(0, i), Number(line.slice(i + 2)));
      }
      return names.map((n) => [n, m.get(n) ?? null]);
    };
    const fromEnvoy = await read(`${envoy.adminUrl}/stats`);
    const fromSidecar = await read(`http://127.0.0.1:${proxy.adminPort}/stats`);
    assert.deepEqual(fromEnvoy.map(([, v]) => v), [3, 2, 1, 1, 1, 1, 0, 1], `Envoy counted otherwise: ${JSON.stringify(fromEnvoy)}`);
    assert.deepEqual(fromSidecar, fromEnvoy);
    // /stats?filter=<regex>, as Envoy filters stat names
    const filtered = async (base: string) => (await fetch(`${base}/stats?filter=${encodeURIComponent('^route_rl\\.')}`).then((r) => r.text())).split('\n').filter(Boolean).sort();
    const envoyRoute = await filtered(envoy.adminUrl);
    assert.ok(envoyRoute.includes('route_rl.http_local_rate_limit.enforced: 1'), envoyRoute.join('; '));
    assert.deepEqual(await filtered(`http://127.0.0.1:${proxy.adminPort}`), envoyRoute);
    const prom = await fetch(`http://127.0.0.1:${proxy.adminPort}/stats/prometheus`).then((r) => r.text());
    assert.match(prom, /istio_requests_total\{[^}]*response_code="429"[^}]*response_flags="RL"[^}]*\} 1/);
    assert.match(prom, /istio_requests_total\{[^}]*response_code="503"[^}]*response_flags="RL"[^}]*\} 1/);
    let limited: { response_code?: number; response_flags?: string; path?: string }[] = [];
    await waitUntil('access log lines', () => {
      const lines = fs.existsSync(accessLog) ? fs.readFileSync(accessLog, 'utf8').split('\n').filter(Boolean) : [];
      limited = lines.map((l) => JSON.parse(l) as { response_code?: number; response_flags?: string; path?: string }).filter((r) => r.response_flags === 'RL');
      return limited.length >= 2;
    });
    assert.deepEqual(limited.map((r) => r.response_code).sort(), [429, 503], 'the access log flags both limited requests RL');
  });
});
