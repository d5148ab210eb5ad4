/**
 * The listener inspectors on first bytes: a real ClientHello from Node's TLS client gives 'tls', the SNI
 * (lower case) and the ALPN list, also when it arrives in pieces ('more' until complete); a ClientHello
 * beyond 64 KiB is 'too-large'; the HTTP inspector tells h2c from HTTP/1.1 and HTTP/1.0 and gives up at
 * once on bytes that cannot start an HTTP request (so TLS without a TLS inspector does not wait).
 */
import { strict as assert } from 'node:assert';
import type * as net from 'node:net';
import { Duplex } from 'node:stream';
import * as tls from 'node:tls';
import { describe, it } from 'node:test';
import { inspect } from '../src/listener-inspector';

function clientHello(opts: tls.ConnectionOptions): Promise<Buffer> {
  return new Promise((resolve) => {
    const sink = new Duplex({
      read() {
        // the server never answers
      },
      write(chunk: Buffer, _enc, cb) {
        resolve(chunk);
        cb();
      },
    });
    const c = tls.connect({ ...opts, socket: sink as unknown as net.Socket });
    c.on('error', () => undefined);
    setTimeout(() => c.destroy(), 100);
  });
}

describe('listener inspectors', () => {
  it('reads SNI and ALPN from a real ClientHello, whole or in pieces', async () => {
    const hello = await clientHello({ servername: 'Api.Example.COM', ALPNProtocols: ['h2', 'http/1.1'] });
    assert.deepEqual(inspect(hello, true, false), { transport: 'tls', sni: 'api.example.com', alpn: ['h2', 'http/1.1'] });
    for (const cut of [1, 5, 9, 40, hello.length - 1]) assert.equal(inspect(hello.subarray(0, cut), true, false), 'more', `cut at ${cut}`);
    const plain = await clientHello({ ALPNProtocols: [] });
    assert.deepEqual(inspect(plain, true, false), { transport: 'tls', sni: '', alpn: [] });
    // the same bytes without a TLS inspector: raw_buffer, and the HTTP inspector does not wait for more
    assert.deepEqual(inspect(hello, false, true), { transport: 'raw_buffer', sni: '', alpn: [] });
  });

  it('reads a ClientHello split over two TLS records, and refuses one beyond 64 KiB', async () => {
    const hello = await clientHello({ servername: 'split.example.org' });
    const body = hello.subarray(5);
    const rec = (b: Buffer) => Buffer.concat([Buffer.from([0x16, 3, 1, b.length >> 8, b.length & 0xff]), b]);
    const split = Buffer.concat([rec(body.subarray(0, 30)), rec(body.subarray(30))]);
    assert.deepEqual(inspect(split, true, false), { transport: 'tls', sni: 'split.example.org', alpn: [] });
    const huge = Buffer.concat([Buffer.from([0x16, 3, 1, 0x40, 0x00, 0x01, 0x01, 0x00, 0x00]), Buffer.alloc(0x4000 - 4)]);
    const many = Buffer.concat(Array.from({ length: 5 }, () => huge));
    assert.equal(inspect(many, true, false), 'too-large');
  });

  it('tells h2c, HTTP/1.1 and HTTP/1.0 apart and gives up on non-HTTP bytes', () => {
    const b = (s: string) => Buffer.from(s, 'latin1');
    assert.deepEqual(inspect(b('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n'), true, true), { transport: 'raw_buffer', sni: '', alpn: ['h2c'] });
    assert.equal(inspect(b('PRI * HTTP/2.0\r\n'), false, true), 'more');
    assert.deepEqual(inspect(b('GET /x HTTP/1.1\r\nhost: a\r\n'), false, true), { transport: 'raw_buffer', sni: '', alpn: ['http/1.1'] });
    assert.deepEqual(inspect(b('POST / HTTP/1.0\r\n'), false, true), { transport: 'raw_buffer', sni: '', alpn: ['http/1.0'] });
    assert.equal(inspect(b('GET / HTT'), false, true), 'more');
    assert.deepEqual(inspect(b('\u0000\u0001 binary'), false, true), { transport: 'raw_buffer', sni: '', alpn: [] });
    assert.deepEqual(inspect(b('SSH-2.0-OpenSSH\r\n'), false, true), { transport: 'raw_buffer', sni: '', alpn: [] });
  });
});
