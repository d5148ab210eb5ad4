/**
 * The token bucket of envoy.type.v3.TokenBucket as Envoy 1.36 runs it for local rate limits: it starts
 * full (max_tokens) and refills continuously at tokens_per_fill per fill_interval, never above max_tokens
 * (no refill timer). `consume` is the per-request check of a single process; `take` and the two waits are
 * what the primary needs to hand out leases when several workers share one bucket (ratelimit-primary.ts).
 */
export class TokenBucket {
  private tokens: number;
  private last: number;
  /** tokens per millisecond */
  private readonly rate: number;

  constructor(
    readonly maxTokens: number,
    tokensPerFill: number,
    fillIntervalMs: number,
  ) {
    this.tokens = maxTokens;
    this.rate = tokensPerFill / fillIntervalMs;
    this.last = performance.now();
  }

  /** Takes one token; false when none is left. */
  consume(): boolean {
    const now = performance.now();
    this.tokens = Math.min(this.maxTokens, this.tokens + (now - this.last) * this.rate);
    this.last = now;
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }

  /** Takes up to `n` whole tokens at once; returns how many were taken (0 when none is left). */
  take(n: number): number {
    const now = performance.now();
    this.tokens = Math.min(this.maxTokens, this.tokens + (now - this.last) * this.rate);
    this.last = now;
    const k = Math.min(n, Math.floor(this.tokens));
    if (k <= 0) return 0;
    this.tokens -= k;
    return k;
  }

  /** Whole tokens left after the last `consume`/`take` (no refill applied). */
  get level(): number {
    return Math.floor(this.tokens);
  }

  /** Milliseconds from the last `consume`/`take` until a whole token is there (0: one is there). */
  msUntilToken(): number {
    return this.tokens >= 1 ? 0 : (1 - this.tokens) / this.rate;
  }

  /**
   * Milliseconds from the last `consume`/`take` until the bucket is full: from then on it is the same as a
   * fresh bucket, so whoever keeps it may drop it.
   */
  msUntilFull(): number {
    return (this.maxTokens - this.tokens) / this.rate;
  }

  /** performance.now() of the last `consume`/`take` */
  get lastUsed(): number {
    return this.last;
  }
}
