// Prometheus from Debian scrapes a local /metrics endpoint: its HTTP API reports up == 1 for the job and
// the value the endpoint exposed.
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { requireDep, startPrometheus, type PrometheusHandle, type PrometheusSample } from './src/index';

describe('prometheus', () => {
  let target: Server | undefined;
  let prometheus: PrometheusHandle | undefined;
  let scrapes = 0;

  before(async () => {
    target = createServer((req, res) => {
      if (req.url !== '/metrics') {
        res.statusCode = 404;
        res.end();
        return;
      }
      scrapes++;
      res.setHeader('content-type', 'text/plain; version=0.0.4');
      res.end('# TYPE mesh_deps_smoke gauge\nmesh_deps_smoke 42\n');
    });
    await new Promise<void>((resolve) => target?.listen(0, '127.0.0.1', resolve));
  });

  after(async () => {
    await prometheus?.stop();
    await new Promise((resolve) => target?.close(resolve));
  });

  it('scrapes one target', async (t) => {
    if (!requireDep(t, 'prometheus')) return;
    const port = (target?.address() as AddressInfo).port;
    prometheus = await startPrometheus({
      scrapeTargets: [{ job: 'deps-smoke', targets: [`127.0.0.1:${port}`] }],
      scrapeInterval: '1s',
    });
    let up: PrometheusSample[] = [];
    const deadline = Date.now() + 20_000;
    for (let i = 0; i < 80 && Date.now() < deadline && up.length === 0; i++) {
      up = await prometheus.query('up{job="deps-smoke"}');
      if (up.length === 0) await new Promise((resolve) => setTimeout(resolve, 250));
    }
    assert.equal(up.length, 1, 'prometheus reported no up{job="deps-smoke"} sample within 20 s');
    assert.equal(up[0]?.value, 1);
    assert.equal(up[0]?.metric['instance'], `127.0.0.1:${port}`);
    const value = await prometheus.query('mesh_deps_smoke{job="deps-smoke"}');
    assert.equal(value[0]?.value, 42);
    assert.ok(scrapes >= 1);
  });
});
