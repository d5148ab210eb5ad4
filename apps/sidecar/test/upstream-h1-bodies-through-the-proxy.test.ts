/**
 * Through the sidecar, the lean HTTP/1.1 upstream client keeps every body shape intact: a chunked upload
 * without a length is re-framed as chunked, a sized upload keeps its content-length, an upstream chunked
 * response and a close-delimited one reach the client whole, large responses reach slow readers byte for
 * byte (upstream connections read into one shared buffer), HEAD gets headers only, and sequential
 * requests share one keep-alive upstream connection.
 */
import { strict as assert } from 'node:assert';
import { createHash } from 'node:crypto';
import * as http from 'node:http';
import * as net from 'node:net';
import { after, before, describe, it } from 'node:test';
import { clusterRoute, routeConfiguration, virtualHost } from '@mesh/xds';
import { cluster, listener, request, startBackend, startHarness, type Backend, type Harness } from './helpers';

const ECHO = 'outbound|80||echo.default.svc.cluster.local';
const RAW = 'outbound|80||raw.default.svc.cluster.local';
const LARGE = pattern(6 * 1024 * 1024);

/** `n` bytes that differ from position to position (a bad copy or a reused buffer shows in the hash). */
function pattern(n: number): Buffer {
  const b = Buffer.alloc(n);
  for (let i = 0; i < n; i += 4) b.writeUInt32BE(i, i);
  return b;
}

/** GETs `path` reading slowly (paused for a while after every 128 KiB); resolves with the body's sha256. */
function slowGet(port: number, path: string): Promise<{ status: number; bytes: number; sha256: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path, headers: { host: 'echo.local' }, agent: false }, (res) => {
      const hash = createHash('sha256');
      let bytes = 0;
      let sincePause = 0;
      res.on('data', (c: Buffer) => {
        hash.update(c);
        bytes += c.length;
        sincePause += c.length;
        if (sincePause >= 128 * 1024) {
          sincePause = 0;
          res.pause();
          setTimeout(() => res.resume(), 20);
        }
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, bytes, sha256: hash.digest('hex') }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

/** POSTs `parts` as separate writes; without `length` Node frames them as chunked. */
function upload(port: number, parts: string[], length?: number): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = { host: 'echo.local' };
    if (length !== undefined) headers['content-length'] = String(length);
    const req = http.request({ host: '127.0.0.1', port, method: 'POST', path: '/upload', headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString() }));
      res.on('error', reject);
    });
    req.on('error', reject);
    let i = 0;
    const next = (): void => {
      if (i === parts.length) {
        req.end();
        return;
      }
      req.write(parts[i++]);
      setTimeout(next, 5);
    };
    next();
  });
}

describe('upstream HTTP/1.1 bodies through the proxy', () => {
  let echo: Backend;
  let raw: net.Server;
  let h: Harness;
  let port = 0;
  const echoPeers = new Set<number>();

  before(async () => {
    echo = await startBackend('echo');
    echo.server.on('connection', (s: net.Socket) => echoPeers.add(s.remotePort ?? 0));
    echo.handler = (req, res, body) => {
      if (req.url === '/large') {
        // Several MiB in 64 KiB writes: the proxy reads them in pieces while the client lags behind.
        res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': LARGE.length });
        let off = 0;
        const pump = (): void => {
          while (off < LARGE.length) {
            const end = Math.min(off + 64 * 1024, LARGE.length);
            const ok = res.write(LARGE.subarray(off, end));
            off = end;
            if (!ok) {
              res.once('drain', pump);
              return;
            }
          }
          res.end();
        };
        pump();
        return;
      }
      if (req.url === '/chunked-response') {
        res.writeHead(200, { 'content-type': 'text/plain' });
        res.write('first,');
        setTimeout(() => res.end('second'), 10);
        return;
      }
      const out = JSON.stringify({ te: req.headers['transfer-encoding'] ?? '', cl: req.headers['content-length'] ?? '', body });
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(out) });
      res.end(out);
    };
    // An HTTP/1.0-style upstream: no length, the body ends when it closes the connection.
    raw = net.createServer((s) => {
      s.once('data', () => s.end('HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\n\r\nuntil the connection closes'));
      s.on('error', () => undefined);
    });
    await new Promise<void>((r) => raw.listen(0, '127.0.0.1', r));
    const e = cluster(ECHO, [{ port: echo.port }]);
    const r = cluster(RAW, [{ port: (raw.address() as net.AddressInfo).port }]);
    h = await startHarness({
      listeners: [listener('http.80', 'http.80')],
      routes: [routeConfiguration('http.80', [virtualHost('echo', ['echo.local'], [clusterRoute('/', ECHO)]), virtualHost('raw', ['raw.local'], [clusterRoute('/', RAW)])])],
      clusters: [e.cluster, r.cluster],
      endpoints: [e.endpoints, r.endpoints],
    });
    port = h.port('http.80');
  });

  after(async () => {
    await h?.stop();
    await echo?.close();
    await new Promise((r) => raw?.close(r));
  });

  it('re-frames a chunked upload without a length as chunked', async () => {
    const r = await upload(port, ['alpha,', 'beta,', 'gamma']);
    assert.equal(r.status, 200);
    assert.deepEqual(JSON.parse(r.body), { te: 'chunked', cl: '', body: 'alpha,beta,gamma' });
  });

  it('keeps the content-length of a sized upload', async () => {
    const r = await upload(port, ['0123', '4567', '89'], 10);
    assert.equal(r.status, 200);
    assert.deepEqual(JSON.parse(r.body), { te: '', cl: '10', body: '0123456789' });
  });

  it('passes a chunked upstream response through whole', async () => {
    const r = await request(port, { host: 'echo.local', path: '/chunked-response' });
    assert.equal(r.status, 200);
    assert.equal(r.body, 'first,second');
  });

  it('passes a close-delimited upstream response through whole, twice', async () => {
    for (let i = 0; i < 2; i++) {
      const r = await request(port, { host: 'raw.local' });
      assert.equal(r.status, 200);
      assert.equal(r.body, 'until the connection closes');
    }
  });

  it('relays large responses byte for byte to clients that read slowly, three at once', async () => {
    const want = createHash('sha256').update(LARGE).digest('hex');
    const all = await Promise.all([slowGet(port, '/large'), slowGet(port, '/large'), slowGet(port, '/large')]);
    for (const r of all) {
      assert.equal(r.status, 200);
      assert.equal(r.bytes, LARGE.length);
      assert.equal(r.sha256, want);
    }
  });

  it('answers HEAD with headers only and the connection stays usable', async () => {
    const head = await request(port, { host: 'echo.local', method: 'HEAD', path: '/h' });
    assert.equal(head.status, 200);
    assert.equal(head.body, '');
    const after = await request(port, { host: 'echo.local', path: '/after-head' });
    assert.equal(after.status, 200);
  });

  it('reuses one keep-alive upstream connection for sequential requests', async () => {
    await request(port, { host: 'echo.local', path: '/warm' });
    const before = echoPeers.size;
    for (let i = 0; i < 10; i++) {
      const r = await request(port, { host: 'echo.local', path: `/seq/${i}` });
      assert.equal(r.status, 200);
      assert.match(r.body, new RegExp(`"body":""`));
    }
    assert.equal(echoPeers.size, before);
  });
});
