/**
 * The token cache (token-cache.ts) remembers only tokens that verified, keyed by the whole token, and
 * checks the expiry again on every use: a cached token stops working the moment it expires, a forged
 * token is refused every time, and the cache stays within its bound.
 */
import { strict as assert } from 'node:assert';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { issueToken } from '../src/token';
import { TokenVerifier } from '../src/token-cache';

const code = (c: string) => (err: Error & { code?: string }) => err.code === `MESH_ERR_CITADEL_${c}`;

describe('TokenVerifier', () => {
  const key = randomBytes(32);
  const now = 1_800_000_000_000;

  it('serves a verified token from the cache until it expires, then refuses it as expired', () => {
    const tokens = new TokenVerifier(key);
    const token = issueToken(key, { namespace: 'ns', serviceAccount: 'sa', ttlMs: 60_000, now });
    assert.equal(tokens.verify(token, now).namespace, 'ns');
    assert.equal(tokens.size, 1);
    assert.equal(tokens.verify(token, now + 59_000).serviceAccount, 'sa');
    assert.throws(() => tokens.verify(token, now + 60_000), code('TOKEN_EXPIRED'));
    assert.throws(() => tokens.verify(token, now + 61_000), code('TOKEN_EXPIRED'));
  });

  it('never caches a token that did not verify', () => {
    const tokens = new TokenVerifier(key);
    const forged = issueToken(randomBytes(32), { namespace: 'ns', serviceAccount: 'sa', ttlMs: 60_000, now });
    assert.throws(() => tokens.verify(forged, now), code('TOKEN_INVALID'));
    assert.throws(() => tokens.verify(forged, now), code('TOKEN_INVALID'));
    const good = issueToken(key, { namespace: 'ns', serviceAccount: 'sa', ttlMs: 60_000, now });
    const tampered = `${good.slice(0, -2)}${good.endsWith('AA') ? 'AB' : 'AA'}`;
    assert.throws(() => tokens.verify(tampered, now), code('TOKEN_INVALID'));
    assert.equal(tokens.size, 0);
  });

  it('stays within its bound', () => {
    const tokens = new TokenVerifier(key, 3);
    for (let i = 0; i < 10; i++) tokens.verify(issueToken(key, { namespace: `ns${i}`, serviceAccount: 'sa', ttlMs: 60_000, now }), now);
    assert.ok(tokens.size <= 3, `size ${tokens.size}`);
  });
});
