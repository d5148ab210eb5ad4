/**
 * The lean upstream HTTP/1.1 client against real sockets: keep-alive reuse of one connection, requests
 * queued behind max_connections, a streamed request body re-framed as chunked, a close-delimited response,
 * a connection refused, backpressure (the upstream socket is paused while the sink is full), and the pool's
 * idle timeout; an idempotent request replayed once when a reused connection closes under it.
 */
import { after, before, describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import * as http from 'node:http';
import * as net from 'node:net';
import { PassThrough } from 'node:stream';
import { H1Exchange, H1Pool, requestHead, type H1ResponseSink } from '../src/upstream-h1-client';
import type { ResponseHeaders } from '../src/h1-framing';

class Collect implements H1ResponseSink {
  status = 0;
  headers: ResponseHeaders = {};
  chunks: Buffer[] = [];
  error: NodeJS.ErrnoException | undefined;
  /** onUpstreamData answers false while this is set */
  full = false;
  readonly done: Promise<void>;
  private resolve!: () => void;
  constructor() {
    this.done = new Promise((r) => (this.resolve = r));
  }
  onUpstreamHead(status: number, headers: ResponseHeaders): void {
    this.status = status;
    this.headers = headers;
  }
  onUpstreamData(chunk: Buffer): boolean {
    this.chunks.push(Buffer.from(chunk));
    return !this.full;
  }
  onUpstreamEnd(): void {
    this.resolve();
  }
  onUpstreamError(err: NodeJS.ErrnoException): void {
    this.error = err;
    this.resolve();
  }
  body(): string {
    return Buffer.concat(this.chunks).toString();
  }
}

function get(pool: H1Pool, path: string, sink: H1ResponseSink): H1Exchange {
  const ex = new H1Exchange(pool, requestHead('GET', path, { host: 'up' }, ''), false, Buffer.alloc(0), undefined, false, sink);
  pool.request(ex);
  return ex;
}

async function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([p, new Promise<T>((_, reject) => (timer = setTimeout(() => reject(new Error(`timed out: ${what}`)), ms)))]);
  } finally {
    clearTimeout(timer);
  }
}

describe('lean upstream HTTP/1.1 client', () => {
  let server: http.Server;
  let port = 0;
  const peers = new Set<string>();
  const pools: H1Pool[] = [];
  let bigSent = 0;

  before(async () => {
    server = http.createServer((req, res) => {
      peers.add(`${req.socket.remotePort}`);
      if (req.url === '/echo') {
        const parts: Buffer[] = [];
        req.on('data', (c: Buffer) => parts.push(c));
        req.on('end', () => res.end(JSON.stringify({ te: req.headers['transfer-encoding'] ?? '', body: Buffer.concat(parts).toString() })));
      } else if (req.url === '/slow') setTimeout(() => res.end('slow'), 100);
      else if (req.url === '/big') {
        // Writes until the socket pushes back, then reports how much it sent once the client read it all.
        const chunk = Buffer.alloc(64 * 1024, 'b');
        const pump = (): void => {
          while (bigSent < 32 * 1024 * 1024) {
            bigSent += chunk.length;
            if (!res.write(chunk)) {
              res.once('drain', pump);
              return;
            }
          }
          res.end();
        };
        pump();
      } else res.end(`hello ${req.url}`);
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    port = (server.address() as net.AddressInfo).port;
  });

  after(async () => {
    for (const p of pools) p.destroy();
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  });

  const pool = (max: number): H1Pool => {
    const p = new H1Pool('127.0.0.1', port, max, 1000, 10_000);
    pools.push(p);
    return p;
  };

  it('reuses one keep-alive connection for sequential requests', async () => {
    peers.clear();
    const p = pool(4);
    for (let i = 0; i < 5; i++) {
      const sink = new Collect();
      get(p, `/n${i}`, sink);
      await within(sink.done, 5000, 'response');
      assert.equal(sink.error, undefined);
      assert.equal(sink.status, 200);
      assert.equal(sink.body(), `hello /n${i}`);
    }
    assert.equal(peers.size, 1);
    assert.equal(p.connections(), 1);
  });

  it('queues requests beyond max connections and serves them in order', async () => {
    peers.clear();
    const p = pool(1);
    const sinks = [new Collect(), new Collect(), new Collect()];
    get(p, '/slow', sinks[0]);
    get(p, '/a', sinks[1]);
    get(p, '/b', sinks[2]);
    assert.equal(p.pending(), 2);
    await within(Promise.all(sinks.map((s) => s.done)), 5000, 'queued responses');
    assert.deepEqual(sinks.map((s) => s.body()), ['slow', 'hello /a', 'hello /b']);
    assert.equal(peers.size, 1);
    assert.equal(p.pending(), 0);
  });

  it('streams a request body without a length as chunked', async () => {
    const p = pool(2);
    const body = new PassThrough();
    const sink = new Collect();
    p.request(new H1Exchange(p, requestHead('POST', '/echo', { host: 'up' }, 'transfer-encoding: chunked\r\n'), false, undefined, body, true, sink));
    body.write('part one, ');
    setTimeout(() => body.end('part two'), 20);
    await within(sink.done, 5000, 'echo');
    assert.deepEqual(JSON.parse(sink.body()), { te: 'chunked', body: 'part one, part two' });
  });

  it('reads a close-delimited response and then opens a new connection', async () => {
    const raw = net.createServer((s) => {
      s.once('data', () => s.end('HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\n\r\nuntil close'));
    });
    await new Promise<void>((r) => raw.listen(0, '127.0.0.1', r));
    try {
      const p = new H1Pool('127.0.0.1', (raw.address() as net.AddressInfo).port, 4, 1000, 10_000);
      pools.push(p);
      for (let i = 0; i < 2; i++) {
        const sink = new Collect();
        get(p, '/', sink);
        await within(sink.done, 5000, 'close-delimited response');
        assert.equal(sink.error, undefined);
        assert.equal(sink.body(), 'until close');
      }
    } finally {
      await new Promise((r) => raw.close(r));
    }
  });

  it('reports a refused connection with its code', async () => {
    const closed = net.createServer();
    await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
    const deadPort = (closed.address() as net.AddressInfo).port;
    await new Promise((r) => closed.close(r));
    const p = new H1Pool('127.0.0.1', deadPort, 4, 1000, 10_000);
    pools.push(p);
    const sink = new Collect();
    get(p, '/', sink);
    await within(sink.done, 5000, 'connect error');
    assert.equal(sink.error?.code, 'ECONNREFUSED');
    // The slot is given back once the socket has closed.
    for (let i = 0; i < 50 && p.connections() > 0; i++) await new Promise((r) => setTimeout(r, 20));
    assert.equal(p.connections(), 0);
  });

  it('stops reading the upstream while the sink is full', async () => {
    bigSent = 0;
    const p = pool(1);
    const sink = new Collect();
    sink.full = true;
    const ex = get(p, '/big', sink);
    // The sink took one read's worth and said stop: the server must be held back by TCP flow control.
    for (let i = 0; i < 100 && sink.chunks.length === 0; i++) await new Promise((r) => setTimeout(r, 20));
    await new Promise((r) => setTimeout(r, 300));
    const received = sink.chunks.reduce((n, c) => n + c.length, 0);
    assert.ok(received > 0);
    assert.ok(bigSent < 32 * 1024 * 1024, `server sent everything (${bigSent} bytes) although the client stopped reading`);
    sink.full = false;
    ex.resume();
    await within(sink.done, 20_000, 'the rest of the body');
    assert.equal(sink.chunks.reduce((n, c) => n + c.length, 0), 32 * 1024 * 1024);
  });

  it('closes a connection that stayed idle in the pool for idle_timeout, and only then', async () => {
    const p = new H1Pool('127.0.0.1', port, 4, 1000, 1000);
    pools.push(p);
    const first = new Collect();
    get(p, '/a', first);
    await within(first.done, 5000, 'first response');
    assert.equal(p.connections(), 1);
    // Still open well before the idle timeout: a second request reuses it.
    await new Promise((r) => setTimeout(r, 300));
    const second = new Collect();
    get(p, '/b', second);
    await within(second.done, 5000, 'second response');
    assert.equal(p.connections(), 1);
    const t0 = Date.now();
    for (let i = 0; i < 300 && p.connections() > 0; i++) await new Promise((r) => setTimeout(r, 20));
    assert.equal(p.connections(), 0, 'the idle connection was never closed');
    assert.ok(Date.now() - t0 >= 900, `closed after ${Date.now() - t0} ms, before the idle timeout`);
  });

  it('sends an idempotent request again when a reused connection was closed before answering; never a POST', async () => {
    // Answers the first request on each connection (keep-alive), then closes the connection on the next
    // one without a byte: the upstream's idle close racing the proxy's write, made deterministic.
    let connections = 0;
    const racy = net.createServer((s) => {
      connections++;
      let seen = 0;
      let buf = '';
      s.on('error', () => undefined);
      s.on('data', (d: Buffer) => {
        buf += d.toString('latin1');
        while (buf.includes('\r\n\r\n')) {
          buf = buf.slice(buf.indexOf('\r\n\r\n') + 4);
          if (++seen === 1) s.write('HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok');
          else s.destroy();
        }
      });
    });
    await new Promise<void>((resolve) => racy.listen(0, '127.0.0.1', resolve));
    try {
      const p = new H1Pool('127.0.0.1', (racy.address() as net.AddressInfo).port, 4, 1000, 10_000);
      pools.push(p);
      const send = async (method: string): Promise<Collect> => {
        const sink = new Collect();
        p.request(new H1Exchange(p, requestHead(method, '/r', { host: 'up' }, method === 'POST' ? 'content-length: 0\r\n' : ''), false, Buffer.alloc(0), undefined, false, sink, method !== 'POST'));
        await within(sink.done, 5000, `${method} response`);
        return sink;
      };
      assert.equal((await send('GET')).status, 200);
      const again = await send('GET');
      assert.equal(again.error, undefined, `replayed GET failed: ${again.error?.message}`);
      assert.equal(again.status, 200);
      assert.equal(connections, 2);
      const post = await send('POST');
      assert.equal(post.error?.code, 'ECONNRESET');
      assert.equal(connections, 2);
    } finally {
      racy.close();
    }
  });
});
