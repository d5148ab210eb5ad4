/**
 * Well-known header names are matched in place in any letter case and come back as the lower-case constant;
 * only letters fold (a character that is one case bit away from '-' or '_' is no match), and a name that is
 * not known, or only a prefix of one, is left to the long path. Through the parser both paths give the same
 * headers.
 */
import { describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import { knownHeaderName } from '../src/h1-header-names';
import { H1ResponseParser } from '../src/upstream-h1-parser';
import type { ResponseHeaders } from '../src/h1-framing';

function known(name: string): string | undefined {
  const text = `${name}: v`;
  return knownHeaderName(text, 0, name.length);
}

describe('well-known header names', () => {
  it('matches any letter case and answers the lower-case name', () => {
    assert.equal(known('Content-Length'), 'content-length');
    assert.equal(known('HOST'), 'host');
    assert.equal(known('x-Envoy-Peer-Metadata-Id'), 'x-envoy-peer-metadata-id');
    assert.equal(known('user-agent'), 'user-agent');
  });

  it('folds letters only', () => {
    // '\r' is '-' minus 32 and '?' is '_' minus 32: neither may pass for the other.
    assert.equal(known('Content\rLength'), undefined);
    assert.equal(known('x-b3\rsampled'), undefined);
    assert.equal(known('x-b3-sampleD'), 'x-b3-sampled');
    assert.equal(known('hosT '), undefined);
  });

  it('leaves unknown names and prefixes of known ones to the long path', () => {
    assert.equal(known('x-custom'), undefined);
    assert.equal(known('content-lengt'), undefined);
    assert.equal(knownHeaderName('xhost: 1', 1, 5), 'host', 'matched at an offset');
  });

  it('gives the same headers through the parser on either path', () => {
    let headers: ResponseHeaders = {};
    const p = new H1ResponseParser({ onHead: (_s, h) => (headers = h), onBody: () => undefined, onComplete: () => undefined }, 4096);
    p.reset(false);
    const err = p.execute(Buffer.from('HTTP/1.1 200 OK\r\nSERVER: a\r\nX-Custom-Thing: b\r\nContent-Length: 0\r\nset-cookie: c=1\r\nSet-Cookie: d=2\r\n\r\n', 'latin1'));
    assert.equal(err, undefined);
    assert.deepEqual({ ...headers }, { server: 'a', 'x-custom-thing': 'b', 'content-length': '0', 'set-cookie': ['c=1', 'd=2'] });
    p.reset(false);
    assert.match(p.execute(Buffer.from('HTTP/1.1 200 OK\r\nContent\rLength: 1\r\n\r\n', 'latin1')) ?? '', /invalid header name/);
  });
});
