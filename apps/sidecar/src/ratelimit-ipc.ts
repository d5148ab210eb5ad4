/**
 * The messages between --concurrency workers and the primary that holds the shared local rate limit
 * buckets (node:cluster IPC, so plain JSON values). A worker asks for `want` tokens of the bucket `key`
 * (and sends the bucket's settings, so the primary can make it on first use without knowing any xDS); the
 * primary answers with the tokens it took for that worker and, when the bucket has no whole token left,
 * how long until it has one. Anything else on the channel is not ours and is ignored; a message that
 * claims to be ours but does not fit is refused field by field, never trusted.
 */

export interface RateLimitAsk {
  meshRl: 'ask';
  id: number;
  key: string;
  /** tokens for requests/connections waiting now (0: a lease asked ahead of time) */
  want: number;
  maxTokens: number;
  tokensPerFill: number;
  fillIntervalMs: number;
}

export interface RateLimitGrant {
  meshRl: 'grant';
  id: number;
  /** tokens taken from the shared bucket for this worker (at least `want` of them if there were that many) */
  granted: number;
  /** > 0: the bucket has no whole token for this many milliseconds (measured when the primary answered) */
  emptyForMs: number;
  /** workers the primary serves (each worker's share when it must decide alone) */
  workers: number;
}

/** Longest bucket key accepted (listener/chain/route path + a content digest are far shorter). */
export const MAX_KEY_LENGTH = 4096;
/** Most tokens one ask may want: a worker asks for its waiting requests, never more than this. */
export const MAX_WANT = 4096;

const isCount = (v: unknown, max: number): v is number => typeof v === 'number' && Number.isInteger(v) && v >= 0 && v <= max;
const isPositive = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v) && v > 0;

function claimsOurs(m: unknown, kind: 'ask' | 'grant'): m is Record<string, unknown> {
  return typeof m === 'object' && m !== null && (m as { meshRl?: unknown }).meshRl === kind;
}

/** The ask in `m`, or undefined when `m` is not a well-formed ask (reason in `why`). */
export function parseAsk(m: unknown, why?: (reason: string) => void): RateLimitAsk | undefined {
  if (!claimsOurs(m, 'ask')) return undefined;
  const bad = (reason: string): undefined => {
    why?.(reason);
    return undefined;
  };
  if (!isCount(m.id, Number.MAX_SAFE_INTEGER)) return bad('id must be a non-negative integer');
  if (typeof m.key !== 'string' || m.key === '' || m.key.length > MAX_KEY_LENGTH) return bad(`key must be a string of 1..${MAX_KEY_LENGTH} characters`);
  if (!isCount(m.want, MAX_WANT)) return bad(`want must be an integer in [0, ${MAX_WANT}]`);
  if (!isCount(m.maxTokens, Number.MAX_SAFE_INTEGER) || m.maxTokens < 1) return bad('maxTokens must be a positive integer');
  if (!isPositive(m.tokensPerFill)) return bad('tokensPerFill must be positive');
  if (!isPositive(m.fillIntervalMs)) return bad('fillIntervalMs must be positive');
  return { meshRl: 'ask', id: m.id, key: m.key, want: m.want, maxTokens: m.maxTokens, tokensPerFill: m.tokensPerFill, fillIntervalMs: m.fillIntervalMs };
}

/** The grant in `m`, or undefined when `m` is not a well-formed grant. */
export function parseGrant(m: unknown): RateLimitGrant | undefined {
  if (!claimsOurs(m, 'grant')) return undefined;
  if (!isCount(m.id, Number.MAX_SAFE_INTEGER) || !isCount(m.granted, Number.MAX_SAFE_INTEGER) || !isCount(m.workers, 1 << 16)) return undefined;
  const empty = m.emptyForMs;
  if (typeof empty !== 'number' || !(empty >= 0)) return undefined;
  return { meshRl: 'grant', id: m.id, granted: m.granted, emptyForMs: empty, workers: m.workers };
}
