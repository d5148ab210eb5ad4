/**
 * The primary's side of local rate limits under --concurrency N: one authoritative token bucket per key
 * (the key names the listener / filter chain / route and digests the rate limit config, so every worker
 * derives the same key from the same xDS, and a changed config is a new key and a fresh bucket). Workers
 * ask for tokens over node:cluster IPC (ratelimit-shared-bucket.ts); the primary takes what they need from
 * the bucket and, while the bucket is well filled, a small lease on top so the next requests need no IPC.
 * Leases shrink as the bucket runs low and are 0 below 8 × N tokens, so tokens are handed out one by one
 * at the end. Every admitted request spent a token taken from this bucket, so admissions over all workers
 * never exceed max_tokens + refills; tokens leased to a worker that then sees no traffic are the only
 * slack (fewer admissions, at most one lease per worker; see leaseFor).
 * A bucket untouched until it is full again is dropped: a full bucket is the same as a fresh one.
 */
import type { Worker } from 'node:cluster';
import type { Logger } from '@mesh/runtime';
import { parseAsk, type RateLimitAsk, type RateLimitGrant } from './ratelimit-ipc';
import { TokenBucket } from './ratelimit-token-bucket';

/** The largest lease a worker gets on top of what it asked for. */
export const LEASE_MAX = 32;
/** How often full buckets are dropped. */
const SWEEP_MS = 30_000;
/** Buckets kept at most; beyond, asks for new keys go unanswered (the worker decides alone, and says so). */
const MAX_BUCKETS = 100_000;
/** At most one log line per this many ms about bad messages. */
const LOG_EVERY_MS = 10_000;

/**
 * Extra tokens for a worker's lease when `level` whole tokens are left after its `want`: 1/(8N) of them,
 * at most LEASE_MAX. Each worker holds at most one lease's remainder, so the tokens sitting in leases are
 * at most N × min(LEASE_MAX, level/(8N)) <= max_tokens / 8.
 */
export function leaseFor(level: number, workers: number): number {
  return Math.max(0, Math.min(LEASE_MAX, Math.floor(level / (8 * Math.max(1, workers)))));
}

export class SharedBuckets {
  private readonly buckets = new Map<string, TokenBucket>();

  constructor(private readonly workers: () => number) {}

  /** The answer to one ask; undefined when the primary keeps no more buckets. */
  answer(ask: RateLimitAsk): RateLimitGrant | undefined {
    let b = this.buckets.get(ask.key);
    if (!b) {
      if (this.buckets.size >= MAX_BUCKETS) return undefined;
      b = new TokenBucket(ask.maxTokens, ask.tokensPerFill, ask.fillIntervalMs);
      this.buckets.set(ask.key, b);
    }
    const n = this.workers();
    let granted = b.take(ask.want);
    if (granted === ask.want) granted += b.take(leaseFor(b.level, n));
    return { meshRl: 'grant', id: ask.id, granted, emptyForMs: b.msUntilToken(), workers: n };
  }

  /** Drops buckets that are full again (indistinguishable from fresh ones). */
  sweep(now = performance.now()): void {
    for (const [key, b] of this.buckets) if (now - b.lastUsed >= b.msUntilFull()) this.buckets.delete(key);
  }

  get size(): number {
    return this.buckets.size;
  }
}

/** Primary: answers every worker's rate limit asks from the shared buckets. */
export function serveSharedRateLimits(workers: readonly Worker[], log: Logger): SharedBuckets {
  const shared = new SharedBuckets(() => workers.reduce((n, w) => (w.isDead() ? n : n + 1), 0));
  let lastLog = -Infinity;
  const complain = (what: string, worker: number): void => {
    const now = performance.now();
    if (now - lastLog < LOG_EVERY_MS) return;
    lastLog = now;
    log.warn(what, { worker });
  };
  for (const w of workers) {
    w.on('message', (m: unknown) => {
      const ask = parseAsk(m, (reason) => complain(`rate limit ask refused: ${reason}`, w.id));
      if (!ask) return;
      const grant = shared.answer(ask);
      if (!grant) {
        complain('rate limit buckets full; ask left unanswered', w.id);
        return;
      }
      if (w.isDead() || !w.isConnected()) return;
      try {
        w.send(grant, undefined, ignoreSendError);
      } catch {
        // the worker is going away: its leases go with it
      }
    });
  }
  setInterval(() => shared.sweep(), SWEEP_MS).unref();
  return shared;
}

const ignoreSendError = (): void => undefined;
