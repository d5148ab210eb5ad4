/** VirtualService HTTPMatchRequest -> Envoy RouteMatch (uri, headers, method, authority, query, withoutHeaders). */
import type { HeaderMatcher, RouteMatch, StringMatcher } from '@mesh/xds';
import type { HttpMatchRequest, StringMatch } from '@mesh/config';

export function stringMatcher(m: StringMatch): StringMatcher {
  if (m.exact !== undefined) return { exact: m.exact };
  if (m.prefix !== undefined) return { prefix: m.prefix };
  return { safe_regex: { regex: m.regex ?? '' } };
}

function headerMatcher(name: string, m: StringMatch, invert = false): HeaderMatcher {
  // An empty match means "present" (Istio: `headers: {x: {}}` is not allowed by our schema; regex "*" is).
  const out: HeaderMatcher = { name: name.toLowerCase(), string_match: stringMatcher(m) };
  if (invert) out.invert_match = true;
  return out;
}

export function routeMatch(m: HttpMatchRequest | undefined): RouteMatch {
  const out: RouteMatch = {};
  const uri = m?.uri;
  if (uri?.exact !== undefined) out.path = uri.exact;
  else if (uri?.prefix !== undefined) out.prefix = uri.prefix;
  else if (uri?.regex !== undefined) out.safe_regex = { regex: uri.regex };
  else out.prefix = '/';
  if (m?.ignoreUriCase) out.case_sensitive = { value: false };
  const headers: HeaderMatcher[] = [];
  for (const [name, v] of Object.entries(m?.headers ?? {})) headers.push(headerMatcher(name, v));
  if (m?.method) headers.push(headerMatcher(':method', m.method));
  if (m?.authority) headers.push(headerMatcher(':authority', m.authority));
  if (m?.scheme) headers.push(headerMatcher(':scheme', m.scheme));
  for (const [name, v] of Object.entries(m?.withoutHeaders ?? {})) headers.push(headerMatcher(name, v, true));
  if (headers.length > 0) out.headers = headers;
  const query = Object.entries(m?.queryParams ?? {}).map(([name, v]) => ({ name, string_match: stringMatcher(v) }));
  if (query.length > 0) out.query_parameters = query;
  return out;
}
