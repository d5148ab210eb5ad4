/**
 * Coarse timers for the data path (the idea of undici's lib/util/timers.js): timeouts of a second or more
 * (keep-alive idle, stream idle, request and route timeouts) are checked by one shared 500 ms tick instead
 * of a setTimeout per request; re-arming one is two field writes. Shorter delays keep a native timer, which
 * is refreshed, not re-created, when the delay does not change. A coarse timer fires up to one tick late.
 */

const TICK_MS = 500;
/** below this a timer is native by default (precision matters more than cost) */
const NATIVE_BELOW_MS = 1000;

const active: CoarseTimer[] = [];
let ticker: NodeJS.Timeout | undefined;
let clock = Date.now();

/** A wall clock (ms) updated every tick while any coarse timer is armed: for activity stamps. */
export function coarseNow(): number {
  return ticker === undefined ? Date.now() : clock;
}

function tick(): void {
  clock = Date.now();
  // Timers armed by a callback below push themselves onto `active` again (queued is false then).
  const list = active.splice(0, active.length);
  for (let i = 0; i < list.length; i++) {
    const t = list[i];
    if (t.deadline < 0) t.queued = false;
    else if (t.deadline <= clock) {
      t.deadline = -1;
      t.queued = false;
      t.fire();
    } else active.push(t);
  }
  if (active.length === 0 && ticker !== undefined) {
    clearInterval(ticker);
    ticker = undefined;
  }
}

function fireNative(t: CoarseTimer): void {
  t.native = undefined;
  t.deadline = -1;
  t.fire();
}

export class CoarseTimer {
  /** epoch ms when a coarse timer fires, -1 when not armed */
  deadline = -1;
  /** in the tick's list */
  queued = false;
  native: NodeJS.Timeout | undefined = undefined;
  private nativeDelay = 0;

  constructor(
    private readonly callback: (arg: never) => void,
    private readonly arg: unknown,
    /** delays below this use a native timer */
    private readonly nativeBelowMs = NATIVE_BELOW_MS,
  ) {}

  /** Arms (or re-arms) the timer `delayMs` from now. */
  arm(delayMs: number): void {
    if (delayMs < this.nativeBelowMs) {
      this.deadline = -1;
      if (this.native !== undefined && this.nativeDelay === delayMs) this.native.refresh();
      else {
        if (this.native !== undefined) clearTimeout(this.native);
        this.nativeDelay = delayMs;
        this.native = setTimeout(fireNative, delayMs, this);
      }
      return;
    }
    if (this.native !== undefined) {
      clearTimeout(this.native);
      this.native = undefined;
    }
    this.deadline = Date.now() + delayMs;
    if (!this.queued) {
      this.queued = true;
      active.push(this);
      if (ticker === undefined) {
        clock = Date.now();
        ticker = setInterval(tick, TICK_MS);
        ticker.unref();
      }
    }
  }

  clear(): void {
    this.deadline = -1;
    if (this.native !== undefined) {
      clearTimeout(this.native);
      this.native = undefined;
    }
  }

  get armed(): boolean {
    return this.deadline >= 0 || this.native !== undefined;
  }

  fire(): void {
    (this.callback as (arg: unknown) => void)(this.arg);
  }
}
