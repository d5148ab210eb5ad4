/**
 * Timeouts of one fixed duration (a route's timeout: every request of the route waits the same time) in a
 * FIFO: armed in order, they expire in order, so one native timer for the oldest deadline serves them all.
 * Arming is two array writes and cancelling one, where a setTimeout/clearTimeout pair per request costs a
 * Timeout object and, with few requests in flight, a timer list created and dropped each time. A cancelled
 * entry lets go of its item at once (nothing finished stays reachable until a tick); its slot is reclaimed
 * when it reaches the head. The queue holds at most MAX_ENTRIES slots: past that, add() answers -1 and the
 * caller uses a native timer of its own.
 */

const INITIAL = 64;
const MAX_ENTRIES = 1 << 16;
/** an emptied queue bigger than this gives its memory back */
const SHRINK_ABOVE = 4096;

export class FifoTimeouts<T> {
  private deadlines = new Float64Array(INITIAL);
  private items: (T | undefined)[] = new Array<T | undefined>(INITIAL).fill(undefined);
  private mask = INITIAL - 1;
  /** sequence numbers: entries head..tail-1 are in the queue (cancelled ones hold undefined) */
  private head = 0;
  private tail = 0;
  private timer: NodeJS.Timeout | undefined = undefined;
  /** in expire(): an item's callback may add or cancel entries; the timer is re-armed once at the end */
  private expiring = false;
  private readonly onTimer = (): void => this.expire();

  constructor(
    readonly ms: number,
    private readonly fire: (item: T) => void,
  ) {}

  /** entries in the queue, cancelled ones not yet reclaimed included */
  get size(): number {
    return this.tail - this.head;
  }

  /** Arms a timeout for `item` (now + ms); returns its handle for cancel(), or -1 when the queue is full. */
  add(item: T): number {
    if (this.tail - this.head === this.items.length) {
      if (this.items.length >= MAX_ENTRIES) return -1;
      this.grow();
    }
    const seq = this.tail++;
    const i = seq & this.mask;
    this.deadlines[i] = performance.now() + this.ms;
    this.items[i] = item;
    if (this.timer === undefined && !this.expiring) this.arm(this.ms);
    return seq;
  }

  /** Disarms the timeout of `handle` (a handle that already fired or was cancelled is ignored). */
  cancel(handle: number): void {
    if (handle < this.head || handle >= this.tail) return;
    this.items[handle & this.mask] = undefined;
    if (handle === this.head) this.reclaim();
  }

  /** Drops cancelled entries from the head. */
  private reclaim(): void {
    const items = this.items;
    while (this.head < this.tail && items[this.head & this.mask] === undefined) this.head++;
    if (this.head === this.tail && items.length > SHRINK_ABOVE) this.reset(INITIAL);
  }

  /** The native timer (unref'd: a pending timeout never keeps the process alive by itself). */
  private arm(ms: number): void {
    this.timer = setTimeout(this.onTimer, ms);
    this.timer.unref();
  }

  /** The timer fired: expired items fire in order; the timer is re-armed for the first one still waiting. */
  private expire(): void {
    this.timer = undefined;
    this.expiring = true;
    const now = performance.now();
    try {
      while (this.head < this.tail) {
        const i = this.head & this.mask;
        const item = this.items[i];
        if (item === undefined) {
          this.head++;
          continue;
        }
        if (this.deadlines[i] > now) break;
        this.items[i] = undefined;
        this.head++;
        this.fire(item);
      }
    } finally {
      this.expiring = false;
      this.reclaim();
      if (this.head < this.tail) this.arm(Math.max(1, Math.ceil(this.deadlines[this.head & this.mask] - performance.now())));
    }
  }

  private grow(): void {
    const n = this.items.length;
    const deadlines = new Float64Array(n * 2);
    const items = new Array<T | undefined>(n * 2).fill(undefined);
    for (let s = this.head; s < this.tail; s++) {
      deadlines[s & (n * 2 - 1)] = this.deadlines[s & this.mask];
      items[s & (n * 2 - 1)] = this.items[s & this.mask];
    }
    this.deadlines = deadlines;
    this.items = items;
    this.mask = n * 2 - 1;
  }

  private reset(n: number): void {
    this.deadlines = new Float64Array(n);
    this.items = new Array<T | undefined>(n).fill(undefined);
    this.mask = n - 1;
  }
}
