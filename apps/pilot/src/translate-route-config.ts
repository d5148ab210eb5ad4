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

/** host, host:port, and for Kubernetes-style names the shorter forms (`name.ns`, `name.ns.svc`). */
export function domainsFor(push: PushContext, service: Service, port: number): string[] {
  const names = [service.hostname];
  const suffix = `.svc.${push.options.domainSuffix}`;
  if (service.hostname.endsWith(suffix)) {
    const short = service.hostname.slice(0, -suffix.length);
    names.push(`${short}.svc`, short);
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
    const vhosts = op.services.map((s) => {
      const port = s.ports.find((p) => p.number === op.port) as ServicePort;
      return serviceVirtualHost(push, scope, s, port, domainsFor(push, s, op.port));
    });
    out.push(routeConfiguration(String(op.port), vhosts));
  }
  return out;
}
