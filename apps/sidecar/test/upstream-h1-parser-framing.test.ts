/**
 * The lean upstream client's response parser: Content-Length, chunked (with trailers) and close-delimited
 * bodies, fed whole and split at every byte; interim 1xx answers skipped; HEAD/204/304 without a body; the
 * shapes Envoy refuses are errors.
 */
import { describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import type { ResponseHeaders } from '../src/h1-framing';
import { H1ResponseParser } from '../src/upstream-h1-parser';

interface Parsed {
  status: number;
  headers: ResponseHeaders;
  keepAlive: boolean;
  body: string;
  trailers: ResponseHeaders | undefined;
  complete: number;
}

/**
 * Parses `wire` delivered in pieces cut at `cuts`; returns what the handler saw and the error, if any.
 * `shared`: every piece arrives in the same buffer, overwritten after each execute() (a socket reading into
 * one reused buffer), and the parser is told its chunks are transient.
 */
function parse(wire: string, cuts: number[] = [], noBody = false, eof = false, shared = false): { r: Parsed; err: string | undefined; extra: boolean } {
  const r: Parsed = { status: 0, headers: {}, keepAlive: false, body: '', trailers: undefined, complete: 0 };
  const p = new H1ResponseParser(
    {
      onHead(status, headers, keepAlive) {
        r.status = status;
        r.headers = headers;
        r.keepAlive = keepAlive;
      },
      onBody(chunk) {
        r.body += chunk.toString('latin1');
      },
      onComplete(trailers) {
        r.trailers = trailers;
        r.complete++;
      },
    },
    1024,
    shared,
  );
  p.reset(noBody);
  const buf = Buffer.from(wire, 'latin1');
  const reused = Buffer.alloc(buf.length);
  let start = 0;
  let err: string | undefined;
  for (const cut of [...cuts, buf.length]) {
    if (shared) {
      const n = buf.copy(reused, 0, start, cut);
      err = p.execute(reused.subarray(0, n));
      reused.fill('#');
    } else err = p.execute(buf.subarray(start, cut));
    start = cut;
    if (err !== undefined) break;
  }
  if (err === undefined && eof) err = p.finish();
  return { r, err, extra: p.extra };
}

/** Every way of splitting `wire` in two, and byte by byte. */
function splits(wire: string): number[][] {
  const out: number[][] = [[]];
  for (let i = 1; i < wire.length; i++) out.push([i]);
  out.push(Array.from({ length: wire.length - 1 }, (_, i) => i + 1));
  return out;
}

describe('upstream HTTP/1.1 response parser', () => {
  it('reads a content-length body however the bytes are split', () => {
    const wire = 'HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX-A: 1\r\nx-a: 2\r\nSet-Cookie: a=1\r\n\r\nhello';
    for (const cuts of splits(wire)) {
      const { r, err } = parse(wire, cuts);
      assert.equal(err, undefined);
      assert.equal(r.status, 200);
      assert.equal(r.body, 'hello');
      assert.equal(r.complete, 1);
      assert.equal(r.keepAlive, true);
      assert.equal(r.headers['x-a'], '1, 2');
      assert.deepEqual(r.headers['set-cookie'], ['a=1']);
    }
  });

  it('decodes chunked bodies with extensions and trailers however the bytes are split', () => {
    const wire = 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;ext=1\r\nhello\r\n1A\r\nabcdefghijklmnopqrstuvwxyz\r\n0\r\nGrpc-Status: 0\r\n\r\n';
    for (const cuts of splits(wire)) {
      const { r, err, extra } = parse(wire, cuts);
      assert.equal(err, undefined);
      assert.equal(r.body, 'helloabcdefghijklmnopqrstuvwxyz');
      assert.equal(r.complete, 1);
      assert.deepEqual({ ...r.trailers }, { 'grpc-status': '0' });
      assert.equal(extra, false);
    }
  });

  it('keeps what it needs from chunks read into one reused buffer, however the bytes are split', () => {
    const wire = 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nX-Long-Header: abcdefghijklmnopqrstuvwxyz\r\n\r\n5;ext=1\r\nhello\r\n1A\r\nabcdefghijklmnopqrstuvwxyz\r\n0\r\nGrpc-Status: 0\r\n\r\n';
    for (const cuts of splits(wire)) {
      const { r, err } = parse(wire, cuts, false, false, true);
      assert.equal(err, undefined);
      assert.equal(r.headers['x-long-header'], 'abcdefghijklmnopqrstuvwxyz');
      assert.equal(r.body, 'helloabcdefghijklmnopqrstuvwxyz');
      assert.deepEqual({ ...r.trailers }, { 'grpc-status': '0' });
    }
  });

  it('ends a body without framing at EOF and never reuses that connection', () => {
    const wire = 'HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nuntil the end';
    const { r, err } = parse(wire, [20, 40], false, true);
    assert.equal(err, undefined);
    assert.equal(r.body, 'until the end');
    assert.equal(r.complete, 1);
    assert.equal(r.keepAlive, false);
    assert.equal(parse(wire, [], false, false).r.complete, 0);
  });

  it('skips 100 Continue, and reads no body for HEAD, 204 and 304', () => {
    const cont = parse('HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\nok', [10, 30]);
    assert.equal(cont.r.status, 201);
    assert.equal(cont.r.body, 'ok');
    const head = parse('HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n', [], true);
    assert.equal(head.r.complete, 1);
    assert.equal(head.r.body, '');
    for (const status of [204, 304]) assert.equal(parse(`HTTP/1.1 ${status} X\r\n\r\n`).r.complete, 1);
  });

  it('honours Connection: close and HTTP/1.0 keep-alive', () => {
    assert.equal(parse('HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0\r\n\r\n').r.keepAlive, false);
    assert.equal(parse('HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n').r.keepAlive, false);
    assert.equal(parse('HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 0\r\n\r\n').r.keepAlive, true);
  });

  it('keeps header names like __proto__ and constructor as plain entries, and inherits none', () => {
    const { r, err } = parse('HTTP/1.1 200 OK\r\n__proto__: a\r\nConstructor: b\r\nContent-Length: 0\r\n\r\n');
    assert.equal(err, undefined);
    assert.equal(r.headers['__proto__'], 'a');
    assert.equal(r.headers.constructor, 'b');
    assert.deepEqual(Object.keys(r.headers), ['__proto__', 'constructor', 'content-length']);
    const plain = parse('HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n').r.headers;
    for (const name of ['constructor', 'toString', 'hasOwnProperty', '__proto__']) assert.equal(plain[name], undefined, name);
  });

  it('flags bytes after the end of the response', () => {
    const { r, extra } = parse('HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nxHTTP/1.1');
    assert.equal(r.body, 'x');
    assert.equal(extra, true);
  });

  it('refuses the malformed and ambiguous shapes', () => {
    const bad: [string, RegExp][] = [
      ['HTTP/1.1 200 OK\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n', /content-length with transfer-encoding/],
      ['HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nx', /conflicting content-length/],
      ['HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n', /invalid content-length/],
      ['HTTP/1.1 200 OK\r\nX-A: 1\r\n folded\r\n\r\n', /folded/],
      ['HTTP/1.1 200 OK\r\nBad Name: 1\r\n\r\n', /invalid header name/],
      ['HTTP/1.1 200 OK\r\nX-A: a\nb\r\n\r\n', /invalid value/],
      ['HTTP/1.1 2x0 OK\r\n\r\n', /malformed status line/],
      ['HTTP/2.0 200 OK\r\n\r\n', /malformed status line/],
      ['HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n', /invalid chunk size/],
      ['HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nxy\r\n', /not terminated by CRLF/],
      [`HTTP/1.1 200 OK\r\nX-Big: ${'a'.repeat(2000)}\r\n\r\n`, /too large/],
    ];
    for (const [wire, message] of bad) {
      const { err } = parse(wire);
      assert.match(err ?? '', message, JSON.stringify(wire));
    }
    assert.match(parse('HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc', [], false, true).err ?? '', /mid-response/);
    assert.match(parse('', [], false, true).err ?? '', /before responding/);
  });
});
