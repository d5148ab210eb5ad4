/**
 * Gateways for router proxies (`router~...`): one socket listener per Gateway server port (on its
 * `bind`, default 0.0.0.0), named `<bind>_<port>`.
 * - Plain HTTP servers: the HCM takes routes `http.<port>` over RDS: a virtual host per host of every
 *   VirtualService bound to the gateway (`gateways: [ns/name]`) that the servers' hosts admit. A server
 *   with `tls.httpsRedirect` makes its virtual hosts answer plain HTTP with a redirect to HTTPS.
 * - HTTPS servers (SIMPLE, MUTUAL): a filter chain per server matching its hosts by SNI, terminating TLS
 *   with the server's credential over SDS (translate-gateway-tls.ts), its HCM taking routes
 *   `https.<port>.<port name>.<gateway>.<namespace>`. A credential that does not resolve leaves the
 *   server out with a warning; the other servers keep working.
 * - TLS servers with PASSTHROUGH: a filter chain per VirtualService `tls` match (SNI hosts) proxying the
 *   encrypted stream (tcp_proxy) to the route's destination.
 * Listeners and routes of a class are planned together (once per push), so every route a listener names
 * exists.
 */
import {
  corsFilter, faultFilter, hcmNetworkFilter, httpConnectionManager, routerFilter, routeConfiguration, socketListener, tcpProxyFilter,
  type FilterChain, type Listener, type Route, type RouteConfiguration, type VirtualHost,
} from '@mesh/xds';
import { createLogger } from '@mesh/runtime';
import { isHttpPort, type GatewayServer, type ProxyScope } from './proxy-scope';
import type { PushContext } from './push-context';
import { expandHttpRoutes } from './translate-delegate';
import { serverNames, serverSecrets, serverTransportSocket, terminatesTls } from './translate-gateway-tls';
import { tlsInspector } from './translate-security-peer-authn';
import { destinationCluster, translateHttpRoute } from './translate-route';
import { virtualServiceVisible } from './translate-visibility';

const log = createLogger('pilot.gateway');

type GatewayVirtualHost = VirtualHost & { require_tls?: 'ALL' };

interface PortGroup {
  port: number;
  binds: Set<string>;
  servers: GatewayServer[];
}

interface GatewayPlan {
  listeners: Listener[];
  routes: RouteConfiguration[];
}

function portGroups(scope: ProxyScope): PortGroup[] {
  const groups = new Map<number, PortGroup>();
  for (const s of scope.gatewayServers) {
    const g = groups.get(s.port.number) ?? { port: s.port.number, binds: new Set<string>(), servers: [] };
    g.binds.add(s.bind);
    g.servers.push(s);
    groups.set(s.port.number, g);
  }
  return [...groups.values()];
}

function namespaceOf(gateway: string): string {
  return gateway.slice(0, gateway.indexOf('/'));
}

/** A server host `ns/host` (`.` = the Gateway's namespace, `*` or none = any) admits a VirtualService host. */
function hostAdmitted(serverHost: string, gatewayNs: string, vsNamespace: string, host: string): boolean {
  const slash = serverHost.indexOf('/');
  const ns = slash >= 0 ? serverHost.slice(0, slash) : '*';
  const pattern = slash >= 0 ? serverHost.slice(slash + 1) : serverHost;
  if (ns !== '*' && (ns === '.' ? gatewayNs : ns) !== vsNamespace) return false;
  if (pattern === '*' || host === '*') return true;
  if (pattern.startsWith('*.')) return host.endsWith(pattern.slice(1));
  return pattern === host;
}

function admittedBy(servers: readonly GatewayServer[], vsNamespace: string, host: string): boolean {
  return servers.some((s) => s.hosts.some((h) => hostAdmitted(h, namespaceOf(s.gateway), vsNamespace, host)));
}

function warnOnce(push: PushContext, server: GatewayServer, message: string): void {
  push.memo(`gateway-warn|${server.gateway}|${server.index}|${message}`, () =>
    log.warn('gateway server left out', {
      resource: `Gateway/${server.gateway}`,
      file: server.source.file,
      document: server.source.index,
      path: `spec.servers[${server.index}]`,
      error: message,
    }),
  );
}

function httpsRouteName(s: GatewayServer): string {
  const [ns, name] = s.gateway.split('/') as [string, string];
  return `https.${s.port.number}.${s.port.name ?? s.index}.${name}.${ns}`;
}

function boundTo(names: ReadonlySet<string>, vsNamespace: string, gateways: readonly string[] | undefined): boolean {
  return (gateways ?? []).some((name) => names.has(name.includes('/') ? name : `${vsNamespace}/${name}`));
}

/** Virtual hosts of the VirtualServices bound to these servers' gateways, for hosts the servers admit. */
function virtualHosts(push: PushContext, scope: ProxyScope, servers: readonly GatewayServer[], port: number): GatewayVirtualHost[] {
  const gatewayNames = new Set(servers.map((s) => s.gateway));
  const vhosts = new Map<string, GatewayVirtualHost>();
  // httpsRedirect: plain HTTP to these hosts is answered with a redirect to https (Envoy's require_tls).
  const redirecting = servers.filter((s) => s.tlsSettings?.httpsRedirect);
  const redirects = (ns: string, host: string): boolean => redirecting.some((s) => s.hosts.some((h) => hostAdmitted(h, namespaceOf(s.gateway), ns, host)));
  for (const vs of push.gatewayVirtualServices) {
    const ns = vs.config.meta.namespace;
    if (!boundTo(gatewayNames, ns, vs.spec.gateways) || !virtualServiceVisible(push, vs, scope.namespace, undefined)) continue;
    for (const host of vs.spec.hosts ?? []) {
      if (!admittedBy(servers, ns, host)) continue;
      const routes: Route[] = [];
      for (const e of expandHttpRoutes(push, vs)) routes.push(...translateHttpRoute({ push, scope, namespace: e.namespace, listenerPort: port }, e.route, e.index));
      const name = `${host}:${port}`;
      const vhost = vhosts.get(name) ?? { name, domains: host === '*' ? ['*'] : [host, `${host}:${port}`], routes: [] };
      vhost.routes.push(...routes);
      if (redirects(ns, host)) vhost.require_tls = 'ALL';
      vhosts.set(name, vhost);
    }
  }
  // A redirecting server's hosts redirect even without a VirtualService for them (as Istio does).
  for (const s of redirecting) {
    for (const h of serverNames(s.hosts).length ? serverNames(s.hosts) : ['*']) {
      const name = `${h}:${port}`;
      if (!vhosts.has(name)) vhosts.set(name, { name, domains: h === '*' ? ['*'] : [h, `${h}:${port}`], routes: [], require_tls: 'ALL' });
    }
  }
  return [...vhosts.values()];
}

const httpFilters = (): ReturnType<typeof routerFilter>[] => [faultFilter(), corsFilter(), routerFilter()];

/** PASSTHROUGH: one chain per VirtualService tls match whose SNI hosts this server admits. */
function passthroughChains(push: PushContext, scope: ProxyScope, server: GatewayServer): FilterChain[] {
  const out: FilterChain[] = [];
  const names = new Set([server.gateway]);
  for (const vs of push.gatewayVirtualServices) {
    const ns = vs.config.meta.namespace;
    if (!boundTo(names, ns, vs.spec.gateways) || !virtualServiceVisible(push, vs, scope.namespace, undefined)) continue;
    (vs.spec.tls ?? []).forEach((t, i) => {
      for (const m of t.match) {
        if (m.port !== undefined && m.port !== server.port.number) continue;
        const sni = m.sniHosts.filter((h) => admittedBy([server], ns, h));
        if (sni.length === 0 || !t.route?.length) continue;
        const input = { push, namespace: ns, listenerPort: server.port.number };
        const dests = t.route.map((r) => ({ name: destinationCluster(input, r.destination).name, weight: r.weight ?? 100 }));
        const statPrefix = `${ns}.${vs.config.meta.name}.tls[${i}]`;
        const proxy = dests.length === 1 && dests[0]
          ? tcpProxyFilter({ stat_prefix: statPrefix, cluster: dests[0].name })
          : tcpProxyFilter({ stat_prefix: statPrefix, weighted_clusters: { clusters: dests } });
        out.push({ name: `${server.port.number}.passthrough.${statPrefix}`, filter_chain_match: { server_names: [...new Set(sni)].sort() }, filters: [proxy] });
      }
    });
  }
  return out;
}

function tlsListenerChains(push: PushContext, scope: ProxyScope, g: PortGroup, routes: RouteConfiguration[]): FilterChain[] {
  const chains: FilterChain[] = [];
  const claimed = new Set<string>();
  const claim = (server: GatewayServer, names: string[]): boolean => {
    const key = names.join(',') || '*';
    if (claimed.has(key)) {
      warnOnce(push, server, `SNI ${key} on port ${g.port} is already served by another server`);
      return false;
    }
    claimed.add(key);
    return true;
  };
  for (const s of g.servers) {
    if (!s.tls) {
      warnOnce(push, s, `a plain ${s.port.protocol ?? 'TCP'} server cannot share port ${g.port} with TLS servers`);
      continue;
    }
    const mode = s.tlsSettings?.mode;
    if (mode === 'PASSTHROUGH') {
      for (const chain of passthroughChains(push, scope, s)) if (claim(s, chain.filter_chain_match?.server_names ?? [])) chains.push(chain);
      continue;
    }
    if (!terminatesTls(s.tlsSettings) || (s.port.protocol ?? '').toUpperCase() !== 'HTTPS') {
      warnOnce(push, s, `tls mode ${mode ?? '(none)'} on a ${s.port.protocol ?? ''} server is not supported`);
      continue;
    }
    const secrets = serverSecrets(push, scope.namespace, s);
    if ('missing' in secrets) {
      warnOnce(push, s, `credential not available: ${secrets.missing}`);
      continue;
    }
    const names = serverNames(s.hosts);
    if (!claim(s, names)) continue;
    // Istio's name; a port name used twice on one Gateway gets the server index too.
    const routeName = routes.some((r) => r.name === httpsRouteName(s)) ? `${httpsRouteName(s)}.${s.index}` : httpsRouteName(s);
    routes.push(routeConfiguration(routeName, virtualHosts(push, scope, [s], g.port)));
    const hcm = httpConnectionManager({ statPrefix: `outbound_${g.port}`, routeConfigName: routeName, filters: httpFilters() });
    chains.push({
      name: routeName,
      ...(names.length > 0 ? { filter_chain_match: { server_names: names } } : {}),
      transport_socket: serverTransportSocket(s),
      filters: [hcmNetworkFilter(hcm)],
    });
  }
  // Envoy tries chains with server_names before a catch-all; keep that order explicit for readers.
  return [...chains.filter((c) => c.filter_chain_match?.server_names?.length), ...chains.filter((c) => !c.filter_chain_match?.server_names?.length)];
}

function plan(push: PushContext, scope: ProxyScope): GatewayPlan {
  const listeners: Listener[] = [];
  const routes: RouteConfiguration[] = [];
  for (const g of portGroups(scope)) {
    let chains: FilterChain[];
    let listenerFilters: ReturnType<typeof tlsInspector>[] | undefined;
    if (g.servers.some((s) => s.tls)) {
      chains = tlsListenerChains(push, scope, g, routes);
      listenerFilters = [tlsInspector()];
    } else {
      const http = g.servers.filter((s) => isHttpPort(s.port));
      if (http.length === 0) continue;
      routes.push(routeConfiguration(`http.${g.port}`, virtualHosts(push, scope, http, g.port)));
      const hcm = httpConnectionManager({ statPrefix: `outbound_${g.port}`, routeConfigName: `http.${g.port}`, filters: httpFilters() });
      chains = [{ filters: [hcmNetworkFilter(hcm)] }];
    }
    // Every server of the port was left out: no listener rather than one Envoy would refuse.
    if (chains.length === 0) continue;
    for (const bind of g.binds) {
      listeners.push(socketListener({ name: `${bind}_${g.port}`, address: bind, port: g.port, filterChains: chains, direction: 'OUTBOUND', ...(listenerFilters ? { listenerFilters } : {}) }));
    }
  }
  return { listeners, routes };
}

function gatewayPlan(push: PushContext, scope: ProxyScope): GatewayPlan {
  return push.memo(`gateway-plan|${scope.key}`, () => plan(push, scope));
}

export function gatewayListeners(push: PushContext, scope: ProxyScope): Listener[] {
  return gatewayPlan(push, scope).listeners;
}

export function gatewayRouteConfigs(push: PushContext, scope: ProxyScope): RouteConfiguration[] {
  return gatewayPlan(push, scope).routes;
}
