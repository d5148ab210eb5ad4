/**
 * Local rate limiting, as Envoy does it without a rate limit service:
 * - HTTP (envoy.filters.http.local_ratelimit): the route's (or virtual host's) typed_per_filter_config, else
 *   the filter's own config; enabled for filter_enabled of requests, enforced for filter_enforced. A request
 *   without a token is counted rate_limited; enforced, it gets a local reply (429 by default,
 *   "local_rate_limited", response_headers_to_add; Envoy adds no x-envoy-ratelimited) and the RL response flag.
 * - TCP (envoy.filters.network.local_ratelimit): a connection without a token is closed before any other
 *   network filter sees it.
 * Stats: <stat_prefix>.http_local_rate_limit.{enabled,ok,rate_limited,enforced} and
 * local_rate_limit.<stat_prefix>.rate_limited (Envoy's names).
 * Under --concurrency N the bucket is shared by all workers (ratelimit-shared-bucket.ts): a worker whose
 * lease is empty waits for the primary's answer (the request pauses in this filter, the connection before
 * any other network filter), then goes on exactly as with a local bucket. One worker: the local bucket,
 * decided synchronously, as before.
 */
import type { HttpLocalRateLimit, NetworkLocalRateLimit } from './config-local-ratelimit';
import type { FilterHost, HttpFilter } from './http-filter';
import type { HttpStream } from './http-stream';
import { applyMutations } from './header-mutation';
import { Flag } from './response-flags';
import { SharedTokenBucket } from './ratelimit-shared-bucket';
import { processCounters, type Counter, type NamedCounters } from './stats-counters';

interface HttpCounters {
  enabled: Counter;
  ok: Counter;
  rate_limited: Counter;
  enforced: Counter;
}

const LIMITED_BODY = 'local_rate_limited';

function httpCounters(registry: NamedCounters, prefix: string): HttpCounters {
  const c = (k: string) => registry.counter(`${prefix}.http_local_rate_limit.${k}`);
  return { enabled: c('enabled'), ok: c('ok'), rate_limited: c('rate_limited'), enforced: c('enforced') };
}

export class LocalRateLimitFilter implements HttpFilter {
  /** counters per config (the filter's and each per-route config's stat_prefix), created on first use */
  private readonly counters = new WeakMap<HttpLocalRateLimit, HttpCounters>();

  constructor(
    private readonly config: HttpLocalRateLimit,
    private readonly host: FilterHost,
    private readonly registry: NamedCounters = processCounters,
  ) {
    this.counters.set(config, httpCounters(registry, config.statPrefix));
  }

  decode(s: HttpStream): boolean {
    const cfg = s.route?.rateLimit ?? s.vhost?.rateLimit ?? this.config;
    if (cfg.enabled <= 0 || (cfg.enabled < 1 && Math.random() >= cfg.enabled)) return true;
    let c = this.counters.get(cfg);
    if (!c) {
      c = httpCounters(this.registry, cfg.statPrefix);
      this.counters.set(cfg, c);
    }
    c.enabled.value++;
    const b = cfg.bucket;
    if (!b || b.consume()) {
      c.ok.value++;
      return true;
    }
    if (b instanceof SharedTokenBucket) {
      const counters = c;
      if (b.wait((ok) => this.decided(s, cfg, counters, ok)) === undefined) return false;
    }
    return this.limited(s, cfg, c);
  }

  /** The shared bucket's answer for a request that waited for it. */
  private decided(s: HttpStream, cfg: HttpLocalRateLimit, c: HttpCounters, ok: boolean): void {
    // answered meanwhile (a request timeout) or gone: counted, nothing else
    const over = s.done || s.res.headersSent;
    if (ok) {
      c.ok.value++;
      if (!over) this.host.continueDecoding(s);
    } else if (over) c.rate_limited.value++;
    else if (this.limited(s, cfg, c)) this.host.continueDecoding(s);
  }

  /** No token: counted; true when the request goes on (not enforced), false when it was answered. */
  private limited(s: HttpStream, cfg: HttpLocalRateLimit, c: HttpCounters): boolean {
    c.rate_limited.value++;
    if (cfg.enforced <= 0 || (cfg.enforced < 1 && Math.random() >= cfg.enforced)) {
      if (cfg.requestHeadersWhenNotEnforced.add.length > 0) applyMutations(s.req.headers as Record<string, string | string[]>, cfg.requestHeadersWhenNotEnforced, s);
      return true;
    }
    c.enforced.value++;
    s.flags |= Flag.RL;
    // No x-envoy-ratelimited here: Envoy 1.36 sets it only for the global rate limit service's answers.
    const headers: Record<string, string | string[]> = {};
    applyMutations(headers, cfg.responseHeaders, s, true);
    const out: Record<string, string> = {};
    for (const k in headers) out[k] = String(headers[k]);
    this.host.sendLocal(s, cfg.status, LIMITED_BODY, out);
    return false;
  }
}

/**
 * The TCP check: true when the connection may go on (a token was taken), false to close it; with a bucket
 * shared by the workers, possibly a promise of that answer (the primary is asked; ratelimit-shared-bucket.ts).
 */
export function admitConnection(cfg: NetworkLocalRateLimit, registry: NamedCounters = processCounters): boolean | Promise<boolean> {
  if (!cfg.enabled || !cfg.bucket || cfg.bucket.consume()) return true;
  const b = cfg.bucket;
  if (b instanceof SharedTokenBucket) {
    let answer: (ok: boolean) => void = () => undefined;
    const later = new Promise<boolean>((resolve) => (answer = resolve));
    const now = b.wait((ok) => {
      if (!ok) registry.counter(`local_rate_limit.${cfg.statPrefix}.rate_limited`).value++;
      answer(ok);
    });
    if (now === undefined) return later;
  }
  registry.counter(`local_rate_limit.${cfg.statPrefix}.rate_limited`).value++;
  return false;
}
