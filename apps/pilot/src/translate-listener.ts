/**
 * Listeners by client kind. Proxyless gRPC: one api_listener per service port, named `host:port`.
 * Envoy: socket listeners — a Sidecar egress listener with a port (bound on `bind`, routing by
 * Host/:authority to its hosts), virtual outbound listeners per port when traffic is captured, and an
 * inbound listener per Sidecar ingress port.
 */
import {
  corsFilter, faultFilter, hcmNetworkFilter, httpConnectionManager, httpRbacFilter, networkRbacFilter, routerFilter, socketListener,
  tcpProxyFilter, apiListener, routeConfiguration, virtualHost, type FilterChain, type Listener, type NetworkFilter,
} from '@mesh/xds';
import { createLogger } from '@mesh/runtime';
import type { VirtualServiceSpec } from '@mesh/config';
import { isHttpPort, type IngressListener, type ProxyScope } from './proxy-scope';
import type { PushContext } from './push-context';
import type { Service } from './registry';
import { inboundClusterName, outboundClusterName } from './translate-cluster';
import { destinationCluster } from './translate-route';
import { gatewayListeners } from './translate-gateway';
import { visibleVirtualServices } from './translate-visibility';
import { buildWorkloadRbac, rbacInOrder, selectAuthzPolicies } from './translate-security-authz';
import { effectiveMtlsMode, inboundChains } from './translate-security-peer-authn';

const log = createLogger('pilot.listener');

/** Outbound ports of an Envoy proxy and the services behind each (one route config per port). */
export interface OutboundPort {
  port: number;
  http: boolean;
  services: Service[];
  /** Socket listeners on this port: `bind` addresses; empty for a virtual (captured) listener. */
  binds: string[];
}

export function outboundPorts(scope: ProxyScope): OutboundPort[] {
  const byPort = new Map<number, OutboundPort>();
  if (scope.egress.length > 0) {
    for (const e of scope.egress) {
      const entry = byPort.get(e.port.number) ?? { port: e.port.number, http: isHttpPort(e.port), services: [], binds: [] };
      for (const s of e.services) if (!entry.services.includes(s)) entry.services.push(s);
      entry.binds.push(e.bind);
      byPort.set(e.port.number, entry);
    }
    return [...byPort.values()];
  }
  if (scope.interception === 'NONE') return [];
  for (const s of scope.services) {
    for (const p of s.ports) {
      const entry = byPort.get(p.number) ?? { port: p.number, http: isHttpPort(p), services: [], binds: [] };
      entry.services.push(s);
      byPort.set(p.number, entry);
    }
  }
  return [...byPort.values()];
}

const envoyHttpFilters = (): ReturnType<typeof routerFilter>[] => [faultFilter(), corsFilter(), routerFilter()];

function tcpChain(push: PushContext, scope: ProxyScope, port: number, services: Service[]): FilterChain | undefined {
  const svc = services[0];
  if (!svc) return undefined;
  const vs = visibleVirtualServices(push, svc.hostname, scope.namespace, scope.egressHosts)[0];
  const tcp = (vs?.spec as VirtualServiceSpec | undefined)?.tcp?.find((t) => !t.match || t.match.some((m) => m.port === undefined || m.port === port));
  const statPrefix = outboundClusterName(port, '', svc.hostname);
  if (vs && tcp?.route?.length) {
    const input = { push, namespace: vs.config.meta.namespace, listenerPort: port };
    const dests = tcp.route.map((r) => ({ name: destinationCluster(input, r.destination).name, weight: r.weight ?? 100 }));
    if (dests.length === 1 && dests[0]) return { filters: [tcpProxyFilter({ stat_prefix: statPrefix, cluster: dests[0].name })] };
    return { filters: [tcpProxyFilter({ stat_prefix: statPrefix, weighted_clusters: { clusters: dests } })] };
  }
  return { filters: [tcpProxyFilter({ stat_prefix: statPrefix, cluster: statPrefix })] };
}

function envoyListeners(push: PushContext, scope: ProxyScope): Listener[] {
  const out: Listener[] = [];
  for (const op of outboundPorts(scope)) {
    const chain: FilterChain | undefined = op.http
      ? { filters: [hcmNetworkFilter(httpConnectionManager({ statPrefix: `outbound_${op.port}`, routeConfigName: String(op.port), filters: envoyHttpFilters() }))] }
      : tcpChain(push, scope, op.port, op.services);
    if (!chain) continue;
    if (op.binds.length === 0) {
      const l = socketListener({ name: `0.0.0.0_${op.port}`, address: '0.0.0.0', port: op.port, filterChains: [chain], direction: 'OUTBOUND' });
      l.bind_to_port = { value: false };
      out.push(l);
    } else {
      for (const bind of op.binds) out.push(socketListener({ name: `${bind}_${op.port}`, address: bind, port: op.port, filterChains: [chain], direction: 'OUTBOUND' }));
    }
  }
  for (const ingress of scope.ingress) out.push(inboundListener(push, scope, ingress));
  return out;
}

/**
 * An inbound listener: filter chains by the port's PeerAuthentication mode, each with the workload's
 * AuthorizationPolicy RBAC filters (HTTP: before the router; TCP: before tcp_proxy).
 */
function inboundListener(push: PushContext, scope: ProxyScope, ingress: IngressListener): Listener {
  const port = ingress.port.number;
  const cluster = inboundClusterName(port);
  const http = isHttpPort(ingress.port);
  const workload = { namespace: scope.namespace, labels: scope.labels };
  const { rootNamespace } = push.options;
  const rbac = rbacInOrder(
    buildWorkloadRbac(selectAuthzPolicies(push.authorizationPolicies, rootNamespace, workload), http, (msg, policy) =>
      // Once per push and message, not once per proxy class.
      push.memo(`authz-warn|${policy}|${msg}`, () => log.warn(msg, { policy, listener: `${ingress.bind}_${port}` })),
    ),
  );
  const filters: NetworkFilter[] = http
    ? [
        hcmNetworkFilter(
          httpConnectionManager({
            statPrefix: `inbound_${port}`,
            routeConfig: routeConfiguration(cluster, [virtualHost('inbound|http', ['*'], [{ match: { prefix: '/' }, route: { cluster, timeout: { seconds: '0', nanos: 0 } } }])]),
            filters: [...rbac.map((r) => httpRbacFilter(r)), routerFilter()],
          }),
        ),
      ]
    : [...rbac.map((r) => networkRbacFilter(r, 'tcp.')), tcpProxyFilter({ stat_prefix: cluster, cluster })];
  const mode = effectiveMtlsMode(push.peerAuthentications, rootNamespace, workload, port);
  const { chains, listenerFilters } = inboundChains(mode, cluster, filters, http);
  const listener = socketListener({
    name: `${ingress.bind}_${port}`, address: ingress.bind, port, filterChains: chains, direction: 'INBOUND',
    ...(listenerFilters.length > 0 ? { listenerFilters } : {}),
  });
  if (ingress.virtual) listener.bind_to_port = { value: false };
  return listener;
}

function grpcListeners(scope: ProxyScope): Listener[] {
  const out: Listener[] = [];
  for (const s of scope.services) {
    for (const p of s.ports) {
      const name = `${s.hostname}:${p.number}`;
      out.push(apiListener(name, httpConnectionManager({ statPrefix: name, routeConfigName: name, filters: [faultFilter(), routerFilter()] })));
    }
  }
  return out;
}

export function buildListeners(push: PushContext, scope: ProxyScope): Listener[] {
  if (scope.generator === 'grpc') return grpcListeners(scope);
  return scope.type === 'router' ? gatewayListeners(push, scope) : envoyListeners(push, scope);
}
