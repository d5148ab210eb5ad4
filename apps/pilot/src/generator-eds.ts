/**
 * EDS: one ClusterLoadAssignment per EDS cluster of the scope. Assignments do not depend on the proxy,
 * so they are memoised per push: every proxy class shares the same objects (encoded once). On an
 * endpoint-only push a class updates its previous list instead: assignments of services whose endpoints
 * did not change stay the very same objects, only the changed services' assignments are rebuilt (once
 * per push, shared by every class that sees them), and a class that sees no changed service keeps its
 * list (and so its version and snapshot).
 */
import type { Service } from './registry';
import type { ProxyScope } from './proxy-scope';
import type { PushContext } from './push-context';
import type { Generator } from './generators';
import { outboundClusterName } from './translate-cluster';
import { endpointAssignment, subsetNames } from './translate-endpoints';

/** The assignments of one service for a scope (carried from the previous push when its endpoints did not change). */
function serviceAssignments(push: PushContext, scope: ProxyScope, service: Service, out: object[]): void {
  if (service.resolution === 'DNS' || service.resolution === 'DNS_ROUND_ROBIN') return;
  const subsets = ['', ...subsetNames(push, service.hostname)];
  for (const port of service.ports) {
    if (service.resolution === 'NONE' && scope.generator === 'envoy' && push.registry.endpoints(service, port).length === 0) continue;
    for (const subset of subsets) {
      const name = outboundClusterName(port.number, subset, service.hostname);
      const carried = push.edsCarry && !push.edsCarry.dirtyHosts.has(service.hostname) ? push.edsCarry.previous.get(name) : undefined;
      out.push(carried ?? push.memo(`eds:${name}`, () => endpointAssignment(push, service, port, name, subset)));
    }
  }
}

export const generateEds: Generator = (push, scope) => {
  const out: object[] = [];
  for (const service of scope.services) serviceAssignments(push, scope, service, out);
  return out;
};

/** The host of an outbound cluster name `outbound|<port>|<subset>|<host>`. */
function hostOf(assignment: object): string {
  const name = String((assignment as { cluster_name?: unknown }).cluster_name ?? '');
  return name.slice(name.lastIndexOf('|') + 1);
}

/**
 * Endpoint-only push: the class's previous assignments with those of changed services replaced (in
 * place, same order). Without carry information (not an endpoint-only push) it generates from scratch.
 */
export function updateEds(push: PushContext, scope: ProxyScope, previous: readonly object[]): object[] {
  const carry = push.edsCarry;
  if (!carry) return generateEds(push, scope);
  const dirty = new Map<string, Service>();
  for (const service of scope.services) if (carry.dirtyHosts.has(service.hostname)) dirty.set(service.hostname, service);
  if (dirty.size === 0) return previous as object[];
  const out: object[] = [];
  const done = new Set<string>();
  for (const r of previous) {
    const host = hostOf(r);
    const service = dirty.get(host);
    if (!service) out.push(r);
    else if (!done.has(host)) {
      done.add(host);
      serviceAssignments(push, scope, service, out);
    }
  }
  // A changed service that had no assignment before (resolution NONE without endpoints, for Envoy).
  for (const [host, service] of dirty) if (!done.has(host)) serviceAssignments(push, scope, service, out);
  return out;
}
