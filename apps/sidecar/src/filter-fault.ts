/**
 * Fault injection (envoy.filters.http.fault): delay then abort, each by percentage, from the route's
 * typed_per_filter_config or the filter's own config. Flags DI and FI.
 */
import type { FaultPolicy } from './config-http-filters';
import type { HttpStream } from './http-stream';
import type { FilterHost, HttpFilter } from './http-filter';
import { Flag } from './response-flags';

export class FaultFilter implements HttpFilter {
  constructor(
    private readonly defaults: FaultPolicy | undefined,
    private readonly host: FilterHost,
  ) {}

  decode(s: HttpStream): boolean {
    const p = s.route?.fault ?? this.defaults;
    if (!p) return true;
    if (p.delayMs > 0 && p.delayFraction > 0 && Math.random() < p.delayFraction && (s.flags & Flag.DI) === 0) {
      s.flags |= Flag.DI;
      const timer = setTimeout(() => {
        s.cancel = undefined;
        if (this.abort(s, p)) this.host.continueDecoding(s);
      }, p.delayMs);
      s.cancel = () => clearTimeout(timer);
      return false;
    }
    return this.abort(s, p);
  }

  /** Returns true to continue, false when it answered. */
  private abort(s: HttpStream, p: FaultPolicy): boolean {
    if (p.abortFraction <= 0 || Math.random() >= p.abortFraction) return true;
    s.flags |= Flag.FI;
    if (p.abortGrpcStatus > 0) this.host.sendGrpcLocal(s, p.abortGrpcStatus, 'fault filter abort');
    else this.host.sendLocal(s, p.abortStatus || 503, 'fault filter abort');
    return false;
  }
}
