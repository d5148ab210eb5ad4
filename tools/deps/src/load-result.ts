// The one shape every load generator's result is parsed into, so benchmarks can compare fortio, wrk and
// h2load runs side by side.

export interface LatencyMs {
  min: number;
  avg: number;
  p50: number;
  p75: number;
  p90: number;
  p99: number;
  p999: number;
  max: number;
}

export interface LoadResult {
  tool: 'fortio' | 'wrk' | 'h2load';
  /** Completed requests (any status). */
  requests: number;
  durationSec: number;
  /** Completed requests per second, as the tool measured it. */
  rps: number;
  /** HTTP status -> count (fortio, h2load by class: "2xx"...), "-1" for socket errors where the tool says so. */
  statusCodes: Record<string, number>;
  /** Requests that did not get a 2xx answer (non-2xx statuses, socket errors, timeouts). */
  errors: number;
  latencyMs: LatencyMs;
}

/** Percentile (0..100) of an ascending sorted list, nearest-rank. */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return 0;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))] ?? 0;
}

/** Latency summary of raw samples in milliseconds. */
export function summarize(samplesMs: number[]): LatencyMs {
  const sorted = [...samplesMs].sort((a, b) => a - b);
  const sum = sorted.reduce((acc, v) => acc + v, 0);
  return {
    min: sorted[0] ?? 0,
    avg: sorted.length ? sum / sorted.length : 0,
    p50: percentile(sorted, 50),
    p75: percentile(sorted, 75),
    p90: percentile(sorted, 90),
    p99: percentile(sorted, 99),
    p999: percentile(sorted, 99.9),
    max: sorted[sorted.length - 1] ?? 0,
  };
}

/** "480.26us", "1.49ms", "2.01s", "3m" -> milliseconds (wrk's and h2load's duration notation). */
export function parseDurationMs(text: string): number {
  const match = /^([\d.]+)(us|ms|s|m|h)$/.exec(text.trim());
  if (!match?.[1] || !match[2]) throw new Error(`not a duration: "${text}"`);
  const value = Number(match[1]);
  const unit = { us: 0.001, ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[match[2] as 'us' | 'ms' | 's' | 'm' | 'h'];
  return value * unit;
}
