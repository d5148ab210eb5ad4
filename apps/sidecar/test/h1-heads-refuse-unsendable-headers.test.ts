/**
 * The HTTP/1.1 head writers (the upstream request head, the downstream response head) refuse a header name
 * that is not a token and a value with a control character, DEL or a character beyond latin1, however often
 * the same name or a long value of the same length passed before (names and long values are remembered).
 */
import { describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import type { Duplex } from 'node:stream';
import { H1Response, type H1ResponseOwner } from '../src/downstream-h1-exchange';
import { requestHead } from '../src/upstream-h1-client';

const BAD_VALUES = ['a\r\nx-injected: 1', 'a\nb', 'a\rb', 'nul\x00', 'bell\x07', 'del\x7f', 'wide\u0100'];
const BAD_NAMES = ['bad name', 'x:y', 'x\r\ny', '', 'ü'];

function response(): { res: H1Response; out: string[] } {
  const out: string[] = [];
  const socket = { write: (b: Buffer | string) => (out.push(b.toString()), true), cork: () => undefined, uncork: () => undefined, destroy: () => undefined } as unknown as Duplex;
  const owner: H1ResponseOwner = { socket, responseDone: () => undefined, pauseBody: () => undefined, resumeBody: () => undefined, touch: () => undefined };
  return { res: new H1Response(owner, 1, true, false), out };
}

describe('HTTP/1.1 head writers', () => {
  it('refuse names that are not tokens, even after valid names', () => {
    assert.match(requestHead('GET', '/', { host: 'h', 'x-ok': '1' }, ''), /x-ok: 1\r\n/);
    for (const name of BAD_NAMES) {
      assert.throws(() => requestHead('GET', '/', { host: 'h', [name]: 'v' }, ''), /invalid header name/, JSON.stringify(name));
      assert.throws(() => response().res.writeHead(200, { [name]: 'v' }), /invalid header name/, JSON.stringify(name));
    }
  });

  it('refuse values with control characters, DEL or beyond latin1', () => {
    for (const value of BAD_VALUES) {
      assert.throws(() => requestHead('GET', '/', { host: 'h', 'x-v': value }, ''), /invalid value/, JSON.stringify(value));
      assert.throws(() => requestHead('GET', '/', { host: 'h', 'x-v': ['ok', value] }, ''), /invalid value/, JSON.stringify(value));
      assert.throws(() => response().res.writeHead(200, { 'x-v': value }), /invalid value/, JSON.stringify(value));
    }
  });

  it('refuse a long value that differs from one that passed only by a line break', () => {
    const good = `${'m'.repeat(100)}==`;
    const bad = `${'m'.repeat(50)}\r\n${'m'.repeat(48)}==`;
    assert.equal(bad.length, good.length);
    for (let i = 0; i < 3; i++) assert.match(requestHead('GET', '/', { host: 'h', 'x-envoy-peer-metadata': good }, ''), new RegExp(good));
    assert.throws(() => requestHead('GET', '/', { host: 'h', 'x-envoy-peer-metadata': bad }, ''), /invalid value/);
    const { res, out } = response();
    res.writeHead(200, { 'x-envoy-peer-metadata': good, 'content-length': '0' }).end();
    assert.match(out.join(''), new RegExp(`x-envoy-peer-metadata: ${good}\r\n`));
    assert.throws(() => response().res.writeHead(200, { 'x-envoy-peer-metadata': bad }), /invalid value/);
  });
});
