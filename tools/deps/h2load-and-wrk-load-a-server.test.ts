// h2load (HTTP/2 cleartext and HTTP/1.1) and wrk run briefly against local Node servers; their reports are
// parsed into request counts, rates and latency percentiles.
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { createServer as createH2Server, type Http2Server } from 'node:http2';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { requireDep, runH2load, runWrk, type LoadResult } from './src/index';

function assertSane(result: LoadResult, served: number): void {
  assert.ok(result.requests > 0, `${result.tool} made no requests`);
  assert.equal(result.errors, 0, `${result.tool} errors: ${JSON.stringify(result.statusCodes)}`);
  assert.ok(served >= result.requests, `server saw ${served}, ${result.tool} counted ${result.requests}`);
  assert.ok(result.rps > 0);
  const l = result.latencyMs;
  assert.ok(l.p50 > 0 && l.p50 <= l.p90 && l.p90 <= l.p99 && l.p99 <= l.max, JSON.stringify(l));
}

describe('h2load and wrk', () => {
  let h1: Server | undefined;
  let h2: Http2Server | undefined;
  const served = { h1: 0, h2: 0 };

  before(async () => {
    h1 = createServer((_req, res) => {
      served.h1++;
      res.end('ok');
    });
    h2 = createH2Server((_req, res) => {
      served.h2++;
      res.end('ok');
    });
    await new Promise<void>((resolve) => h1?.listen(0, '127.0.0.1', resolve));
    await new Promise<void>((resolve) => h2?.listen(0, '127.0.0.1', resolve));
  });

  after(async () => {
    await new Promise((resolve) => h1?.close(resolve));
    await new Promise((resolve) => h2?.close(resolve));
  });

  it('h2load sends a fixed number of HTTP/2 requests', async (t) => {
    if (!requireDep(t, 'h2load')) return;
    const port = (h2?.address() as AddressInfo).port;
    const before = served.h2;
    const result = await runH2load({ url: `http://127.0.0.1:${port}/`, requests: 200, clients: 2, streams: 4 });
    assertSane(result, served.h2 - before);
    assert.equal(result.requests, 200);
    assert.deepEqual(result.statusCodes, { '2xx': 200, '3xx': 0, '4xx': 0, '5xx': 0 });
  });

  it('h2load runs HTTP/1.1 for one second', async (t) => {
    if (!requireDep(t, 'h2load')) return;
    const port = (h1?.address() as AddressInfo).port;
    const before = served.h1;
    const result = await runH2load({ url: `http://127.0.0.1:${port}/`, durationSec: 1, clients: 2, http1: true });
    assertSane(result, served.h1 - before);
  });

  it('wrk runs HTTP/1.1 for one second', async (t) => {
    if (!requireDep(t, 'wrk')) return;
    const port = (h1?.address() as AddressInfo).port;
    const before = served.h1;
    const result = await runWrk({ url: `http://127.0.0.1:${port}/`, durationSec: 1, connections: 2 });
    assert.equal(result.tool, 'wrk');
    assertSane(result, served.h1 - before);
    assert.ok(result.durationSec >= 0.9);
  });
});
