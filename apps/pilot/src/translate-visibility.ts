/**
 * What a proxy's namespace may see (Istio's exportTo and Sidecar egress import rules): ServiceEntries,
 * VirtualServices and DestinationRules are visible where their `exportTo` says (`.` own namespace, `*`
 * all, `~` none, or namespace names; default all). A Sidecar's egress hosts `ns/host` further narrow
 * which services and VirtualServices a proxy imports. Among several DestinationRules for one host, the
 * proxy's own namespace wins, then the service's namespace, then the root namespace, then the rest.
 */
import type { DestinationRuleSpec, VirtualServiceSpec } from '@mesh/config';
import { exportedTo } from '@mesh/config';
import type { EgressHost, PushContext, ScopedConfig } from './push-context';
import type { Service } from './registry';

/** A ServiceEntry's hosts are visible in `namespace` (its exportTo). */
export function serviceExported(push: PushContext, service: Service, namespace: string): boolean {
  return exportedTo(push.serviceExportTo.get(service.source), service.namespace, namespace);
}

function hostPatternMatches(pattern: string, host: string): boolean {
  if (pattern === '*' || pattern === host) return true;
  if (pattern.startsWith('*.') && host.endsWith(pattern.slice(1))) return true;
  // A wildcard VirtualService host (`*.example.com`) is imported by an egress host it covers.
  return host.startsWith('*.') && pattern.endsWith(host.slice(1));
}

/**
 * A VirtualService applies to a proxy of `namespace` when exported there and, under a Sidecar with egress
 * hosts, when one egress host names its namespace (or `*`) and one of its hosts.
 */
export function virtualServiceVisible(
  push: PushContext,
  vs: ScopedConfig<VirtualServiceSpec>,
  namespace: string,
  egressHosts: readonly EgressHost[] | undefined,
): boolean {
  const owner = vs.config.meta.namespace;
  if (!exportedTo(vs.spec.exportTo, owner, namespace)) return false;
  if (!egressHosts) return true;
  const hosts = (vs.spec.hosts ?? []).map((h) => push.resolveHost(h, owner));
  return egressHosts.some((e) => (e.namespace === '*' || e.namespace === owner) && hosts.some((h) => hostPatternMatches(e.host, h)));
}

/** The VirtualServices of a host that a proxy of `namespace` sees. */
export function visibleVirtualServices(
  push: PushContext,
  host: string,
  namespace: string,
  egressHosts: readonly EgressHost[] | undefined,
): ScopedConfig<VirtualServiceSpec>[] {
  const all = push.virtualServices(host);
  if (all.length === 0) return all;
  return all.filter((vs) => virtualServiceVisible(push, vs, namespace, egressHosts));
}

function drCandidates(push: PushContext, host: string): ScopedConfig<DestinationRuleSpec>[] {
  const exact = push.destinationRulesAllByHost.get(host);
  if (exact) return exact;
  // Wildcard hosts are few: listed once per push instead of scanning every DestinationRule per lookup.
  const wildcards = push.memo('dr-wildcard-hosts', () => [...push.destinationRulesAllByHost].filter(([pattern]) => pattern.startsWith('*')));
  for (const [pattern, list] of wildcards) {
    if (host.endsWith(pattern.slice(1))) return list;
  }
  return [];
}

/**
 * The DestinationRule for `host` as a proxy of `namespace` sees it, or undefined. With one DestinationRule
 * exported everywhere (the common case) this is what push.destinationRule(host) returns.
 */
export function destinationRuleFor(push: PushContext, namespace: string, host: string): ScopedConfig<DestinationRuleSpec> | undefined {
  const list = drCandidates(push, host);
  if (list.length === 0) return undefined;
  if (list.length === 1) {
    const only = list[0] as ScopedConfig<DestinationRuleSpec>;
    return exportedTo(only.spec.exportTo, only.config.meta.namespace, namespace) ? only : undefined;
  }
  const visible = list.filter((d) => exportedTo(d.spec.exportTo, d.config.meta.namespace, namespace));
  if (visible.length <= 1) return visible[0];
  const serviceNs = push.registry.service(host)?.namespace;
  const rank = (d: ScopedConfig<DestinationRuleSpec>): number => {
    const ns = d.config.meta.namespace;
    if (ns === namespace) return 0;
    if (ns === serviceNs) return 1;
    if (ns === push.options.rootNamespace) return 2;
    return 3;
  };
  return visible.reduce((best, d) => (rank(d) < rank(best) ? d : best));
}

/** Identity of the DestinationRule a namespace sees for a host (for memo keys shared across proxy classes). */
export function destinationRuleKey(push: PushContext, namespace: string, host: string): string {
  const dr = destinationRuleFor(push, namespace, host);
  return dr ? `${dr.config.meta.namespace}/${dr.config.meta.name}` : '-';
}
