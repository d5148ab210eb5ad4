/**
 * Conformance with Envoy: one AdsServer serves the same listeners/routes/clusters/endpoints to a real Envoy
 * (1.36, --concurrency 1) and to the sidecar (each on its own port); the same requests go through both and
 * must give the same status codes, the same backend choices (weighted within a stated band), the same
 * headers seen by the backend and the same response header effects.
 */
import { strict as assert } from 'node:assert';
import { after, before, describe, it } from 'node:test';
import { requireDep, startEnvoy, freePort, type EnvoyHandle } from '@mesh/deps';
import { AdsServer, durationFromMs, EXTENSION_TYPE_URL, httpConnectionManager, httpListener, routeConfiguration, typedConfig } from '@mesh/xds';
import { envoyBootstrap, quietLogger } from '@mesh/xds/testing';
import type { Proxy } from '../src/proxy';
import { cluster, faultFilterConfig, NODE_ID, request, snapshot, startBackend, startProxy, type Backend, type Reply, type Resources, waitFor200 } from './helpers';

const ENVOY_NODE = 'sidecar~127.0.0.2~envoy-1.default~default.svc.cluster.local';
const A = 'outbound|80||a.default.svc.cluster.local';
const B = 'outbound|80||b.default.svc.cluster.local';
const FLAKY = 'outbound|80||flaky.default.svc.cluster.local';
const EMPTY = 'outbound|80||empty.default.svc.cluster.local';

function resources(port: number, backends: { a: Backend; b: Backend; flaky: Backend }): Resources {
  const ca = cluster(A, [{ port: backends.a.port }]);
  const cb = cluster(B, [{ port: backends.b.port }]);
  const cf = cluster(FLAKY, [{ port: backends.flaky.port }]);
  const ce = cluster(EMPTY, []);
  const fault = (f: object) => ({ 'envoy.filters.http.fault': typedConfig(EXTENSION_TYPE_URL.FAULT, f) });
  const hcm = httpConnectionManager({ statPrefix: 'http', routeConfigName: 'http.conf', filters: [faultFilterConfig() as never] });
  return {
    listeners: [httpListener({ name: 'http.conf', address: '127.0.0.1', port, hcm })],
    routes: [
      routeConfiguration('http.conf', [
        {
          name: 'svc',
          domains: ['svc.local'],
          request_headers_to_add: [{ header: { key: 'x-vhost', value: 'svc' } }],
          routes: [
            { match: { path: '/exact' }, route: { cluster: B } },
            { match: { safe_regex: { regex: '/items/[0-9]+' } }, route: { cluster: B } },
            { match: { prefix: '/', headers: [{ name: 'x-canary', string_match: { exact: 'yes' } }] }, route: { cluster: B } },
            { match: { prefix: '/q', query_parameters: [{ name: 'v', string_match: { exact: '2' } }] }, route: { cluster: B } },
            { match: { prefix: '/split' }, route: { weighted_clusters: { clusters: [{ name: A, weight: { value: 75 } }, { name: B, weight: { value: 25 } }] } } },
            { match: { prefix: '/old/' }, route: { cluster: A, prefix_rewrite: '/new/', host_rewrite_literal: 'rewritten.local' } },
            {
              match: { prefix: '/headers' },
              route: { cluster: A },
              request_headers_to_add: [{ header: { key: 'x-added', value: 'yes' } }, { header: { key: 'x-multi', value: 'two' }, append_action: 'OVERWRITE_IF_EXISTS_OR_ADD' }],
              request_headers_to_remove: ['x-secret'],
              response_headers_to_add: [{ header: { key: 'x-resp', value: 'r' } }],
              response_headers_to_remove: ['x-backend'],
            },
            { match: { path: '/direct' }, direct_response: { status: 418, body: { inline_string: 'teapot' } } },
            { match: { prefix: '/go' }, redirect: { host_redirect: 'elsewhere.local', path_redirect: '/landed', response_code: 'FOUND' } },
            { match: { prefix: '/https' }, redirect: { https_redirect: true } },
            { match: { prefix: '/empty' }, route: { cluster: EMPTY } },
            { match: { prefix: '/timeout' }, route: { cluster: FLAKY, timeout: durationFromMs(200) } },
            { match: { prefix: '/retry' }, route: { cluster: FLAKY, retry_policy: { retry_on: '5xx', num_retries: { value: 2 } } } },
            { match: { prefix: '/fail' }, route: { cluster: FLAKY } },
            { match: { prefix: '/abort' }, route: { cluster: A }, typed_per_filter_config: fault({ abort: { http_status: 429, percentage: { numerator: 100, denominator: 'HUNDRED' } } }) },
            { match: { prefix: '/' }, route: { cluster: A } },
          ],
        } as never,
      ]),
    ],
    clusters: [ca.cluster, cb.cluster, cf.cluster, ce.cluster],
    endpoints: [ca.endpoints, cb.endpoints, cf.endpoints, ce.endpoints],
  };
}

/** What we compare: status, which backend, what the backend saw, and response header effects. */
function observe(r: Reply): Record<string, unknown> {
  const out: Record<string, unknown> = { status: r.status, backend: r.headers['x-backend'] ?? null, resp: r.headers['x-resp'] ?? null, location: r.headers.location ?? null };
  if (r.status >= 300 && r.headers['x-backend'] === undefined && !r.headers['content-type']?.includes('json')) out.body = r.body;
  if (r.status === 200 && r.body === '') out['has-content-length'] = r.headers['content-length'] !== undefined;
  if (r.headers['content-type']?.includes('application/json') && r.body !== '') {
    const seen = JSON.parse(r.body) as { url: string; headers: Record<string, string> };
    out.url = seen.url;
    for (const k of ['host', 'x-added', 'x-multi', 'x-secret', 'x-vhost', 'x-forwarded-proto', 'x-envoy-original-path', 'traceparent', 'x-b3-traceid']) out[`seen:${k}`] = seen.headers[k] ?? null;
    out['seen:x-request-id-set'] = typeof seen.headers['x-request-id'] === 'string';
  }
  return out;
}

describe('conformance with Envoy', () => {
  let a: Backend;
  let b: Backend;
  let flaky: Backend;
  let ads: AdsServer;
  let bound: { port: number; close(): Promise<void> } | undefined;
  let envoy: EnvoyHandle | undefined;
  let proxy: Proxy | undefined;
  let envoyPort = 0;
  let sidecarPort = 0;
  let failures = 0;
  let skip = false;

  before(async (t) => {
    if (!requireDep(t as never, 'envoy')) {
      skip = true;
      return;
    }
    a = await startBackend('a');
    b = await startBackend('b');
    flaky = await startBackend('flaky');
    flaky.handler = (req, res) => {
      if (req.url?.startsWith('/timeout')) {
        const timer = setTimeout(() => res.writeHead(200, { 'x-backend': 'flaky' }).end('late'), 1000);
        res.once('close', () => clearTimeout(timer));
        return;
      }
      if (req.url?.startsWith('/fail') || failures > 0) {
        if (failures > 0) failures--;
        res.writeHead(503, { 'x-backend': 'flaky', 'content-type': 'text/plain' }).end('flaky fail');
        return;
      }
      res.writeHead(200, { 'x-backend': 'flaky', 'content-type': 'text/plain' }).end('flaky ok');
    };
    envoyPort = await freePort();
    sidecarPort = await freePort();
    ads = new AdsServer({ logger: quietLogger() });
    ads.setSnapshot(ENVOY_NODE, snapshot(resources(envoyPort, { a, b, flaky })));
    ads.setSnapshot(NODE_ID, snapshot(resources(sidecarPort, { a, b, flaky })));
    bound = await ads.listen('127.0.0.1:0');
    envoy = await startEnvoy({ config: envoyBootstrap({ nodeId: ENVOY_NODE, xdsPort: bound.port }), concurrency: 1 });
    proxy = await startProxy({ xdsTarget: `127.0.0.1:${bound.port}`, logName: 'conformance' });
    for (const port of [envoyPort, sidecarPort]) {
      await waitFor200(port, { path: '/exact', host: 'svc.local' });
    }
  });

  after(async () => {
    await proxy?.stop();
    await envoy?.stop();
    await bound?.close();
    await a?.close();
    await b?.close();
    await flaky?.close();
  });

  const cases: { name: string; path: string; method?: string; headers?: Record<string, string>; host?: string; before?: () => void }[] = [
    { name: 'default route', path: '/anything' },
    { name: 'exact path', path: '/exact' },
    { name: 'exact path does not match a longer path', path: '/exact/more' },
    { name: 'safe_regex', path: '/items/42' },
    { name: 'safe_regex must match the whole path', path: '/items/42x' },
    { name: 'header match', path: '/x', headers: { 'x-canary': 'yes' } },
    { name: 'query match', path: '/q?v=2' },
    { name: 'query mismatch', path: '/q?v=3' },
    { name: 'unknown authority (404 NR)', path: '/', host: 'nobody.local' },
    { name: 'prefix and host rewrite', path: '/old/thing?x=1' },
    { name: 'header add/remove/overwrite', path: '/headers', headers: { 'x-secret': 's', 'x-multi': 'one' } },
    { name: 'trace headers pass through', path: '/t', headers: { traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01', 'x-b3-traceid': '80f198ee56343ba864fe8b2a57d3eff7' } },
    { name: 'direct response', path: '/direct' },
    { name: 'redirect', path: '/go/away?k=v' },
    { name: 'https redirect', path: '/https/x' },
    { name: 'no healthy upstream (503 UH)', path: '/empty' },
    { name: 'route timeout (504 UT)', path: '/timeout' },
    { name: 'upstream 503 passes through', path: '/fail' },
    { name: 'retry on 5xx succeeds', path: '/retry', before: () => (failures = 2) },
    { name: 'fault abort', path: '/abort' },
    { name: 'HEAD request', path: '/anything', method: 'HEAD' },
    { name: 'POST with body', path: '/post', method: 'POST', headers: { 'content-type': 'text/plain' } },
  ];

  for (const c of cases) {
    it(`same behaviour: ${c.name}`, async (t) => {
      if (skip) return t.skip('envoy not installed');
      const opts = { path: c.path, method: c.method, headers: c.headers, host: c.host ?? 'svc.local', body: c.method === 'POST' ? 'hello' : undefined };
      c.before?.();
      const viaEnvoy = observe(await request(envoyPort, opts));
      c.before?.();
      const viaSidecar = observe(await request(sidecarPort, opts));
      assert.deepEqual(viaSidecar, viaEnvoy);
    });
  }

  it('same weighted split (75/25, each within 10 points over 300 requests)', async (t) => {
    if (skip) return t.skip('envoy not installed');
    const share = async (port: number): Promise<number> => {
      let toA = 0;
      for (let i = 0; i < 300; i++) if ((await request(port, { path: '/split', host: 'svc.local' })).headers['x-backend'] === 'a') toA++;
      return toA / 300;
    };
    const e = await share(envoyPort);
    const s = await share(sidecarPort);
    assert.ok(Math.abs(e - 0.75) < 0.1, `envoy ${e}`);
    assert.ok(Math.abs(s - 0.75) < 0.1, `sidecar ${s}`);
  });
});
