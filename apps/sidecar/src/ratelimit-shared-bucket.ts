/**
 * A worker's view of a local rate limit bucket shared by all --concurrency workers (Envoy shares one token
 * bucket across its worker threads; here the primary holds it, ratelimit-primary.ts). `consume` takes a
 * token from the worker's lease, synchronously; with the lease empty the request (or connection) waits
 * for the primary through `wait`: requests waiting at the same time share one ask, and a "no" from the
 * primary is remembered until its bucket has a token again (no IPC per refused request under overload).
 *
 * The primary not answering within ASK_TIMEOUT_MS: the waiting requests are decided here, from this
 * worker's share of the bucket (max_tokens / N, refilled at 1/N of the rate). Not admitting everything,
 * because a stalled primary would then lift the limit altogether; not refusing everything, because a
 * hiccup of the primary would then become an outage. The bound while the primary is stalled: at most
 * max_tokens + refills more over all workers. Each such decision is counted
 * (local_rate_limit.shared_bucket.fallback_ok / fallback_rate_limited, and .timeouts per ask); an answer
 * arriving after its timeout is dropped (its tokens are lost: fewer admissions, never more).
 */
import cluster from 'node:cluster';
import { createHash } from 'node:crypto';
import { processCounters, type Counter } from './stats-counters';
import { parseGrant, type RateLimitAsk } from './ratelimit-ipc';
import { TokenBucket } from './ratelimit-token-bucket';

export const ASK_TIMEOUT_MS = 50;
/** Until the primary said how many workers there are: the smallest number that needs sharing. */
const DEFAULT_WORKERS = 2;

type Done = (ok: boolean) => void;

/** True in a node:cluster worker: the sidecar forks workers only for --concurrency > 1. */
export function workersShareBuckets(): boolean {
  return cluster.isWorker;
}

/**
 * The key every worker derives alike from the same xDS: the config's field path (resource name, filter
 * chain, filter or virtual host / route) and a digest of the rate limit config itself, so a changed config
 * gets a fresh bucket.
 */
export function sharedBucketKey(path: string, config: unknown): string {
  return `${path}#${createHash('sha256').update(JSON.stringify(config)).digest('base64url').slice(0, 22)}`;
}

interface SharedCounters {
  asks: Counter;
  timeouts: Counter;
  fallbackOk: Counter;
  fallbackLimited: Counter;
}

let counters: SharedCounters | undefined;
function sharedCounters(): SharedCounters {
  if (!counters) {
    const c = (k: string): Counter => processCounters.counter(`local_rate_limit.shared_bucket.${k}`);
    counters = { asks: c('asks'), timeouts: c('timeouts'), fallbackOk: c('fallback_ok'), fallbackLimited: c('fallback_rate_limited') };
  }
  return counters;
}

/** asks in flight, by id */
const inFlight = new Map<number, SharedTokenBucket>();
let nextId = 0;
let listening = false;
let workersSeen = DEFAULT_WORKERS;
const ignoreSendError = (): void => undefined;

function onMessage(m: unknown): void {
  const g = parseGrant(m);
  if (!g) return;
  const b = inFlight.get(g.id);
  if (!b) return;
  inFlight.delete(g.id);
  if (g.workers > 0) workersSeen = g.workers;
  b.granted(g.id, g.granted, g.emptyForMs);
}

export class SharedTokenBucket extends TokenBucket {
  /** tokens taken from the primary and not used yet */
  private lease = 0;
  /** performance.now() before which the primary has no whole token (a refusal without asking) */
  private emptyUntil = 0;
  /** requests waiting for the primary's answer, oldest first */
  private readonly waiters: Done[] = [];
  /** the ask in flight (0: none), when it was sent, and how many of the waiters it covers */
  private askId = 0;
  private askSentAt = 0;
  private covered = 0;
  private timer: NodeJS.Timeout | undefined = undefined;
  /** lease left at which the next lease is asked for ahead of time (-1: never) */
  private lowWater = -1;
  /** this worker's share, used only when the primary does not answer */
  private fallback: TokenBucket | undefined = undefined;

  constructor(
    readonly key: string,
    maxTokens: number,
    private readonly tokensPerFill: number,
    private readonly fillIntervalMs: number,
  ) {
    super(maxTokens, tokensPerFill, fillIntervalMs);
  }

  /** A token from the lease; false when the lease is empty (then `wait`). */
  override consume(): boolean {
    if (this.lease <= 0) return false;
    this.lease--;
    if (this.lease === this.lowWater && this.askId === 0) this.ask(0);
    return true;
  }

  /**
   * After `consume` returned false: false when the shared bucket is known to be empty now; otherwise
   * undefined, and `done` is called with the decision within ASK_TIMEOUT_MS (plus event-loop delay).
   */
  wait(done: Done): false | undefined {
    if (this.waiters.length === 0 && performance.now() < this.emptyUntil) return false;
    this.waiters.push(done);
    if (this.askId === 0) this.ask(this.waiters.length);
    return undefined;
  }

  private ask(want: number): void {
    const id = ++nextId;
    this.askId = id;
    this.askSentAt = performance.now();
    this.covered = want;
    const c = sharedCounters();
    c.asks.value++;
    if (!listening) {
      listening = true;
      process.on('message', onMessage);
    }
    const msg: RateLimitAsk = { meshRl: 'ask', id, key: this.key, want, maxTokens: this.maxTokens, tokensPerFill: this.tokensPerFill, fillIntervalMs: this.fillIntervalMs };
    inFlight.set(id, this);
    this.timer = setTimeout(this.onTimeout, ASK_TIMEOUT_MS);
    try {
      if (!process.send) throw new Error('no IPC channel');
      process.send(msg, undefined, {}, ignoreSendError);
    } catch {
      // no channel to the primary: the timeout decides alone
    }
  }

  /** The primary's answer to ask `id`. */
  granted(id: number, n: number, emptyForMs: number): void {
    if (id !== this.askId) return;
    clearTimeout(this.timer);
    this.timer = undefined;
    this.askId = 0;
    const covered = this.covered;
    this.lease += n;
    this.emptyUntil = emptyForMs > 0 ? this.askSentAt + emptyForMs : 0;
    this.lowWater = n - covered >= 2 ? (n - covered) >> 1 : -1;
    const w = this.waiters;
    let served = 0;
    while (w.length > 0 && this.lease > 0) {
      this.lease--;
      served++;
      (w.shift() as Done)(true);
    }
    // The waiters this ask covered and the primary had no token for are refused, as an empty bucket does.
    for (let refuse = covered - served; refuse > 0 && w.length > 0; refuse--) (w.shift() as Done)(false);
    // Waiters that arrived after the ask went out: ask for them.
    if (w.length > 0) this.ask(w.length);
  }

  private readonly onTimeout = (): void => {
    inFlight.delete(this.askId);
    this.askId = 0;
    this.timer = undefined;
    const c = sharedCounters();
    c.timeouts.value++;
    const w = this.waiters.splice(0);
    if (w.length === 0) return;
    if (!this.fallback) {
      const n = Math.max(1, workersSeen);
      this.fallback = new TokenBucket(Math.max(1, this.maxTokens / n), this.tokensPerFill / n, this.fillIntervalMs);
    }
    for (const done of w) {
      const ok = this.fallback.consume();
      if (ok) c.fallbackOk.value++;
      else c.fallbackLimited.value++;
      done(ok);
    }
  };
}
