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
  private readonly inFlight = new Set<ThrottledStream>();
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
    this.inFlight.add(stream);
    if (this.inFlight.size > this.peakInFlight) this.peakInFlight = this.inFlight.size;
    let released = false;
    const release = (): void => {
      if (released) return;
      released = true;
      clearTimeout(timer);
      if (this.inFlight.delete(stream)) this.next();
    };
    const timer = setTimeout(release, this.slotTimeoutMs);
    timer.unref();
    stream.pushLatest();
    stream.onFlushed(release);
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
