/**
 * Istio's push throttle (PILOT_PUSH_THROTTLE): at most `limit` streams have a push in flight (responses
 * written but not yet flushed to the transport); further streams wait in a FIFO queue and, when their turn
 * comes, push the latest snapshot of their node (intermediate ones are skipped). This bounds the response
 * buffers a push holds at once, however many proxies are connected. A slot is released when the stream's
 * writes have flushed, when it ends, or after `slotTimeoutMs` (a client that stops reading keeps its own
 * backpressure state; it does not hold a slot forever).
 */

/** What the throttle needs from a stream. */
export interface ThrottledStream {
  /** Push the node's current snapshot (whatever is the latest when the turn comes). */
  pushLatest(): void;
  /** Calls `done` once every response written so far has been flushed (at once if none is pending), or the stream ended. */
  onFlushed(done: () => void): void;
}

export class PushThrottle {
  /** Streams holding a slot -> when they got it. */
  private readonly inFlight = new Map<ThrottledStream, { at: number }>();
  /** One coarse timer for every slot (not one per push): releases slots held past slotTimeoutMs. */
  private sweeper: NodeJS.Timeout | undefined;
  private readonly queue = new Set<ThrottledStream>();
  /** Highest number of streams in flight at once (for benchmarks and tests). */
  peakInFlight = 0;

  constructor(
    private readonly limit: number,
    private readonly slotTimeoutMs = 5000,
  ) {}

  /** Schedules a push for the stream: now if it holds a slot or one is free, else when one frees up. */
  push(stream: ThrottledStream): void {
    if (this.inFlight.has(stream)) {
      stream.pushLatest(); // it holds a slot already: its flush releases it after this push too
      return;
    }
    if (this.inFlight.size >= this.limit) {
      this.queue.add(stream); // a Set: a stream queued twice pushes once, with the latest snapshot
      return;
    }
    this.start(stream);
  }

  /** Forget a stream that ended (queued or in flight). */
  remove(stream: ThrottledStream): void {
    this.queue.delete(stream);
    if (this.inFlight.delete(stream)) this.next();
  }

  /** Streams waiting for a slot. */
  queued(): number {
    return this.queue.size;
  }

  private start(stream: ThrottledStream): void {
    const slot = { at: Date.now() };
    this.inFlight.set(stream, slot);
    if (this.inFlight.size > this.peakInFlight) this.peakInFlight = this.inFlight.size;
    this.sweeper ??= setInterval(() => this.sweep(), Math.max(1, Math.floor(this.slotTimeoutMs / 2))).unref();
    stream.pushLatest();
    // Releases this slot only (a later slot of the same stream is another object).
    stream.onFlushed(() => {
      if (this.inFlight.get(stream) === slot && this.inFlight.delete(stream)) this.next();
    });
  }

  private sweep(): void {
    const limit = Date.now() - this.slotTimeoutMs;
    let freed = false;
    for (const [stream, slot] of this.inFlight) {
      if (slot.at > limit) continue;
      this.inFlight.delete(stream);
      freed = true;
    }
    if (this.inFlight.size === 0 && this.queue.size === 0 && this.sweeper) {
      clearInterval(this.sweeper);
      this.sweeper = undefined;
    }
    if (freed) this.next();
  }

  private draining = false;

  private next(): void {
    // Not re-entrant: a stream that writes nothing releases its slot inside start(); this loop goes on.
    if (this.draining) return;
    this.draining = true;
    try {
      while (this.inFlight.size < this.limit && this.queue.size > 0) {
        const stream = this.queue.values().next().value as ThrottledStream;
        this.queue.delete(stream);
        this.start(stream);
      }
    } finally {
      this.draining = false;
    }
  }
}
