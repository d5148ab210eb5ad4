/**
 * Well-known header names, recognized in place in a head (any letter case) and returned as the lower-case
 * constant, the way undici's header tree does: no name sliced out, lower-cased and interned as a property
 * key for each header line of steady traffic. A name not in the list is read the long way (h1-framing.ts).
 */

const KNOWN = [
  // requests (fortio, curl, browsers, gRPC-web, the mesh itself)
  'host', 'user-agent', 'accept', 'accept-encoding', 'accept-language', 'authorization', 'cookie', 'origin',
  'referer', 'content-type', 'content-length', 'connection', 'keep-alive', 'upgrade', 'te', 'expect',
  'transfer-encoding', 'cache-control', 'pragma', 'if-none-match', 'if-modified-since', 'x-request-id',
  'x-forwarded-for', 'x-forwarded-proto', 'x-forwarded-host', 'x-real-ip', 'x-envoy-peer-metadata',
  'x-envoy-peer-metadata-id', 'x-envoy-expected-rq-timeout-ms', 'x-envoy-original-path', 'x-envoy-attempt-count',
  'x-envoy-upstream-service-time', 'x-b3-traceid', 'x-b3-spanid', 'x-b3-parentspanid', 'x-b3-sampled',
  'x-b3-flags', 'b3', 'traceparent', 'tracestate', 'x-ot-span-context', 'x-cloud-trace-context',
  'grpc-timeout', 'grpc-encoding', 'grpc-accept-encoding', 'x-user-agent', 'sec-fetch-mode',
  // responses
  'server', 'date', 'content-encoding', 'content-language', 'etag', 'last-modified', 'expires', 'vary',
  'location', 'set-cookie', 'access-control-allow-origin', 'accept-ranges', 'age', 'retry-after',
  'strict-transport-security', 'www-authenticate', 'grpc-status', 'grpc-message', 'trailer', 'via', 'allow',
];

/** the known names by length */
const BY_LENGTH: (string[] | undefined)[] = [];
for (const name of KNOWN) (BY_LENGTH[name.length] ??= []).push(name);

/**
 * The known lower-case name equal, ignoring ASCII letter case, to text[start, end), or undefined. A match is
 * a valid token by construction (every known name is one).
 */
export function knownHeaderName(text: string, start: number, end: number): string | undefined {
  const list = BY_LENGTH[end - start];
  if (list === undefined) return undefined;
  next: for (let k = 0; k < list.length; k++) {
    const name = list[k];
    for (let i = 0; i < name.length; i++) {
      const c = text.charCodeAt(start + i);
      const want = name.charCodeAt(i);
      // An upper-case letter matches its lower-case form; every other character only itself.
      if (c !== want && !(want >= 97 && want <= 122 && c === want - 32)) continue next;
    }
    return name;
  }
  return undefined;
}
