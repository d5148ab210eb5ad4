/**
 * What one proxy can see (Istio's SidecarScope): the services its Sidecar's egress hosts allow, its
 * egress listeners with a port, its ingress listeners. Proxies with the same scope key get the same
 * snapshot, so generation cost grows with the number of distinct scopes, not of proxies.
 */
import type { ServerTlsSettings, ServicePort, SidecarSpec } from '@mesh/config';
import { configKey } from '@mesh/config';
import type { Proxy } from './proxy';
import { parseEgressHost, serviceVisible, type EgressHost, type PushContext } from './push-context';
import { labelsMatch, type Service, type WorkloadInstance } from './registry';
import { serviceExported } from './translate-visibility';

export interface EgressListener {
  port: ServicePort;
  bind: string;
  captureNone: boolean;
  services: Service[];
}

export interface IngressListener {
  port: ServicePort;
  bind: string;
  defaultEndpoint: string;
  /** From the proxy's own WorkloadEntry ports under traffic capture: not bound (bind_to_port false). */
  virtual: boolean;
}

/** A Gateway server that applies to a router proxy (its selector matches the proxy's labels). */
export interface GatewayServer {
  gateway: string; // namespace/name
  /** Index in the Gateway's `servers` (names its filter chain and route configuration). */
  index: number;
  port: ServicePort;
  bind: string;
  hosts: string[];
  /** TLS is terminated or passed through (an HTTPS or TLS server with a tls mode). */
  tls: boolean;
  tlsSettings: ServerTlsSettings | undefined;
  /** Where the Gateway came from, for warnings. */
  source: { file: string; index: number };
}

export interface ProxyScope {
  key: string;
  type: Proxy['type'];
  gatewayServers: GatewayServer[];
  generator: Proxy['generator'];
  namespace: string;
  labels: Record<string, string>;
  interception: Proxy['interception'];
  sidecar: string | undefined;
  /** The Sidecar's egress hosts (all listeners), or undefined without a Sidecar egress section. */
  egressHosts: EgressHost[] | undefined;
  services: Service[];
  egress: EgressListener[];
  ingress: IngressListener[];
}

const HTTP_PROTOCOLS = new Set(['HTTP', 'HTTP2', 'GRPC', 'GRPC-WEB', 'HTTP_PROXY']);

/** Protocol of a port: explicit `protocol`, else Istio's name prefix (`http-web` -> HTTP), else TCP. */
export function isHttpPort(port: ServicePort): boolean {
  const p = (port.protocol ?? port.name?.split('-')[0] ?? '').toUpperCase();
  return HTTP_PROTOCOLS.has(p);
}

export function computeScope(push: PushContext, proxy: Proxy): ProxyScope {
  // ServiceEntry exportTo: hosts not exported to the proxy's namespace do not exist for it.
  const all = push.registry.services().filter((s) => serviceExported(push, s, proxy.namespace));
  const sidecar = push.sidecarFor(proxy);
  const spec: SidecarSpec | undefined = sidecar?.spec;
  const ns = sidecar?.config.meta.namespace ?? proxy.namespace;
  const egressSpecs = spec?.egress ?? [];
  let services: Service[] = all.slice();
  const egress: EgressListener[] = [];
  const egressHosts: EgressHost[] | undefined = egressSpecs.length > 0 ? [] : undefined;
  if (egressSpecs.length > 0) {
    const visible = new Set<Service>();
    for (const e of egressSpecs) {
      const hosts = e.hosts.map((h) => parseEgressHost(h, ns));
      egressHosts?.push(...hosts);
      const matched = all.filter((s) => serviceVisible(s, hosts));
      for (const s of matched) visible.add(s);
      if (e.port) {
        const captureNone = e.captureMode === 'NONE' || proxy.interception === 'NONE';
        egress.push({
          port: e.port,
          bind: e.bind ?? (captureNone ? '127.0.0.1' : '0.0.0.0'),
          captureNone,
          services: matched.filter((s) => s.ports.some((p) => p.number === e.port?.number)),
        });
      }
    }
    services = all.filter((s) => visible.has(s));
  }
  const ingress: IngressListener[] = (spec?.ingress ?? []).map((i) => ({
    port: i.port,
    bind: i.bind ?? '0.0.0.0',
    defaultEndpoint: i.defaultEndpoint ?? `127.0.0.1:${i.port.targetPort ?? i.port.number}`,
    virtual: false,
  }));
  if (ingress.length === 0 && proxy.type === 'sidecar' && proxy.interception !== 'NONE') {
    // No Sidecar ingress: Istio builds inbound listeners from the proxy's own workload ports.
    const seen = new Set<number>();
    for (const w of ownWorkloads(push, proxy)) {
      for (const [name, number] of Object.entries(w.ports)) {
        if (seen.has(number)) continue;
        seen.add(number);
        ingress.push({ port: { number, name }, bind: proxy.ip, defaultEndpoint: `127.0.0.1:${number}`, virtual: true });
      }
    }
  }
  const gatewayServers: GatewayServer[] = [];
  if (proxy.type === 'router') {
    for (const g of push.gateways) {
      if (!g.spec.selector || !labelsMatch(g.spec.selector, proxy.labels)) continue;
      (g.spec.servers ?? []).forEach((server, index) => {
        gatewayServers.push({
          gateway: `${g.config.meta.namespace}/${g.config.meta.name}`,
          index,
          port: server.port,
          bind: server.bind ?? '0.0.0.0',
          hosts: server.hosts,
          tls: server.tls?.mode !== undefined && (server.port.protocol ?? '').toUpperCase() !== 'HTTP',
          tlsSettings: server.tls,
          source: g.config.source,
        });
      });
    }
  }
  return {
    key: scopeKey(push, proxy),
    type: proxy.type,
    gatewayServers,
    generator: proxy.generator,
    namespace: proxy.namespace,
    labels: proxy.labels,
    interception: proxy.interception,
    sidecar: sidecar ? configKey(sidecar.config) : undefined,
    egressHosts,
    services,
    egress,
    ingress,
  };
}

/** WorkloadEntries whose address is this proxy's IP in its namespace (its own workload). */
function ownWorkloads(push: PushContext, proxy: Proxy): WorkloadInstance[] {
  const index = push.memo('workloads-by-address', () => {
    const m = new Map<string, WorkloadInstance[]>();
    for (const w of push.registry.instances()) {
      const key = `${w.namespace}|${w.address}`;
      m.set(key, [...(m.get(key) ?? []), w]);
    }
    return m;
  });
  return index.get(`${proxy.namespace}|${proxy.ip}`) ?? [];
}

/** The class of a proxy: proxies with equal keys see exactly the same config. */
export function scopeKey(push: PushContext, proxy: Proxy): string {
  const sidecar = push.sidecarFor(proxy);
  const labelPart = push.usesSourceLabels || push.securityUsesSelectors || proxy.type === 'router' ? JSON.stringify(Object.entries(proxy.labels).sort()) : '';
  // A proxy with its own WorkloadEntry gets inbound listeners on its IP: it is a class of its own.
  const own = proxy.type === 'sidecar' && proxy.generator === 'envoy' && ownWorkloads(push, proxy).length > 0 ? proxy.ip : '';
  return [own, proxy.type, proxy.generator, proxy.interception, sidecar ? configKey(sidecar.config) : '-', proxy.namespace, labelPart].join('|');
}
