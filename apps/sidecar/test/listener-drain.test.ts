/**
 * Listener changes without dropping requests: a route change applies to new requests in place; a removed
 * listener stops accepting but lets an in-flight request finish.
 */
import { strict as assert } from 'node:assert';
import * as net from 'node:net';
import { after, before, describe, it } from 'node:test';
import { clusterRoute, routeConfiguration, virtualHost } from '@mesh/xds';
import { cluster, listener, request, startBackend, startHarness, type Backend, type Harness, type Resources } from './helpers';

describe('listener drain', () => {
  let slow: Backend;
  let h: Harness;
  let base: Resources;

  before(async () => {
    slow = await startBackend('slow');
    slow.handler = (req, res) => {
      const ms = req.url === '/slow' ? 400 : 0;
      setTimeout(() => res.writeHead(200, { 'x-backend': 'slow', 'x-path': req.url ?? '' }).end('done'), ms);
    };
    const c = cluster('outbound|80||slow.default.svc.cluster.local', [{ port: slow.port }]);
    base = {
      listeners: [listener('http.80', 'http.80')],
      routes: [routeConfiguration('http.80', [virtualHost('all', ['*'], [clusterRoute('/', 'outbound|80||slow.default.svc.cluster.local')])])],
      clusters: [c.cluster],
      endpoints: [c.endpoints],
    };
    h = await startHarness(base);
  });

  after(async () => {
    await h?.stop();
    await slow?.close();
  });

  it('applies a route change in place on the same port', async () => {
    const port = h.port('http.80');
    await h.push({
      ...base,
      routes: [routeConfiguration('http.80', [virtualHost('all', ['*'], [clusterRoute('/', 'outbound|80||slow.default.svc.cluster.local', { prefix_rewrite: '/rewritten/' })])])],
    });
    assert.equal(h.port('http.80'), port);
    assert.equal((await request(port, { path: '/x' })).headers['x-path'], '/rewritten/x');
  });

  it('finishes an in-flight request when its listener is removed, and refuses new connections', async () => {
    const port = h.port('http.80');
    const inflight = request(port, { path: '/slow' });
    await new Promise((r) => setTimeout(r, 100));
    await h.push({ ...base, listeners: [] });
    const r = await inflight;
    assert.equal(r.status, 200);
    assert.equal(r.body, 'done');
    const refused = await new Promise<boolean>((resolve) => {
      const c = net.connect(port, '127.0.0.1');
      c.on('connect', () => {
        c.destroy();
        resolve(false);
      });
      c.on('error', () => resolve(true));
    });
    assert.ok(refused, 'a removed listener still accepted a connection');
  });
});
