/**
 * The edge: malformed HTTP gets 400 and the connection closes; headers over 60 KiB get 431; request
 * smuggling shapes (CL+TE, duplicate Content-Length, obs-fold) are refused; a slow reader is not buffered
 * without bound (backpressure reaches the upstream); the proxy keeps serving after all of it.
 */
import { strict as assert } from 'node:assert';
import * as net from 'node:net';
import { after, before, describe, it } from 'node:test';
import { routeConfiguration, virtualHost, clusterRoute } from '@mesh/xds';
import { cluster, listener, request, startBackend, startHarness, type Backend, type Harness } from './helpers';

/** Writes raw bytes, returns everything read until the server closes (or 3 s pass). */
function raw(port: number, bytes: string | Buffer): Promise<{ text: string; closed: boolean }> {
  return new Promise((resolve) => {
    const c = net.connect(port, '127.0.0.1');
    let text = '';
    const timer = setTimeout(() => {
      c.destroy();
      resolve({ text, closed: false });
    }, 3000);
    c.on('data', (d) => (text += d.toString('latin1')));
    c.on('error', () => undefined);
    c.on('close', () => {
      clearTimeout(timer);
      resolve({ text, closed: true });
    });
    c.write(bytes);
  });
}

describe('hardened edge', () => {
  let backend: Backend;
  let h: Harness;
  let port = 0;
  let upstreamBlocked = false;
  let upstreamWritten = 0;

  before(async () => {
    backend = await startBackend('b');
    backend.handler = (req, res) => {
      if (req.url !== '/big') {
        res.writeHead(200).end('ok');
        return;
      }
      // Writes 1 MiB chunks until the socket says stop, up to 256 MiB.
      res.writeHead(200, { 'content-type': 'application/octet-stream' });
      const chunk = Buffer.alloc(1024 * 1024, 120);
      const pump = (): void => {
        while (upstreamWritten < 256 * 1024 * 1024) {
          upstreamWritten += chunk.length;
          if (!res.write(chunk)) {
            upstreamBlocked = true;
            res.once('drain', pump);
            return;
          }
        }
        res.end();
      };
      pump();
    };
    const c = cluster('outbound|80||b.default.svc.cluster.local', [{ port: backend.port }]);
    h = await startHarness({
      listeners: [listener('http.80', 'http.80')],
      routes: [routeConfiguration('http.80', [virtualHost('all', ['*'], [clusterRoute('/', 'outbound|80||b.default.svc.cluster.local')])])],
      clusters: [c.cluster],
      endpoints: [c.endpoints],
    });
    port = h.port('http.80');
  });

  after(async () => {
    await h?.stop();
    await backend?.close();
  });

  const shapes: Record<string, string> = {
    'garbage request line': 'GARBAGE\r\n\r\n',
    'Content-Length with Transfer-Encoding': 'POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n',
    'duplicate Content-Length': 'POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd',
    'duplicate equal Content-Length': 'POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\nabc',
    'obs-fold header': 'GET / HTTP/1.1\r\nHost: x\r\nX-A: a\r\n  b\r\n\r\n',
    'space before colon': 'GET / HTTP/1.1\r\nHost: x\r\nX-A : a\r\n\r\n',
    'chunked not last': 'POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked, identity\r\n\r\n0\r\n\r\n',
    'missing Host on HTTP/1.1': 'GET / HTTP/1.1\r\n\r\n',
  };
  for (const [name, bytes] of Object.entries(shapes)) {
    it(`answers 400 and closes for: ${name}`, async () => {
      const r = await raw(port, bytes);
      assert.match(r.text, /^HTTP\/1\.1 400 /);
      assert.ok(r.closed, 'connection should be closed');
      assert.equal(backend.seen.filter((s) => s.method === 'POST').length, 0);
    });
  }

  it('answers 431 for more than 60 KiB of headers and 200 just under', async () => {
    const big = `GET / HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(61 * 1024)}\r\n\r\n`;
    const r = await raw(port, big);
    assert.match(r.text, /^HTTP\/1\.1 431 /);
    assert.ok(r.closed);
    const ok = await request(port, { path: '/', headers: { 'x-big': 'a'.repeat(50 * 1024) } });
    assert.equal(ok.status, 200);
  });

  it('holds back the upstream when the downstream does not read', async () => {
    const c = net.connect(port, '127.0.0.1');
    c.on('error', () => undefined);
    c.write('GET /big HTTP/1.1\r\nHost: x\r\n\r\n');
    c.pause();
    const deadline = Date.now() + 5000;
    while (!upstreamBlocked && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    await new Promise((r) => setTimeout(r, 300));
    const written = upstreamWritten;
    assert.ok(upstreamBlocked, 'upstream never saw backpressure');
    assert.ok(written < 64 * 1024 * 1024, `upstream wrote ${written} bytes to a reader that reads nothing`);
    c.destroy();
  });

  it('survives clients that abort in the middle of a request body', async () => {
    for (const bytes of [
      `POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 1000000\r\n\r\n${'x'.repeat(5000)}`,
      'POST /upload HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n',
    ]) {
      for (let i = 0; i < 5; i++) {
        const c = net.connect(port, '127.0.0.1');
        c.on('error', () => undefined);
        c.write(bytes);
        await new Promise((r) => setTimeout(r, 30));
        c.destroy();
      }
    }
    await new Promise((r) => setTimeout(r, 200));
    assert.equal((await request(port, { path: '/' })).status, 200);
  });

  it('still serves normal requests afterwards', async () => {
    assert.equal((await request(port, { path: '/' })).status, 200);
  });
});
