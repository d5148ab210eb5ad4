/**
 * Debounce of config changes (Istio's PILOT_DEBOUNCE_AFTER / PILOT_DEBOUNCE_MAX): a push fires after
 * `afterMs` without a new change, or `maxMs` after the first change of the burst, whichever is first.
 */
export class Debouncer<T> {
  private pending: T[] = [];
  private firstAt = 0;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly afterMs: number,
    private readonly maxMs: number,
    private readonly fire: (items: T[], firstAt: number) => void,
  ) {}

  add(item: T): void {
    const now = Date.now();
    if (this.pending.length === 0) this.firstAt = now;
    this.pending.push(item);
    if (this.timer) clearTimeout(this.timer);
    const wait = Math.max(0, Math.min(this.afterMs, this.firstAt + this.maxMs - now));
    this.timer = setTimeout(() => this.flush(), wait);
  }

  flush(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    if (this.pending.length === 0) return;
    const items = this.pending;
    const firstAt = this.firstAt;
    this.pending = [];
    this.fire(items, firstAt);
  }

  stop(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.pending = [];
  }
}
