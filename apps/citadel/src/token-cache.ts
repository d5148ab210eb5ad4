/**
 * Verified bearer tokens, remembered until they expire. A node agent sends the same token with every
 * request until it rotates it, so the HMAC, the JSON parse and the name checks of `verifyToken` run once
 * per token instead of once per call. Only tokens that verified are kept, keyed by the whole token text
 * (signature included), and the expiry is checked again on every use; the token key never changes while
 * the server runs. Bounded: when `maxEntries` is reached the cache is emptied and refills from use.
 */
import { errors } from './errors';
import { verifyToken, type TokenClaims } from './token';

export class TokenVerifier {
  private readonly verified = new Map<string, TokenClaims>();

  constructor(
    private readonly key: Buffer,
    private readonly maxEntries = 10_000,
  ) {}

  verify(token: string, now = Date.now()): TokenClaims {
    const known = this.verified.get(token);
    if (known !== undefined) {
      if (known.expiresAt > now) return known;
      this.verified.delete(token);
      throw errors.create('TOKEN_EXPIRED', { expiredAt: new Date(known.expiresAt).toISOString() });
    }
    const claims = verifyToken(this.key, token, now);
    if (this.verified.size >= this.maxEntries) this.verified.clear();
    this.verified.set(token, claims);
    return claims;
  }

  get size(): number {
    return this.verified.size;
  }
}
