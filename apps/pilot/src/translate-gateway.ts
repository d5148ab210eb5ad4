/**
 * Gateways for router proxies (`router~...`): one socket listener per Gateway server port (on its
 * `bind`, default 0.0.0.0), named `<bind>_<port>`, whose HCM takes routes `http.<port>` over RDS; the
 * route configuration holds a virtual host per host of every VirtualService bound to the gateway
 * (`gateways: [ns/name]`) that the server's hosts admit. TLS servers are not translated yet.
 */
import {
  corsFilter, faultFilter, hcmNetworkFilter, httpConnectionManager, routerFilter, routeConfiguration, socketListener,
  type Listener, type Route, type RouteConfiguration, type VirtualHost,
} from '@mesh/xds';
import { isHttpPort, type GatewayServer, type ProxyScope } from './proxy-scope';
import type { PushContext } from './push-context';
import { translateHttpRoute } from './translate-route';

interface PortGroup {
  port: number;
  binds: Set<string>;
  servers: GatewayServer[];
}

function httpPortGroups(scope: ProxyScope): PortGroup[] {
  const groups = new Map<number, PortGroup>();
  for (const s of scope.gatewayServers) {
    if (s.tls || !isHttpPort(s.port)) continue;
    const g = groups.get(s.port.number) ?? { port: s.port.number, binds: new Set<string>(), servers: [] };
    g.binds.add(s.bind);
    g.servers.push(s);
    groups.set(s.port.number, g);
  }
  return [...groups.values()];
}

function hostAdmitted(serverHost: string, vsNamespace: string, host: string): boolean {
  const slash = serverHost.indexOf('/');
  const ns = slash >= 0 ? serverHost.slice(0, slash) : '*';
  const pattern = slash >= 0 ? serverHost.slice(slash + 1) : serverHost;
  if (ns !== '*' && ns !== '.' && ns !== vsNamespace) return false;
  if (pattern === '*' || host === '*') return true;
  if (pattern.startsWith('*.')) return host.endsWith(pattern.slice(1));
  return pattern === host;
}

export function gatewayListeners(scope: ProxyScope): Listener[] {
  const out: Listener[] = [];
  for (const g of httpPortGroups(scope)) {
    const hcm = httpConnectionManager({ statPrefix: `outbound_${g.port}`, routeConfigName: `http.${g.port}`, filters: [faultFilter(), corsFilter(), routerFilter()] });
    for (const bind of g.binds) {
      out.push(socketListener({ name: `${bind}_${g.port}`, address: bind, port: g.port, filterChains: [{ filters: [hcmNetworkFilter(hcm)] }], direction: 'OUTBOUND' }));
    }
  }
  return out;
}

export function gatewayRouteConfigs(push: PushContext, scope: ProxyScope): RouteConfiguration[] {
  const out: RouteConfiguration[] = [];
  for (const g of httpPortGroups(scope)) {
    const gatewayNames = new Set(g.servers.map((s) => s.gateway));
    const vhosts = new Map<string, VirtualHost>();
    for (const vs of push.gatewayVirtualServices) {
      const ns = vs.config.meta.namespace;
      const bound = (vs.spec.gateways ?? []).some((name) => gatewayNames.has(name.includes('/') ? name : `${ns}/${name}`));
      if (!bound) continue;
      for (const host of vs.spec.hosts ?? []) {
        if (!g.servers.some((s) => s.hosts.some((h) => hostAdmitted(h, ns, host)))) continue;
        const routes: Route[] = [];
        (vs.spec.http ?? []).forEach((r, i) => routes.push(...translateHttpRoute({ push, scope, namespace: ns, listenerPort: g.port }, r, i)));
        const name = `${host}:${g.port}`;
        const existing = vhosts.get(name);
        if (existing) existing.routes.push(...routes);
        else vhosts.set(name, { name, domains: host === '*' ? ['*'] : [host, `${host}:${g.port}`], routes });
      }
    }
    out.push(routeConfiguration(`http.${g.port}`, [...vhosts.values()]));
  }
  return out;
}
