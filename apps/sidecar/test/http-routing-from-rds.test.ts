/**
 * HTTP/1.1 through the sidecar with config from a real AdsServer: virtual host by authority, route match
 * on prefix / exact path / safe_regex / headers / query, weighted clusters, rewrites, header edits, direct
 * responses, redirects, and Envoy's local replies for no route (404 NR) and no healthy upstream (503 UH).
 */
import { strict as assert } from 'node:assert';
import { after, before, describe, it } from 'node:test';
import { routeConfiguration } from '@mesh/xds';
import { cluster, listener, request, startBackend, startHarness, type Backend, type Harness } from './helpers';

describe('http routing from RDS', () => {
  let a: Backend;
  let b: Backend;
  let h: Harness;
  let port = 0;

  before(async () => {
    a = await startBackend('a');
    b = await startBackend('b');
    const ca = cluster('outbound|80||a.default.svc.cluster.local', [{ port: a.port }]);
    const cb = cluster('outbound|80||b.default.svc.cluster.local', [{ port: b.port }]);
    const empty = cluster('outbound|80||empty.default.svc.cluster.local', []);
    const A = 'outbound|80||a.default.svc.cluster.local';
    const B = 'outbound|80||b.default.svc.cluster.local';
    const routes = routeConfiguration('http.80', [
      {
        name: 'svc',
        domains: ['svc.local', 'svc.local:80'],
        request_headers_to_add: [{ header: { key: 'x-vhost', value: 'svc' } }],
        routes: [
          { name: 'exact', match: { path: '/exact' }, route: { cluster: B } },
          { name: 'regex', match: { safe_regex: { regex: '/items/[0-9]+' } }, route: { cluster: B } },
          { name: 'hdr', match: { prefix: '/', headers: [{ name: 'x-canary', string_match: { exact: 'yes' } }] }, route: { cluster: B } },
          { name: 'query', match: { prefix: '/q', query_parameters: [{ name: 'v', string_match: { exact: '2' } }] }, route: { cluster: B } },
          { name: 'split', match: { prefix: '/split' }, route: { weighted_clusters: { clusters: [{ name: A, weight: { value: 80 } }, { name: B, weight: { value: 20 } }] } } },
          { name: 'rewrite', match: { prefix: '/old/' }, route: { cluster: A, prefix_rewrite: '/new/', host_rewrite_literal: 'rewritten.local' } },
          {
            name: 'headers',
            match: { prefix: '/headers' },
            route: { cluster: A },
            request_headers_to_add: [{ header: { key: 'x-added', value: 'yes' } }],
            request_headers_to_remove: ['x-secret'],
            response_headers_to_add: [{ header: { key: 'x-resp', value: 'r' } }],
            response_headers_to_remove: ['x-backend'],
          },
          { name: 'direct', match: { path: '/direct' }, direct_response: { status: 418, body: { inline_string: 'teapot' } } },
          { name: 'redirect', match: { prefix: '/go' }, redirect: { host_redirect: 'elsewhere.local', path_redirect: '/landed', response_code: 'FOUND' } },
          { name: 'empty', match: { prefix: '/empty' }, route: { cluster: 'outbound|80||empty.default.svc.cluster.local' } },
          { name: 'default', match: { prefix: '/' }, route: { cluster: A } },
        ],
      } as never,
      { name: 'wild', domains: ['*.wild.local'], routes: [{ match: { prefix: '/' }, route: { cluster: B } }] },
    ]);
    h = await startHarness({
      listeners: [listener('http.80', 'http.80')],
      routes: [routes],
      clusters: [ca.cluster, cb.cluster, empty.cluster],
      endpoints: [ca.endpoints, cb.endpoints, empty.endpoints],
    });
    port = h.port('http.80');
  });

  after(async () => {
    await h?.stop();
    await a?.close();
    await b?.close();
  });

  it('sends the default route to a, exact path and regex to b', async () => {
    assert.equal((await request(port, { path: '/anything' })).headers['x-backend'], 'a');
    assert.equal((await request(port, { path: '/exact' })).headers['x-backend'], 'b');
    assert.equal((await request(port, { path: '/exact/more' })).headers['x-backend'], 'a');
    assert.equal((await request(port, { path: '/items/42' })).headers['x-backend'], 'b');
    assert.equal((await request(port, { path: '/items/x42' })).headers['x-backend'], 'a');
  });

  it('matches headers and query parameters', async () => {
    assert.equal((await request(port, { path: '/x', headers: { 'x-canary': 'yes' } })).headers['x-backend'], 'b');
    assert.equal((await request(port, { path: '/x', headers: { 'x-canary': 'no' } })).headers['x-backend'], 'a');
    assert.equal((await request(port, { path: '/q?v=2' })).headers['x-backend'], 'b');
    assert.equal((await request(port, { path: '/q?v=3' })).headers['x-backend'], 'a');
  });

  it('picks the virtual host by authority, wildcard suffix included', async () => {
    assert.equal((await request(port, { path: '/', host: 'x.wild.local' })).headers['x-backend'], 'b');
    const none = await request(port, { path: '/', host: 'nobody.local' });
    assert.equal(none.status, 404);
  });

  it('splits 80/20 across weighted clusters (within a band over 400 requests)', async () => {
    let toA = 0;
    const n = 400;
    for (let i = 0; i < n; i++) if ((await request(port, { path: '/split' })).headers['x-backend'] === 'a') toA++;
    assert.ok(toA > n * 0.7 && toA < n * 0.9, `a got ${toA} of ${n}`);
  });

  it('rewrites the prefix and the host, and keeps the original path in x-envoy-original-path', async () => {
    const r = await request(port, { path: '/old/thing?x=1' });
    const seen = JSON.parse(r.body) as { url: string; headers: Record<string, string> };
    assert.equal(seen.url, '/new/thing?x=1');
    assert.equal(seen.headers.host, 'rewritten.local');
    assert.equal(seen.headers['x-envoy-original-path'], '/old/thing?x=1');
  });

  it('adds and removes request and response headers (route and virtual host)', async () => {
    const r = await request(port, { path: '/headers', headers: { 'x-secret': 's' } });
    const seen = JSON.parse(r.body) as { headers: Record<string, string> };
    assert.equal(seen.headers['x-added'], 'yes');
    assert.equal(seen.headers['x-vhost'], 'svc');
    assert.equal(seen.headers['x-secret'], undefined);
    assert.equal(r.headers['x-resp'], 'r');
    assert.equal(r.headers['x-backend'], undefined);
  });

  it('sets x-request-id and x-forwarded-proto and passes trace headers through', async () => {
    const trace = { traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01', 'x-b3-traceid': '80f198ee56343ba864fe8b2a57d3eff7', 'x-b3-spanid': 'e457b5a2e4d86bd1', 'x-b3-sampled': '1' };
    const r = await request(port, { path: '/t', headers: trace });
    const seen = JSON.parse(r.body) as { headers: Record<string, string> };
    assert.match(seen.headers['x-request-id'] ?? '', /^[0-9a-f-]{36}$/);
    assert.equal(seen.headers['x-forwarded-proto'], 'http');
    for (const [k, v] of Object.entries(trace)) assert.equal(seen.headers[k], v);
    const kept = JSON.parse((await request(port, { path: '/t', headers: { 'x-request-id': 'mine' } })).body) as { headers: Record<string, string> };
    assert.equal(kept.headers['x-request-id'], 'mine');
  });

  it('answers direct responses and redirects without an upstream', async () => {
    const d = await request(port, { path: '/direct' });
    assert.equal(d.status, 418);
    assert.equal(d.body, 'teapot');
    const r = await request(port, { path: '/go/away?k=v' });
    assert.equal(r.status, 302);
    assert.equal(r.headers.location, 'http://elsewhere.local/landed?k=v');
  });

  it('answers 503 "no healthy upstream" for a cluster without endpoints', async () => {
    const r = await request(port, { path: '/empty' });
    assert.equal(r.status, 503);
    assert.equal(r.body, 'no healthy upstream');
  });

  it('reports applied config in the admin /config_dump and /clusters', async () => {
    const dump = await request(h.proxy.adminPort, { path: '/config_dump' });
    const types = (JSON.parse(dump.body) as { configs: { '@type': string }[] }).configs.map((c) => c['@type']);
    assert.ok(types.some((t) => t.endsWith('ListenersConfigDump')));
    assert.ok(dump.body.includes('"http.80"'));
    const clusters = await request(h.proxy.adminPort, { path: '/clusters' });
    assert.ok(clusters.body.includes(`outbound|80||a.default.svc.cluster.local::127.0.0.1:${a.port}::health_flags::healthy`));
    assert.equal((await request(h.proxy.adminPort, { path: '/ready' })).status, 200);
  });
});
