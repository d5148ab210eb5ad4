/**
 * Registry endpoints -> ClusterLoadAssignments, one per EDS cluster (a subset's assignment holds only
 * the endpoints whose labels match the subset). Every LocalityLbEndpoints carries a weight (grpc-js-xds
 * skips localities without one). Assignments do not depend on the proxy, so they are cached per push.
 */
import { clusterLoadAssignment, type ClusterLoadAssignment } from '@mesh/xds';
import type { ServicePort } from '@mesh/config';
import type { PushContext } from './push-context';
import { labelsMatch, type Service, type ServiceEndpoint } from './registry';

function subsetEndpoints(push: PushContext, service: Service, port: ServicePort, subset: string): readonly ServiceEndpoint[] {
  const all = push.registry.endpoints(service, port);
  if (!subset) return all;
  // The first DestinationRule (key order) that defines the subset: assignments are shared by every namespace.
  const def = subsetDefinition(push, service.hostname, subset);
  if (!def) return [];
  return all.filter((e) => labelsMatch(def.labels, e.labels));
}

function subsetDefinition(push: PushContext, host: string, subset: string): { labels?: Record<string, string> } | undefined {
  const own = push.destinationRule(host)?.spec.subsets?.find((s) => s.name === subset);
  if (own) return own;
  for (const dr of push.destinationRulesAllByHost.get(host) ?? []) {
    const def = dr.spec.subsets?.find((s) => s.name === subset);
    if (def) return def;
  }
  return undefined;
}

/**
 * Subset names of every DestinationRule for a host (EDS is shared across namespaces, which may see
 * different DestinationRules under exportTo: each gets the assignments its clusters name).
 */
export function subsetNames(push: PushContext, host: string): readonly string[] {
  const all = push.destinationRulesAllByHost.get(host);
  const first = push.destinationRule(host)?.spec.subsets ?? [];
  // The common case, one DestinationRule for the host: its subsets, without building a set.
  if (!all || (all.length === 1 && all[0]?.spec.subsets === first)) return first.map((s) => s.name);
  return push.memo(`subset-names|${host}`, () => {
    const names = new Set<string>(first.map((s) => s.name));
    for (const dr of all) for (const s of dr.spec.subsets ?? []) names.add(s.name);
    return [...names];
  });
}

function toAssignment(name: string, endpoints: readonly ServiceEndpoint[]): ClusterLoadAssignment {
  return clusterLoadAssignment(
    name,
    endpoints.map((e) => ({
      address: e.address,
      port: e.port,
      weight: e.weight,
      health: 'HEALTHY' as const,
      locality: { region: e.locality.region, zone: e.locality.zone, sub_zone: e.locality.subZone },
    })),
  );
}

export function endpointAssignment(push: PushContext, service: Service, port: ServicePort, clusterName: string, subset: string): ClusterLoadAssignment {
  return toAssignment(clusterName, subsetEndpoints(push, service, port, subset));
}

/** Inline endpoints of a DNS cluster (host names resolved by the proxy). */
export function dnsLoadAssignment(push: PushContext, service: Service, port: ServicePort, clusterName: string, subset: string): ClusterLoadAssignment {
  return toAssignment(clusterName, subsetEndpoints(push, service, port, subset));
}
