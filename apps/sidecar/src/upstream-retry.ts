/**
 * When an upstream request may be sent again: the retry policy's status conditions, the backoff before the
 * next try (full jitter, exponential, capped), and the methods safe to resend on a reused connection that
 * closed before any response.
 */
import type { RetryPolicy } from './config-route-action';

/** RFC 9110 §9.2.2: may be sent again when a reused connection was closed before any response */
export const IDEMPOTENT = new Set(['GET', 'HEAD', 'OPTIONS', 'TRACE', 'PUT', 'DELETE']);

/** The policy retries a response with this status (the caller checks the retries left). */
export function retriableStatus(p: RetryPolicy, status: number): boolean {
  if (p.on5xx && status >= 500) return true;
  if (p.gatewayError && (status === 502 || status === 503 || status === 504)) return true;
  if (p.retriable4xx && status === 409) return true;
  return p.retriableStatusCodes.includes(status);
}

/** The delay before retry number `n` (0 for the first): uniform in [0, min(max, base * 2^n)). */
export function backoffMs(p: RetryPolicy, n: number): number {
  const ceiling = Math.min(p.backoffMaxMs, p.backoffBaseMs * 2 ** n);
  return Math.random() * ceiling;
}
