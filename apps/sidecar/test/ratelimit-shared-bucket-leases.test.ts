/**
 * The shared bucket's parts, in one process: the IPC messages refuse anything malformed (field by field)
 * and a stray message never throws; the primary's buckets never hand out more than max_tokens (+ refills),
 * lease nothing below 8 tokens per worker and at most LEASE_MAX, and drop a bucket only once it is full
 * again; worker buckets with their asks answered by the primary's code admit exactly max_tokens over many
 * interleavings; and a worker whose primary does not answer decides within ASK_TIMEOUT_MS from its own
 * share (max_tokens / N), counting each such decision.
 * (The real processes and sockets: ratelimit-shared-across-workers.test.ts.)
 */
import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { LEASE_MAX, leaseFor, SharedBuckets } from '../src/ratelimit-primary';
import { MAX_KEY_LENGTH, parseAsk, parseGrant, type RateLimitAsk } from '../src/ratelimit-ipc';
import { ASK_TIMEOUT_MS, sharedBucketKey, SharedTokenBucket } from '../src/ratelimit-shared-bucket';
import { processCounters } from '../src/stats-counters';

const HOUR = 3_600_000;
const ask = (o: Partial<RateLimitAsk> = {}): RateLimitAsk => ({ meshRl: 'ask', id: 1, key: 'k', want: 1, maxTokens: 10, tokensPerFill: 1, fillIntervalMs: HOUR, ...o });

/** A deterministic pseudo-random sequence (the interleavings must be the same on every run). */
function prng(seed: number): () => number {
  let x = seed;
  return () => {
    x = (x * 1103515245 + 12345) % 2147483648;
    return x / 2147483648;
  };
}

describe('shared rate limit messages', () => {
  it('refuses malformed asks field by field and ignores what is not ours', () => {
    const reasons: string[] = [];
    const why = (r: string) => reasons.push(r);
    assert.deepEqual(parseAsk(ask(), why), ask());
    for (const junk of [null, undefined, 'quit', 42, [], { meshStats: 'request', id: 1 }, { meshRl: 'grant', id: 1 }]) assert.equal(parseAsk(junk, why), undefined);
    assert.equal(reasons.length, 0, 'messages that are not asks are not complained about');
    const bad: Partial<Record<keyof RateLimitAsk, unknown>>[] = [
      { id: -1 }, { id: 1.5 }, { id: '1' },
      { key: '' }, { key: 'x'.repeat(MAX_KEY_LENGTH + 1) }, { key: 7 },
      { want: -1 }, { want: 1e9 }, { want: Number.NaN },
      { maxTokens: 0 }, { maxTokens: Infinity }, { maxTokens: 2.5 },
      { tokensPerFill: 0 }, { tokensPerFill: Infinity }, { fillIntervalMs: -5 }, { fillIntervalMs: null },
    ];
    for (const b of bad) assert.equal(parseAsk({ ...ask(), ...b }, why), undefined, JSON.stringify(b));
    assert.equal(reasons.length, bad.length, 'each malformed ask names its field');
    assert.deepEqual(parseGrant({ meshRl: 'grant', id: 3, granted: 2, emptyForMs: 0, workers: 2 }), { meshRl: 'grant', id: 3, granted: 2, emptyForMs: 0, workers: 2 });
    for (const g of [{ meshRl: 'grant' }, { meshRl: 'grant', id: 1, granted: -1, emptyForMs: 0, workers: 2 }, { meshRl: 'grant', id: 1, granted: 1, emptyForMs: Number.NaN, workers: 2 }, { meshRl: 'grant', id: 1, granted: 1, emptyForMs: 0, workers: 1e9 }]) {
      assert.equal(parseGrant(g), undefined, JSON.stringify(g));
    }
  });

  it('a worker ignores stray and unknown grants', () => {
    for (const m of [null, 'x', { meshRl: 'grant', id: 999_999, granted: 5, emptyForMs: 0, workers: 2 }, { meshRl: 'grant', id: 'x' }]) process.emit('message', m, undefined);
  });

  it('keys differ by place and by content, and are the same for the same config', () => {
    const a = sharedBucketKey('l.filter_chains[0].filters[0].typed_config', { stat_prefix: 'p', token_bucket: { max_tokens: 1 } });
    assert.equal(a, sharedBucketKey('l.filter_chains[0].filters[0].typed_config', { stat_prefix: 'p', token_bucket: { max_tokens: 1 } }));
    assert.notEqual(a, sharedBucketKey('l.filter_chains[1].filters[0].typed_config', { stat_prefix: 'p', token_bucket: { max_tokens: 1 } }));
    assert.notEqual(a, sharedBucketKey('l.filter_chains[0].filters[0].typed_config', { stat_prefix: 'p', token_bucket: { max_tokens: 2 } }));
  });
});

describe("the primary's shared buckets", () => {
  it('never grant more than max_tokens, lease only while the bucket is well filled', () => {
    assert.equal(leaseFor(15, 2), 0, 'below 8 tokens per worker: no lease');
    assert.equal(leaseFor(16, 2), 1);
    assert.equal(leaseFor(1e6, 2), LEASE_MAX);
    const shared = new SharedBuckets(() => 3);
    const rnd = prng(7);
    let granted = 0;
    let extra = 0;
    for (let i = 0; i < 500; i++) {
      const want = Math.floor(rnd() * 4);
      const g = shared.answer(ask({ id: i, maxTokens: 1000, want }));
      assert.ok(g);
      assert.ok(g.granted <= want + LEASE_MAX);
      if (g.granted > want) extra = Math.max(extra, g.granted - want);
      granted += g.granted;
    }
    assert.equal(granted, 1000, 'every token handed out once, none more (no refill within an hour)');
    assert.ok(extra > 0 && extra <= LEASE_MAX, `leases were given (largest ${extra})`);
    const last = shared.answer(ask({ id: 9999, maxTokens: 1000, want: 1 }));
    assert.equal(last?.granted, 0);
    assert.ok((last?.emptyForMs ?? 0) > HOUR / 2, 'an empty bucket says how long until its next token');
  });

  it('drops a bucket only when it is full again', () => {
    const shared = new SharedBuckets(() => 2);
    shared.answer(ask({ key: 'used', want: 3 }));
    shared.answer(ask({ key: 'untouched', want: 0, maxTokens: 5 }));
    shared.sweep();
    assert.equal(shared.size, 1, 'the full one is dropped, the one missing tokens is kept');
    shared.sweep(performance.now() + HOUR * 3 + 1000);
    assert.equal(shared.size, 0, 'refilled after 3 hours: dropped');
  });
});

describe('worker buckets sharing one primary bucket', () => {
  // First: no grant seen yet in this process, so the worker assumes the default of 2 workers.
  it('decide alone from their share when the primary does not answer', async () => {
    const original = process.send;
    process.send = undefined; // no primary at all
    try {
      const c = (k: string) => processCounters.counter(`local_rate_limit.shared_bucket.${k}`).value;
      const before = { timeouts: c('timeouts'), ok: c('fallback_ok'), limited: c('fallback_rate_limited') };
      const b = new SharedTokenBucket(sharedBucketKey('alone', {}), 10, 1, HOUR);
      assert.equal(b.consume(), false, 'no lease without the primary');
      const started = performance.now();
      const answers = await Promise.all(Array.from({ length: 8 }, () => new Promise<boolean>((resolve) => assert.equal(b.wait(resolve), undefined))));
      const waited = performance.now() - started;
      assert.ok(waited >= ASK_TIMEOUT_MS - 1, `waited ${waited.toFixed(1)} ms for the primary`);
      // no grant seen yet: 2 workers assumed, a share of 10 / 2 = 5 tokens
      assert.deepEqual(answers, [true, true, true, true, true, false, false, false]);
      assert.equal(c('timeouts') - before.timeouts, 1, 'one ask for the eight waiting requests');
      assert.equal(c('fallback_ok') - before.ok, 5);
      assert.equal(c('fallback_rate_limited') - before.limited, 3);
    } finally {
      process.send = original;
    }
  });

  it('admit exactly max_tokens over three workers, whatever the interleaving', async () => {
    const shared = new SharedBuckets(() => 3);
    const original = process.send;
    // The primary's code answers on the next turn of the event loop, as over IPC.
    process.send = ((m: unknown, _h?: unknown, _o?: unknown, cb?: () => void) => {
      const a = parseAsk(m);
      if (a) setImmediate(() => process.emit('message', shared.answer(a), undefined));
      cb?.();
      return true;
    }) as typeof process.send;
    try {
      const timeoutsBefore = processCounters.counter('local_rate_limit.shared_bucket.timeouts').value;
      const key = sharedBucketKey('route', { n: 1 });
      const workers = [0, 1, 2].map(() => new SharedTokenBucket(key, 200, 1, HOUR));
      const rnd = prng(11);
      let admitted = 0;
      let refused = 0;
      const decisions: Promise<void>[] = [];
      for (let i = 0; i < 600; i++) {
        const b = workers[Math.floor(rnd() * 3)];
        if (b.consume()) admitted++;
        else {
          let decided: () => void = () => undefined;
          const later = new Promise<void>((resolve) => (decided = resolve));
          const now = b.wait((ok) => {
            if (ok) admitted++;
            else refused++;
            decided();
          });
          if (now === false) refused++;
          else decisions.push(later);
        }
        if (rnd() < 0.3) await new Promise((r) => setImmediate(r));
      }
      await Promise.all(decisions);
      // tokens still leased to a worker: used up by that worker's next requests
      for (const b of workers) while (b.consume()) admitted++;
      assert.equal(admitted, 200, `admitted ${admitted}, refused ${refused}`);
      assert.ok(refused >= 400 - LEASE_MAX * 3, `refused ${refused}`);
      assert.equal(processCounters.counter('local_rate_limit.shared_bucket.timeouts').value, timeoutsBefore, 'every ask answered in time');
    } finally {
      process.send = original;
    }
  });
});
