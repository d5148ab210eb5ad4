/**
 * Per-cluster circuit breakers (DEFAULT priority): active requests, pending requests, connections and
 * active retries, each checked before it is taken. Overflow answers 503 with the UO flag.
 */
import type { CircuitBreakers } from './config-cluster';

export class CircuitBreaker {
  activeRequests = 0;
  activeRetries = 0;
  overflows = 0;

  constructor(public limits: CircuitBreakers) {}

  tryRequest(pending: number): boolean {
    if (this.activeRequests >= this.limits.maxRequests || pending >= this.limits.maxPendingRequests) {
      this.overflows++;
      return false;
    }
    this.activeRequests++;
    return true;
  }

  releaseRequest(): void {
    this.activeRequests--;
  }

  tryRetry(): boolean {
    if (this.activeRetries >= this.limits.maxRetries) {
      this.overflows++;
      return false;
    }
    this.activeRetries++;
    return true;
  }

  releaseRetry(): void {
    this.activeRetries--;
  }
}
