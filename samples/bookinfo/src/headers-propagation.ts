/**
 * Headers a Bookinfo service copies from the request it serves to every call it makes, so that a mesh can
 * join the spans of one request (x-request-id, Zipkin B3, W3C trace context, OpenTracing) and route on
 * the user (end-user, set by productpage from its login cookie).
 */
import type { IncomingHttpHeaders, OutgoingHttpHeaders } from 'node:http';

export const PROPAGATED_HEADERS = [
  'x-request-id',
  'x-b3-traceid',
  'x-b3-spanid',
  'x-b3-parentspanid',
  'x-b3-sampled',
  'x-b3-flags',
  'b3',
  'traceparent',
  'tracestate',
  'x-ot-span-context',
  'x-cloud-trace-context',
  'grpc-trace-bin',
  'sw8',
  'end-user',
  'user-agent',
  'authorization',
] as const;

/** The propagated subset of an incoming request's headers (names are already lower case in Node). */
export function propagatedHeaders(incoming: IncomingHttpHeaders): OutgoingHttpHeaders {
  const out: Record<string, string | string[]> = {};
  for (const name of PROPAGATED_HEADERS) {
    const value: string | string[] | undefined = incoming[name];
    if (value !== undefined) out[name] = value;
  }
  return out;
}
