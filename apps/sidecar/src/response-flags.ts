/**
 * Envoy's response flags, as bits on a request and as the short codes that appear in the access log and in
 * the response_flags label of Istio's metrics ("-" when none).
 */
export const Flag = {
  UH: 1 << 0, // no healthy upstream
  UF: 1 << 1, // upstream connection failure
  UO: 1 << 2, // upstream overflow (circuit breaker)
  NR: 1 << 3, // no route
  URX: 1 << 4, // retry limit reached / upstream retry exhausted
  DC: 1 << 5, // downstream connection termination
  UT: 1 << 6, // upstream request timeout
  LR: 1 << 7, // local reset
  FI: 1 << 8, // fault injected abort
  DI: 1 << 9, // fault injected delay
  RL: 1 << 10, // rate limited
  UC: 1 << 11, // upstream connection termination
  NC: 1 << 12, // no cluster
  UR: 1 << 13, // upstream remote reset
  RBAC: 1 << 14, // denied by RBAC (HTTP 403 or TCP connection closed)
  SI: 1 << 15, // stream idle timeout
  UPE: 1 << 16, // upstream protocol error
} as const;

const ORDER: readonly (keyof typeof Flag)[] = ['UH', 'UF', 'UO', 'NR', 'URX', 'DC', 'UT', 'LR', 'FI', 'DI', 'RL', 'UC', 'NC', 'UR', 'RBAC', 'SI', 'UPE'];
const cache = new Map<number, string>();

/** "-" for none, else the codes joined with "," in Envoy's order. Memoised: few combinations occur. */
export function flagString(bits: number): string {
  if (bits === 0) return '-';
  let s = cache.get(bits);
  if (s === undefined) {
    s = ORDER.filter((k) => (bits & Flag[k]) !== 0).join(',');
    cache.set(bits, s);
  }
  return s;
}
