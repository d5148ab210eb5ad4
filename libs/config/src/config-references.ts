/**
 * Checks that need more than one document: references between configs that each validate alone. Today:
 * VirtualService delegation (an http route's `delegate` must name an existing VirtualService without
 * hosts, exported to the root's namespace). Pilot logs these per push; the root route is left out.
 */
import type { HttpRoute, VirtualServiceSpec } from './config-spec';
import type { ConfigObject } from './config-types';

export interface ReferenceError {
  /** The config holding the reference (its source names file and document index). */
  config: ConfigObject;
  path: string;
  message: string;
}

/** Whether a config with this exportTo (from namespace `owner`) is visible in `namespace`. Default: everywhere. */
export function exportedTo(exportTo: readonly string[] | undefined, owner: string, namespace: string): boolean {
  if (!exportTo || exportTo.length === 0) return true;
  for (const e of exportTo) {
    if (e === '*' || e === namespace || (e === '.' && owner === namespace)) return true;
  }
  return false;
}

/** The delegate a route names, resolved as Istio does (namespace defaults to the root's), or why it cannot be used. */
export function resolveDelegate(
  root: ConfigObject,
  route: HttpRoute,
  byKey: ReadonlyMap<string, ConfigObject>,
): { ok: true; config: ConfigObject } | { ok: false; message: string } {
  const d = route.delegate;
  if (!d) return { ok: false, message: 'not a delegate route' };
  const ns = d.namespace ?? root.meta.namespace;
  const target = byKey.get(`${ns}/${d.name}`);
  if (!target) return { ok: false, message: `delegate VirtualService ${ns}/${d.name} does not exist` };
  const spec = target.spec as VirtualServiceSpec;
  if ((spec.hosts ?? []).length > 0) return { ok: false, message: `VirtualService ${ns}/${d.name} has hosts, so it is not a delegate` };
  if (!exportedTo(spec.exportTo, ns, root.meta.namespace)) {
    return { ok: false, message: `delegate VirtualService ${ns}/${d.name} is not exported to namespace ${root.meta.namespace}` };
  }
  return { ok: true, config: target };
}

/** Every delegate reference that does not resolve, with the root's field path. */
export function referenceErrors(virtualServices: readonly ConfigObject[]): ReferenceError[] {
  const byKey = new Map(virtualServices.map((c) => [`${c.meta.namespace}/${c.meta.name}`, c]));
  const out: ReferenceError[] = [];
  for (const c of virtualServices) {
    ((c.spec as VirtualServiceSpec).http ?? []).forEach((r, i) => {
      if (!r.delegate) return;
      const res = resolveDelegate(c, r, byKey);
      if (!res.ok) out.push({ config: c, path: `spec.http[${i}].delegate`, message: res.message });
    });
  }
  return out;
}

/** `file: document N: path: message`, as formatErrors writes validation errors. */
export function formatReferenceError(e: ReferenceError): string {
  return `${e.config.source.file}: document ${e.config.source.index}: ${e.path}: ${e.message}`;
}
