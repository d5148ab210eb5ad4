/**
 * EDS: one ClusterLoadAssignment per EDS cluster of the scope. Assignments do not depend on the proxy,
 * so they are memoised per push: every proxy class shares the same objects (encoded once). On an
 * endpoint-only push, assignments of services whose endpoints did not change are carried over as they are.
 */
import type { Generator } from './generators';
import { outboundClusterName } from './translate-cluster';
import { endpointAssignment } from './translate-endpoints';

export const generateEds: Generator = (push, scope) => {
  const out = [];
  for (const service of scope.services) {
    if (service.resolution === 'DNS' || service.resolution === 'DNS_ROUND_ROBIN') continue;
    const subsets = ['', ...(push.destinationRule(service.hostname)?.spec.subsets ?? []).map((s) => s.name)];
    for (const port of service.ports) {
      if (service.resolution === 'NONE' && scope.generator === 'envoy' && push.registry.endpoints(service, port).length === 0) continue;
      for (const subset of subsets) {
        const name = outboundClusterName(port.number, subset, service.hostname);
        const carried = push.edsCarry && !push.edsCarry.dirtyHosts.has(service.hostname) ? push.edsCarry.previous.get(name) : undefined;
        out.push(carried ?? push.memo(`eds:${name}`, () => endpointAssignment(push, service, port, name, subset)));
      }
    }
  }
  return out;
};
