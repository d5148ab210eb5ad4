/**
 * Observability: istio_requests_total and the duration/bytes histograms with Istio's labels on
 * /stats/prometheus, Envoy-style cluster counters, and the JSON access log (one line per request with
 * the response flags) when --access-log is set.
 */
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { clusterRoute, routeConfiguration, virtualHost } from '@mesh/xds';
import { cluster, listener, request, startBackend, startHarness, waitUntil, type Backend, type Harness } from './helpers';

describe('metrics and access log', () => {
  let backend: Backend;
  let h: Harness;
  let dir = '';
  let logFile = '';

  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sidecar-log-'));
    logFile = path.join(dir, 'access.log');
    backend = await startBackend('reviews');
    const C = 'outbound|9080|v2|reviews.bookinfo.svc.cluster.local';
    const c = cluster(C, [{ port: backend.port }]);
    h = await startHarness(
      {
        listeners: [listener('http.9080', 'http.9080')],
        routes: [routeConfiguration('http.9080', [virtualHost('reviews', ['*'], [clusterRoute('/reviews', C)])])],
        clusters: [c.cluster],
        endpoints: [c.endpoints],
      },
      { accessLog: logFile },
    );
  });

  after(async () => {
    await h?.stop();
    await backend?.close();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  it("exports Istio's request metrics with Istio's labels", async () => {
    const port = h.port('http.9080');
    for (let i = 0; i < 3; i++) assert.equal((await request(port, { path: '/reviews/1', method: 'POST', body: 'x'.repeat(100) })).status, 200);
    assert.equal((await request(port, { path: '/nothing' })).status, 404);
    const prom = (await request(h.proxy.adminPort, { path: '/stats/prometheus' })).body;
    const line = prom.split('\n').find((l) => l.startsWith('istio_requests_total{') && l.includes('response_code="200"'));
    assert.ok(line, prom.slice(0, 500));
    for (const label of ['reporter="source"', 'source_workload="client-1"', 'source_app="client"', 'source_version="v1"', 'destination_service="reviews.bookinfo.svc.cluster.local"', 'destination_service_name="reviews"', 'destination_service_namespace="bookinfo"', 'destination_version="v2"', 'request_protocol="http"', 'response_flags="-"']) {
      assert.ok(line.includes(label), `${label} missing in ${line}`);
    }
    assert.match(line, / 3$/);
    assert.ok(prom.split('\n').some((l) => l.startsWith('istio_requests_total{') && l.includes('response_code="404"') && l.includes('response_flags="NR"')));
    assert.match(prom, /istio_request_duration_milliseconds_bucket\{[^}]*response_code="200"[^}]*le="\+Inf"\} 3/);
    assert.match(prom, /istio_request_bytes_sum\{[^}]*response_code="200"[^}]*\} 300/);
    assert.match(prom, /envoy_cluster_upstream_rq_total\{cluster_name="outbound\|9080\|v2\|reviews\.bookinfo\.svc\.cluster\.local"\} 3/);
  });

  it('writes one JSON access log line per request with flags', async () => {
    await waitUntil('access log lines', () => fs.existsSync(logFile) && fs.readFileSync(logFile, 'utf8').trim().split('\n').length >= 4, 5000);
    const lines = fs.readFileSync(logFile, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    const ok = lines.find((l) => l.response_code === 200);
    assert.equal(ok?.method, 'POST');
    assert.equal(ok?.path, '/reviews/1');
    assert.equal(ok?.bytes_received, 100);
    assert.equal(ok?.upstream_cluster, 'outbound|9080|v2|reviews.bookinfo.svc.cluster.local');
    assert.equal(ok?.response_flags, '-');
    const nr = lines.find((l) => l.response_code === 404);
    assert.equal(nr?.response_flags, 'NR');
  });
});
