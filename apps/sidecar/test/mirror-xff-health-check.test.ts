/**
 * Request mirroring (a copy goes to the shadow cluster with "-shadow" appended to the host, the answer
 * comes from the primary), x-forwarded-for appended when use_remote_address is set, and active HTTP health
 * checks taking a failing endpoint out of rotation.
 */
import { strict as assert } from 'node:assert';
import { after, before, describe, it } from 'node:test';
import { clusterLoadAssignment, durationFromMs, edsCluster, routeConfiguration, virtualHost } from '@mesh/xds';
import { cluster, listener, request, startBackend, startHarness, waitUntil, type Backend, type Harness } from './helpers';

describe('mirror, x-forwarded-for, active health checks', () => {
  let primary: Backend;
  let shadow: Backend;
  let healthy: Backend;
  let sick: Backend;
  let h: Harness;

  before(async () => {
    primary = await startBackend('primary');
    shadow = await startBackend('shadow');
    healthy = await startBackend('healthy');
    sick = await startBackend('sick');
    sick.handler = (req, res) => res.writeHead(req.url === '/healthz' ? 503 : 200, { 'x-backend': 'sick' }).end();
    const P = 'outbound|80||primary.default.svc.cluster.local';
    const S = 'outbound|80||shadow.default.svc.cluster.local';
    const HC = 'outbound|80||checked.default.svc.cluster.local';
    const cp = cluster(P, [{ port: primary.port }]);
    const cs = cluster(S, [{ port: shadow.port }]);
    const checked = {
      ...edsCluster({ name: HC }),
      health_checks: [{ timeout: durationFromMs(500), interval: durationFromMs(100), unhealthy_threshold: { value: 1 }, healthy_threshold: { value: 1 }, http_health_check: { path: '/healthz' } }],
    };
    h = await startHarness({
      listeners: [listener('http.80', 'http.80', [], { use_remote_address: { value: true } })],
      routes: [
        routeConfiguration('http.80', [
          virtualHost('all', ['*'], [
            { match: { prefix: '/mirror' }, route: { cluster: P, request_mirror_policies: [{ cluster: S }] } } as never,
            { match: { prefix: '/checked' }, route: { cluster: HC } },
            { match: { prefix: '/' }, route: { cluster: P } },
          ]),
        ]),
      ],
      clusters: [cp.cluster, cs.cluster, checked],
      endpoints: [cp.endpoints, cs.endpoints, clusterLoadAssignment(HC, [{ address: '127.0.0.1', port: healthy.port }, { address: '127.0.0.1', port: sick.port }])],
    });
  });

  after(async () => {
    await h?.stop();
    for (const b of [primary, shadow, healthy, sick]) await b?.close();
  });

  it('mirrors a request to the shadow cluster and answers from the primary', async () => {
    const r = await request(h.port('http.80'), { path: '/mirror/x', method: 'POST', body: 'payload', host: 'svc.local' });
    assert.equal(r.headers['x-backend'], 'primary');
    await waitUntil('the shadow copy', () => shadow.seen.length > 0, 5000);
    const copy = shadow.seen[0];
    assert.equal(copy?.url, '/mirror/x');
    assert.equal(copy?.headers.host, 'svc.local-shadow');
    assert.equal(copy?.body, 'payload');
  });

  it('appends the peer address to x-forwarded-for with use_remote_address', async () => {
    const r = await request(h.port('http.80'), { path: '/xff', headers: { 'x-forwarded-for': '203.0.113.9' } });
    const seen = JSON.parse(r.body) as { headers: Record<string, string> };
    assert.equal(seen.headers['x-forwarded-for'], '203.0.113.9, 127.0.0.1');
  });

  it('stops sending to an endpoint whose health check fails', async () => {
    await waitUntil('health check to mark the sick host', () => {
      const c = h.proxy.clusters.get('outbound|80||checked.default.svc.cluster.local');
      return c !== undefined && c.available.length === 1;
    }, 10_000);
    const seen = new Set<string>();
    for (let i = 0; i < 10; i++) seen.add(String((await request(h.port('http.80'), { path: '/checked' })).headers['x-backend']));
    assert.deepEqual([...seen], ['healthy']);
  });
});
