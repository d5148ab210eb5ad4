/**
 * RouteConfigurations: for proxyless gRPC one per service port (named like its listener, `host:port`);
 * for Envoy one per outbound HTTP port (named by the port number), with a virtual host per service
 * whose domains cover the names a client may put in Host/:authority.
 */
import { routeConfiguration, type RouteConfiguration } from '@mesh/xds';
import type { ServicePort } from '@mesh/config';
import type { ProxyScope } from './proxy-scope';
import type { PushContext } from './push-context';
import type { Service } from './registry';
import { gatewayRouteConfigs } from './translate-gateway';
import { outboundPorts } from './translate-listener';
import { serviceVirtualHost } from './translate-route';

/**
 * host, host:port, and for Kubernetes-style names the shorter forms a client may put in Host: `name.ns.svc`,
 * `name.ns`, and, for a proxy in the service's own namespace, the bare `name` (as Istio does, so that an
 * app calling http://reviews:9080 is routed).
 */
export function domainsFor(push: PushContext, service: Service, port: number, proxyNamespace?: string): string[] {
  const names = [service.hostname];
  const suffix = `.svc.${push.options.domainSuffix}`;
  if (service.hostname.endsWith(suffix)) {
    const short = service.hostname.slice(0, -suffix.length);
    names.push(`${short}.svc`, short);
    const dot = short.lastIndexOf('.');
    if (dot > 0 && short.slice(dot + 1) === proxyNamespace) names.push(short.slice(0, dot));
  }
  return names.flatMap((n) => [n, `${n}:${port}`]);
}

export function buildRouteConfigs(push: PushContext, scope: ProxyScope): RouteConfiguration[] {
  const out: RouteConfiguration[] = [];
  if (scope.generator === 'grpc') {
    for (const s of scope.services) {
      for (const p of s.ports) {
        const name = `${s.hostname}:${p.number}`;
        out.push(routeConfiguration(name, [serviceVirtualHost(push, scope, s, p, [name, s.hostname])]));
      }
    }
    return out;
  }
  if (scope.type === 'router') return gatewayRouteConfigs(push, scope);
  for (const op of outboundPorts(scope)) {
    if (!op.http) continue;
    // Envoy rejects a route configuration in which two virtual hosts share a domain: the first service
    // to claim a name (e.g. a ServiceEntry host `reviews` vs the short name of reviews.<ns>.svc) keeps it.
    const claimed = new Set<string>();
    const vhosts = op.services.map((s) => {
      const port = s.ports.find((p) => p.number === op.port) as ServicePort;
      const domains = domainsFor(push, s, op.port, scope.namespace).filter((d) => !claimed.has(d));
      for (const d of domains) claimed.add(d);
      return serviceVirtualHost(push, scope, s, port, domains);
    });
    out.push(routeConfiguration(String(op.port), vhosts));
  }
  return out;
}
