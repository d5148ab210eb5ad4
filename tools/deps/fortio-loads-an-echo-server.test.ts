// fortio (built from the Go module proxy) loads a local Node echo server for one second; its -json result
// is parsed into request counts, status codes and latency percentiles. fortio's own echo server answers too.
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { httpGet, requireDep, runFortioLoad, startFortioServer, type FortioServerHandle } from './src/index';

describe('fortio', () => {
  let echo: Server | undefined;
  let fortioServer: FortioServerHandle | undefined;
  let served = 0;

  before(async () => {
    echo = createServer((req, res) => {
      served++;
      req.pipe(res);
    });
    await new Promise<void>((resolve) => echo?.listen(0, '127.0.0.1', resolve));
  });

  after(async () => {
    await fortioServer?.stop();
    await new Promise((resolve) => echo?.close(resolve));
  });

  it('loads a local echo server for one second, every answer 200', async (t) => {
    if (!requireDep(t, 'fortio')) return;
    const port = (echo?.address() as AddressInfo).port;
    const result = await runFortioLoad({ url: `http://127.0.0.1:${port}/echo`, durationSec: 1, connections: 2 });
    assert.equal(result.tool, 'fortio');
    assert.ok(result.requests > 0, `fortio made ${result.requests} requests`);
    assert.deepEqual(result.statusCodes, { '200': result.requests });
    assert.equal(result.errors, 0);
    assert.ok(served >= result.requests, `server saw ${served} requests, fortio counted ${result.requests}`);
    assert.ok(result.durationSec >= 0.9 && result.durationSec < 5, `ran ${result.durationSec} s`);
    assert.ok(result.rps > 0);
    const l = result.latencyMs;
    assert.ok(l.min <= l.p50 && l.p50 <= l.p90 && l.p90 <= l.p99 && l.p99 <= l.max + 1e-9, JSON.stringify(l));
  });

  it('counts non-200 answers as errors', async (t) => {
    if (!requireDep(t, 'fortio')) return;
    fortioServer = await startFortioServer();
    assert.equal((await httpGet(fortioServer.url)).status, 200);
    const result = await runFortioLoad({ url: `${fortioServer.url}?status=503`, durationSec: 1, connections: 1, qps: 50 });
    assert.ok(result.requests > 0);
    assert.equal(result.statusCodes['503'], result.requests);
    assert.equal(result.errors, result.requests);
  });
});
