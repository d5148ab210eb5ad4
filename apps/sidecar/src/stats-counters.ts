/**
 * Envoy-style named counters that filters create when their config is compiled into a listener (for
 * example `<stat_prefix>.http_local_rate_limit.rate_limited`): a counter is an object whose `value` the
 * hot path increments, nothing looked up per request. The admin server lists them in /stats and
 * /stats/prometheus; under --concurrency each worker process has its own registry and the admin sums them.
 */
export interface Counter {
  value: number;
}

export class NamedCounters {
  private readonly byName = new Map<string, Counter>();

  /** The counter called `name`, created at 0 the first time (the same object afterwards). */
  counter(name: string): Counter {
    let c = this.byName.get(name);
    if (!c) {
      c = { value: 0 };
      this.byName.set(name, c);
    }
    return c;
  }

  entries(): [string, number][] {
    return [...this.byName].map(([name, c]) => [name, c.value]);
  }
}

/** This process's counters (one proxy per process; tests that run several proxies share it). */
export const processCounters = new NamedCounters();
