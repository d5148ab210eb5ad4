/**
 * --concurrency 2 (the built binary, two node:cluster workers sharing the listener): requests on fresh
 * connections land on both workers (the primary hands connections out in turn), and the admin port's
 * /stats and /stats/prometheus report the sum over the workers: counters added (each worker's own share
 * listed as http.downstream.worker_<i>.*), Istio histograms merged (their _count equals the number of
 * requests), configuration gauges such as control_plane.connected_state reported once.
 */
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { AdsServer, clusterRoute, routeConfiguration, virtualHost } from '@mesh/xds';
import { quietLogger } from '@mesh/xds/testing';
import { BUILT_SIDECAR, cluster, listener, NODE_ID, request, snapshot, startBackend, startBuiltSidecar, statsMap, type Backend, type BuiltSidecar } from './helpers';

const WEB = 'outbound|80||web.default.svc.cluster.local';
/** at least this many requests */
const REQUESTS = 40;

/** Sum of the samples of `metric` whose labels contain every `must` fragment. */
function promSum(text: string, metric: string, must: string[]): number {
  let sum = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${metric}{`) || !must.every((f) => line.includes(f))) continue;
    sum += Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return sum;
}

describe('stats summed across --concurrency workers', () => {
  let backend: Backend;
  let ads: AdsServer;
  let bound: { port: number; close(): Promise<void> };
  let sidecar: BuiltSidecar | undefined;

  before(async () => {
    assert.ok(fs.existsSync(BUILT_SIDECAR), `build first: node tools/build-app.mjs apps/sidecar (${BUILT_SIDECAR})`);
    backend = await startBackend('web');
    const c = cluster(WEB, [{ port: backend.port }]);
    ads = new AdsServer({ logger: quietLogger() });
    ads.setSnapshot(NODE_ID, snapshot({
      listeners: [listener('http.80', 'http.80')],
      routes: [routeConfiguration('http.80', [virtualHost('all', ['*'], [clusterRoute('/', WEB)])])],
      clusters: [c.cluster],
      endpoints: [c.endpoints],
    }));
    bound = await ads.listen('127.0.0.1:0');
  });

  after(async () => {
    await sidecar?.stop();
    await bound?.close();
    await backend?.close();
  });

  it('reports the sum of both workers on the admin port', async () => {
    sidecar = await startBuiltSidecar(bound.port, 2);
    const adminPort = sidecar.adminPort;
    let port = 0;
    for (let i = 0; i < 200 && port === 0; i++) {
      const l = JSON.parse((await request(adminPort, { path: '/listeners?format=json' })).body) as { listener_statuses: { local_address: { socket_address: { port_value: number } } }[] };
      port = l.listener_statuses[0]?.local_address.socket_address.port_value ?? 0;
      if (port === 0) await new Promise((r) => setTimeout(r, 50));
    }
    assert.ok(port > 0, 'listener bound');
    // The second worker may bind the shared listener a little later: send batches (each request on a new
    // connection) until both workers served some, counting every request sent.
    let sent = 0;
    let stats = new Map<string, number>();
    let w0 = 0;
    let w1 = 0;
    for (let batch = 0; batch < 20 && (w0 === 0 || w1 === 0 || sent < REQUESTS); batch++) {
      for (let i = 0; i < 10; i++) {
        assert.equal((await request(port, { path: `/n${sent}` })).status, 200);
        sent++;
      }
      stats = statsMap((await request(adminPort, { path: '/stats' })).body);
      w0 = stats.get('http.downstream.worker_0.downstream_rq_total') ?? 0;
      w1 = stats.get('http.downstream.worker_1.downstream_rq_total') ?? 0;
    }
    assert.ok(w0 > 0 && w1 > 0, `traffic landed on both workers (worker 0: ${w0}, worker 1: ${w1})`);
    assert.equal(stats.get('http.downstream.downstream_rq_total'), sent, 'counters are summed over the workers');
    assert.equal(w0 + w1, sent);
    assert.equal(stats.get(`cluster.${WEB}.upstream_rq_2xx`), sent);
    assert.equal(stats.get('control_plane.connected_state'), 1, 'a configuration gauge is reported once, not per worker');
    assert.equal(stats.get(`cluster.${WEB}.membership_total`), 1);

    const json = JSON.parse((await request(adminPort, { path: '/stats?format=json' })).body) as { stats: { name: string; value: number }[] };
    assert.equal(json.stats.find((s) => s.name === 'http.downstream.downstream_rq_total')?.value, sent);

    const prom = (await request(adminPort, { path: '/stats/prometheus' })).body;
    const labels = ['response_code="200"', 'reporter="source"'];
    assert.equal(promSum(prom, 'istio_requests_total', labels), sent);
    assert.equal(promSum(prom, 'istio_request_duration_milliseconds_count', labels), sent, 'histograms merged');
    assert.equal(promSum(prom, 'istio_request_duration_milliseconds_bucket', [...labels, 'le="+Inf"']), sent);
    assert.equal(promSum(prom, 'envoy_http_downstream_rq_total', []), 0, 'no labelled samples for an unlabelled metric');
    assert.match(prom, new RegExp(`^envoy_http_downstream_rq_total ${sent}$`, 'm'));
    assert.equal((prom.match(/^# TYPE istio_requests_total counter$/gm) ?? []).length, 1, 'one family header after the merge');
  });
});
