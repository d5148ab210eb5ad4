/**
 * VirtualService delegation (Istio 1.8+): a root http route with `delegate: {name, namespace}` stands for
 * the http routes of that VirtualService (which has no hosts). Each delegate route is merged with the
 * root route: every delegate match must fall inside one of the root's matches (a `/api/v1` prefix inside
 * `/api`, an exact header value inside a root prefix; no regex on either side of one field; equal ports
 * and source namespaces), and the merged match carries both (the delegate's more specific values win); root settings (timeout,
 * retries, rewrite, fault, mirror, CORS, headers) fill what the delegate leaves unset. A delegate route
 * that fits no root match is a conflict: it is left out and reported, as is a delegate that does not
 * resolve. Destinations of delegate routes resolve short host names in the delegate's namespace.
 */
import { createLogger } from '@mesh/runtime';
import type { HttpMatchRequest, HttpRoute, StringMatch, VirtualServiceSpec } from '@mesh/config';
import { resolveDelegate, type ConfigObject } from '@mesh/config';
import type { PushContext, ScopedConfig } from './push-context';

const log = createLogger('pilot.delegate');

/** One http route ready to translate: the namespace its short host names resolve in. */
export interface ExpandedRoute {
  route: HttpRoute;
  namespace: string;
  index: number;
}

/**
 * Whether a delegate string match lies inside the root's (Istio's rule): either absent; a regex on either
 * side conflicts with anything on the other; under an exact root only the same exact value; under a
 * prefix root a prefix or exact value starting with it.
 */
function fits(root: StringMatch | undefined, leaf: StringMatch | undefined): boolean {
  if (!root || !leaf) return true;
  if (root.regex !== undefined || leaf.regex !== undefined) return false;
  if (root.exact !== undefined) return leaf.exact === root.exact;
  if (root.prefix !== undefined) {
    const value = leaf.prefix ?? leaf.exact;
    return value !== undefined && value.startsWith(root.prefix);
  }
  return true;
}

function mapsFit(root: Record<string, StringMatch> | undefined, leaf: Record<string, StringMatch> | undefined): boolean {
  if (!root || !leaf) return true;
  return Object.entries(root).every(([k, v]) => fits(v, leaf[k]));
}

/** Why a delegate match cannot sit inside a root match, or undefined when it can. */
function conflict(root: HttpMatchRequest, leaf: HttpMatchRequest): string | undefined {
  for (const f of ['uri', 'scheme', 'method', 'authority'] as const) {
    if (!fits(root[f], leaf[f])) return `${f} ${JSON.stringify(leaf[f])} is not inside the root's ${JSON.stringify(root[f])}`;
  }
  for (const f of ['headers', 'queryParams', 'withoutHeaders'] as const) {
    if (!mapsFit(root[f], leaf[f])) return `${f} ${JSON.stringify(leaf[f])} are not inside the root's ${JSON.stringify(root[f])}`;
  }
  if (root.port !== undefined && leaf.port !== undefined && root.port !== leaf.port) return `port ${leaf.port} differs from the root's ${root.port}`;
  if (root.sourceNamespace && leaf.sourceNamespace && root.sourceNamespace !== leaf.sourceNamespace) return 'sourceNamespace differs from the root\'s';
  for (const [k, v] of Object.entries(root.sourceLabels ?? {})) {
    const lv = leaf.sourceLabels?.[k];
    if (lv !== undefined && lv !== v) return `sourceLabels.${k} differs from the root's`;
  }
  return undefined;
}

function mergeMatch(root: HttpMatchRequest, leaf: HttpMatchRequest): HttpMatchRequest {
  const out: HttpMatchRequest = { ...leaf };
  for (const f of ['uri', 'scheme', 'method', 'authority', 'port', 'sourceNamespace', 'ignoreUriCase'] as const) {
    if (out[f] === undefined && root[f] !== undefined) (out as Record<string, unknown>)[f] = root[f];
  }
  for (const f of ['headers', 'queryParams', 'withoutHeaders', 'sourceLabels'] as const) {
    if (root[f] || leaf[f]) (out as Record<string, unknown>)[f] = { ...(root[f] ?? {}), ...(leaf[f] ?? {}) };
  }
  const name = root.name && leaf.name ? `${root.name}-${leaf.name}` : (leaf.name ?? root.name);
  if (name !== undefined) out.name = name;
  return out;
}

/** Root x delegate matches; a conflict message when some delegate match fits no root match. */
export function mergeMatches(root: HttpMatchRequest[] | undefined, leaf: HttpMatchRequest[] | undefined): { matches?: HttpMatchRequest[]; conflict?: string } {
  if (!root?.length) return leaf?.length ? { matches: leaf } : {};
  if (!leaf?.length) return { matches: root };
  const out: HttpMatchRequest[] = [];
  for (const l of leaf) {
    let why: string | undefined;
    let fits = false;
    for (const r of root) {
      const c = conflict(r, l);
      if (c) why ??= c;
      else {
        out.push(mergeMatch(r, l));
        fits = true;
      }
    }
    if (!fits) return { conflict: why ?? 'no root match contains it' };
  }
  return { matches: out };
}

const INHERITED = ['rewrite', 'timeout', 'retries', 'fault', 'mirror', 'mirrorPercentage', 'mirrors', 'corsPolicy', 'headers'] as const;

/** A delegate route merged under its root route, or why it conflicts. */
export function mergeHttpRoute(root: HttpRoute, leaf: HttpRoute): { route: HttpRoute } | { conflict: string } {
  const m = mergeMatches(root.match, leaf.match);
  if (m.conflict) return { conflict: m.conflict };
  const out: HttpRoute = { ...leaf };
  if (m.matches) out.match = m.matches;
  else delete out.match;
  for (const f of INHERITED) if (out[f] === undefined && root[f] !== undefined) (out as Record<string, unknown>)[f] = root[f];
  const name = root.name && leaf.name ? `${root.name}-${leaf.name}` : (leaf.name ?? root.name);
  if (name !== undefined) out.name = name;
  return { route: out };
}

function warnOnce(push: PushContext, config: ConfigObject, path: string, message: string): void {
  push.memo(`delegate-warn|${config.source.file}|${config.source.index}|${path}|${message}`, () =>
    log.warn('VirtualService delegate route left out', {
      resource: `VirtualService/${config.meta.namespace}/${config.meta.name}`,
      file: config.source.file,
      document: config.source.index,
      path,
      error: message,
    }),
  );
}

/** The http routes of a VirtualService with every delegate route replaced by its merged delegate routes (once per push). */
export function expandHttpRoutes(push: PushContext, vs: ScopedConfig<VirtualServiceSpec>): ExpandedRoute[] {
  const ns = vs.config.meta.namespace;
  return push.memo(`vs-routes|${ns}/${vs.config.meta.name}`, () => {
    const out: ExpandedRoute[] = [];
    (vs.spec.http ?? []).forEach((r, i) => {
      if (!r.delegate) {
        out.push({ route: r, namespace: ns, index: i });
        return;
      }
      const target = resolveDelegate(vs.config, r, push.virtualServicesByName);
      if (!target.ok) {
        warnOnce(push, vs.config, `spec.http[${i}].delegate`, target.message);
        return;
      }
      const delegate = target.config;
      ((delegate.spec as VirtualServiceSpec).http ?? []).forEach((leaf, j) => {
        const merged = mergeHttpRoute(r, leaf);
        if ('conflict' in merged) {
          warnOnce(push, delegate, `spec.http[${j}].match`, `conflicts with root ${vs.config.meta.namespace}/${vs.config.meta.name} spec.http[${i}].match: ${merged.conflict}`);
          return;
        }
        out.push({ route: merged.route, namespace: delegate.meta.namespace, index: out.length });
      });
    });
    return out;
  });
}
