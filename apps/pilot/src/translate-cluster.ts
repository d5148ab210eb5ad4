/**
 * Services x DestinationRules -> Envoy clusters, named as Istio does: `outbound|<port>|<subset>|<host>`
 * (one per service port, plus one per DestinationRule subset), and `inbound|<port>||` for a Sidecar
 * ingress listener's local endpoint.
 */
import { clusterLoadAssignment, edsCluster, staticCluster, type Cluster } from '@mesh/xds';
import type { ServicePort } from '@mesh/config';
import type { ProxyScope, IngressListener } from './proxy-scope';
import type { PushContext } from './push-context';
import type { Service } from './registry';
import { applyTrafficPolicy, DEFAULT_CONNECT_TIMEOUT_MS, mergedPolicy } from './translate-traffic-policy';
import { dnsLoadAssignment } from './translate-endpoints';
import { destinationSanMatchers } from './translate-security-identity';
import { destinationRuleFor, destinationRuleKey } from './translate-visibility';

export function outboundClusterName(port: number, subset: string, host: string): string {
  return `outbound|${port}|${subset}|${host}`;
}

export function inboundClusterName(port: number): string {
  return `inbound|${port}||`;
}

/** Every outbound cluster (base + subsets) of one service port. */
export function serviceClusters(push: PushContext, scope: ProxyScope, service: Service, port: ServicePort): Cluster[] {
  const dr = destinationRuleFor(push, scope.namespace, service.hostname)?.spec;
  const subsets = ['', ...(dr?.subsets ?? []).map((s) => s.name)];
  const out: Cluster[] = [];
  for (const subset of subsets) {
    const name = outboundClusterName(port.number, subset, service.hostname);
    let cluster: Cluster;
    if (service.resolution === 'DNS' || service.resolution === 'DNS_ROUND_ROBIN') {
      // grpc-js-xds has no STRICT_DNS; LOGICAL_DNS is what Istio's grpc generator uses.
      cluster = { name, type: scope.generator === 'grpc' ? 'LOGICAL_DNS' : 'STRICT_DNS', load_assignment: dnsLoadAssignment(push, service, port, name, subset) };
      if (scope.generator === 'envoy') cluster.dns_lookup_family = 'V4_ONLY';
    } else if (service.resolution === 'NONE' && scope.generator === 'envoy' && push.registry.endpoints(service, port).length === 0) {
      cluster = { name, type: 'ORIGINAL_DST', lb_policy: 'CLUSTER_PROVIDED' };
    } else {
      cluster = edsCluster({ name, serviceName: name });
    }
    const isPassthrough = cluster.type === 'ORIGINAL_DST';
    if (!isPassthrough) {
      const policy = mergedPolicy(dr, subset, port.number);
      const sans = policy?.tls?.mode === 'ISTIO_MUTUAL' ? destinationSanMatchers(push, service, port) : undefined;
      applyTrafficPolicy(cluster, policy, scope.generator, service.hostname, sans);
    } else cluster.connect_timeout = { seconds: String(DEFAULT_CONNECT_TIMEOUT_MS / 1000), nanos: 0 };
    if (scope.generator === 'grpc' && cluster.type === 'ORIGINAL_DST') continue;
    out.push(cluster);
  }
  return out;
}

/** The local-application cluster behind a Sidecar ingress listener. */
export function inboundCluster(ingress: IngressListener): Cluster {
  const ep = ingress.defaultEndpoint;
  const colon = ep.lastIndexOf(':');
  const host = ep.slice(0, colon).replace(/^\[|\]$/g, '');
  const port = Number(ep.slice(colon + 1));
  const name = inboundClusterName(ingress.port.number);
  return staticCluster(name, clusterLoadAssignment(name, [{ address: host === '0.0.0.0' ? '127.0.0.1' : host, port }]));
}

export function buildClusters(push: PushContext, scope: ProxyScope): Cluster[] {
  const out: Cluster[] = [];
  // A service's clusters depend only on the push and the client kind: shared by every proxy class, so
  // the snapshot encodes them once per push.
  for (const service of scope.services) {
    for (const port of service.ports) {
      // Keyed by the DestinationRule this namespace sees (exportTo may give namespaces different ones).
      const dr = destinationRuleKey(push, scope.namespace, service.hostname);
      out.push(...push.memo(`cds:${scope.generator}:${port.number}:${service.hostname}:${dr}`, () => serviceClusters(push, scope, service, port)));
    }
  }
  if (scope.generator === 'envoy') for (const ingress of scope.ingress) out.push(inboundCluster(ingress));
  return out;
}
