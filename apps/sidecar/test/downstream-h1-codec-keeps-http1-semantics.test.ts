/**
 * The listener's own HTTP/1.1 codec keeps what clients rely on from an HTTP/1.1 server: pipelined requests
 * answered in order on one connection, Expect: 100-continue answered before the body is sent (and not
 * passed upstream), HTTP/1.0 closing after the response unless it asked for keep-alive, chunked bodies
 * both ways, a Date header, a local reply followed by a proxied one on the same connection, and
 * request_timeout answering 408 when a body never completes.
 */
import { strict as assert } from 'node:assert';
import * as net from 'node:net';
import { after, before, describe, it } from 'node:test';
import { clusterRoute, durationFromMs, routeConfiguration, virtualHost } from '@mesh/xds';
import { cluster, listener, startBackend, startHarness, type Backend, type Harness } from './helpers';

/** Writes `bytes` (or the parts, `gapMs` apart), reads until the server closes or `untilMs` passes. */
function exchange(port: number, parts: string[], opts: { untilMs?: number; gapMs?: number; stopWhen?: (text: string) => boolean } = {}): Promise<{ text: string; closed: boolean }> {
  return new Promise((resolve) => {
    const c = net.connect(port, '127.0.0.1');
    let text = '';
    let done = false;
    const finish = (closed: boolean): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      c.destroy();
      resolve({ text, closed });
    };
    const timer = setTimeout(() => finish(false), opts.untilMs ?? 3000);
    c.on('data', (d) => {
      text += d.toString('latin1');
      if (opts.stopWhen?.(text)) finish(false);
    });
    c.on('error', () => undefined);
    c.on('close', () => finish(true));
    let i = 0;
    const next = (): void => {
      if (i >= parts.length || done) return;
      c.write(parts[i++]);
      if (i < parts.length) setTimeout(next, opts.gapMs ?? 0);
    };
    c.once('connect', next);
  });
}

function statuses(text: string): number[] {
  return [...text.matchAll(/HTTP\/1\.[01] (\d{3}) /g)].map((m) => Number(m[1]));
}

describe('downstream HTTP/1.1 codec', () => {
  let backend: Backend;
  let h: Harness;
  let port = 0;

  before(async () => {
    backend = await startBackend('b');
    backend.handler = (req, res, body) => {
      const out = `${req.url}:${body}`;
      // '/c' answers without a length (Node then chunks); everything else with one.
      const length: Record<string, number> = req.url === '/c' ? {} : { 'content-length': Buffer.byteLength(out) };
      res.writeHead(200, { 'content-type': 'text/plain', 'x-url': req.url ?? '', 'x-expect': String(req.headers.expect ?? '-'), 'x-te': String(req.headers['transfer-encoding'] ?? '-'), ...length });
      res.end(out);
    };
    const c = cluster('outbound|80||b.default.svc.cluster.local', [{ port: backend.port }]);
    h = await startHarness({
      listeners: [listener('http.80', 'http.80', [], { request_timeout: durationFromMs(1000) })],
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

  it('answers pipelined requests in order on one connection', async () => {
    const three = ['/one', '/two', '/three'].map((p) => `GET ${p} HTTP/1.1\r\nHost: x\r\n\r\n`).join('');
    const r = await exchange(port, [three], { stopWhen: (t) => t.includes('/three:') });
    assert.deepEqual(statuses(r.text), [200, 200, 200]);
    const order = [...r.text.matchAll(/x-url: (\/\w+)/g)].map((m) => m[1]);
    assert.deepEqual(order, ['/one', '/two', '/three']);
    assert.ok(r.text.indexOf('/one:') < r.text.indexOf('/two:') && r.text.indexOf('/two:') < r.text.indexOf('/three:'));
  });

  it('answers Expect: 100-continue itself and passes the body on without the Expect header', async () => {
    let sawContinue = false;
    const r = await new Promise<string>((resolve) => {
      const c = net.connect(port, '127.0.0.1');
      let text = '';
      const timer = setTimeout(() => {
        c.destroy();
        resolve(text);
      }, 3000);
      c.on('error', () => undefined);
      c.on('data', (d) => {
        text += d.toString('latin1');
        if (!sawContinue && text.startsWith('HTTP/1.1 100 Continue\r\n\r\n')) {
          sawContinue = true;
          c.write('hello');
        }
        if (text.includes('/up:hello')) {
          clearTimeout(timer);
          c.destroy();
          resolve(text);
        }
      });
      c.write('POST /up HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n');
    });
    assert.ok(sawContinue, r);
    assert.match(r, /HTTP\/1\.1 200 /);
    assert.match(r, /x-expect: -/);
  });

  it('closes an HTTP/1.0 connection after the response unless it asked for keep-alive', async () => {
    const plain = await exchange(port, ['GET /old HTTP/1.0\r\nHost: x\r\n\r\n']);
    assert.match(plain.text, /^HTTP\/1\.1 200 /);
    assert.ok(plain.closed, 'HTTP/1.0 without keep-alive must be closed');
    const kept = await exchange(port, ['GET /old HTTP/1.0\r\nHost: x\r\nConnection: keep-alive\r\n\r\n'], { untilMs: 800, stopWhen: (t) => t.includes('/old:') });
    assert.match(kept.text, /connection: keep-alive/i);
    assert.equal(kept.closed, false);
  });

  it('passes a chunked request body on chunked and relays a length-less answer chunked, with Date', async () => {
    const r = await exchange(port, ['POST /c HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n', '3\r\nabc\r\n', '2\r\nde\r\n0\r\n\r\n'], { gapMs: 30, stopWhen: (t) => t.includes('/c:abcde\r\n0\r\n\r\n') });
    assert.match(r.text, /^HTTP\/1\.1 200 /);
    assert.match(r.text, /\r\ndate: [A-Z][a-z]{2}, \d{2} /i);
    // The backend saw a chunked body; its own answer had no length, so it goes on chunked.
    assert.match(r.text, /x-te: chunked\r\n/);
    assert.match(r.text, /transfer-encoding: chunked\r\n/i);
    assert.ok(r.text.endsWith('\r\n\r\n8\r\n/c:abcde\r\n0\r\n\r\n'), r.text);
  });

  it('answers 408 when a request body does not arrive within request_timeout', async () => {
    const t0 = Date.now();
    const r = await exchange(port, ['POST /slow HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nabc'], { untilMs: 5000, stopWhen: (t) => /\r\n\r\n/.test(t) });
    assert.match(r.text, /^HTTP\/1\.1 408 /);
    assert.ok(Date.now() - t0 >= 900, 'answered before request_timeout');
    assert.equal(backend.seen.filter((s) => s.url === '/slow').length, 0);
  });

  it('answers a local reply (no route) as one response and keeps the connection', async () => {
    await h.push({
      listeners: [listener('http.80', 'http.80', [], { request_timeout: durationFromMs(1000) })],
      routes: [routeConfiguration('http.80', [virtualHost('all', ['*'], [clusterRoute('/only', 'outbound|80||b.default.svc.cluster.local')])])],
      clusters: [cluster('outbound|80||b.default.svc.cluster.local', [{ port: backend.port }]).cluster],
      endpoints: [cluster('outbound|80||b.default.svc.cluster.local', [{ port: backend.port }]).endpoints],
    });
    const r = await exchange(port, ['GET /nowhere HTTP/1.1\r\nHost: x\r\n\r\nGET /only HTTP/1.1\r\nHost: x\r\n\r\n'], { stopWhen: (t) => t.includes('/only:') });
    assert.deepEqual(statuses(r.text), [404, 200]);
  });
});
