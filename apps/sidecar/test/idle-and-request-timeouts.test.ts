/**
 * Downstream timeouts from the HCM: request_headers_timeout closes a client that never finishes its
 * headers (408), common_http_protocol_options.idle_timeout closes an idle keep-alive connection.
 */
import { strict as assert } from 'node:assert';
import * as net from 'node:net';
import { after, before, describe, it } from 'node:test';
import { clusterRoute, durationFromMs, routeConfiguration, virtualHost } from '@mesh/xds';
import { cluster, listener, startBackend, startHarness, type Backend, type Harness } from './helpers';

function openUntilClosed(port: number, bytes: string, limitMs: number): Promise<{ text: string; closedAfterMs: number }> {
  return new Promise((resolve) => {
    const t0 = Date.now();
    const c = net.connect(port, '127.0.0.1');
    let text = '';
    const timer = setTimeout(() => {
      c.destroy();
      resolve({ text, closedAfterMs: -1 });
    }, limitMs);
    c.on('data', (d) => (text += d.toString('latin1')));
    c.on('error', () => undefined);
    c.on('close', () => {
      clearTimeout(timer);
      resolve({ text, closedAfterMs: Date.now() - t0 });
    });
    c.write(bytes);
  });
}

describe('idle and request timeouts', () => {
  let backend: Backend;
  let h: Harness;

  before(async () => {
    backend = await startBackend('b');
    const c = cluster('outbound|80||b.default.svc.cluster.local', [{ port: backend.port }]);
    h = await startHarness({
      listeners: [listener('http.80', 'http.80', [], { request_headers_timeout: durationFromMs(1000), common_http_protocol_options: { idle_timeout: durationFromMs(1000) } })],
      routes: [routeConfiguration('http.80', [virtualHost('all', ['*'], [clusterRoute('/', 'outbound|80||b.default.svc.cluster.local')])])],
      clusters: [c.cluster],
      endpoints: [c.endpoints],
    });
  });

  after(async () => {
    await h?.stop();
    await backend?.close();
  });

  it('answers 408 and closes when the headers never complete', async () => {
    const r = await openUntilClosed(h.port('http.80'), 'GET / HTTP/1.1\r\nHost: x\r\nX-Slow: ', 8000);
    assert.ok(r.closedAfterMs >= 0, 'connection was never closed');
    assert.match(r.text, /^HTTP\/1\.1 408 /);
  });

  it('closes an idle keep-alive connection after idle_timeout', async () => {
    const r = await openUntilClosed(h.port('http.80'), 'GET / HTTP/1.1\r\nHost: x\r\n\r\n', 8000);
    assert.match(r.text, /^HTTP\/1\.1 200 /);
    assert.ok(r.closedAfterMs >= 900 && r.closedAfterMs < 6000, `closed after ${r.closedAfterMs} ms`);
  });
});
