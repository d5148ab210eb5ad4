/**
 * An immutable index of one version of the whole mesh config: services, VirtualServices and
 * DestinationRules by host, Sidecars by namespace. Built once per push and shared by every proxy.
 */
import type { DestinationRuleSpec, GatewaySpec, SidecarSpec, VirtualServiceSpec } from '@mesh/config';
import { configKey, type ConfigObject } from '@mesh/config';
import type { Proxy } from './proxy';
import { labelsMatch, type Service, type ServiceRegistry } from './registry';

export interface MeshOptions {
  /** Namespace whose selector-less Sidecar is the mesh-wide default (Istio: istio-system). */
  rootNamespace: string;
  /** DNS suffix for short host names: `reviews` in `default` -> `reviews.default.svc.<domain>`. */
  domainSuffix: string;
  /** SPIFFE trust domain of workload identities (Istio's default: cluster.local). */
  trustDomain?: string;
}

export interface ScopedConfig<S> {
  config: ConfigObject;
  spec: S;
}

/** Sidecar egress host `ns/host` as a matcher over services. */
export interface EgressHost {
  namespace: string;
  host: string;
}

export class PushContext {
  readonly virtualServicesByHost = new Map<string, ScopedConfig<VirtualServiceSpec>[]>();
  readonly destinationRulesByHost = new Map<string, ScopedConfig<DestinationRuleSpec>>();
  /** VirtualServices bound to gateways (their `gateways` names other than `mesh`), for router proxies. */
  readonly gatewayVirtualServices: ScopedConfig<VirtualServiceSpec>[] = [];
  readonly gateways: ScopedConfig<GatewaySpec>[];
  private readonly sidecars: ScopedConfig<SidecarSpec>[];
  /** True when some VirtualService matches on sourceLabels: proxies then differ by labels. */
  readonly usesSourceLabels: boolean;
  /** security.istio.io policies (translate-security-*.ts) and whether one selects workloads by labels. */
  readonly peerAuthentications: readonly ConfigObject[];
  readonly authorizationPolicies: readonly ConfigObject[];
  readonly securityUsesSelectors: boolean;
  /** Every VirtualService by `namespace/name` (delegates have no hosts, so only this finds them). */
  readonly virtualServicesByName: ReadonlyMap<string, ConfigObject>;
  /** Every DestinationRule per host, in key order (exportTo picks one per proxy namespace: translate-visibility.ts). */
  readonly destinationRulesAllByHost: ReadonlyMap<string, ScopedConfig<DestinationRuleSpec>[]>;
  /** ServiceEntry exportTo by config key (`ServiceEntry/ns/name`, a Service's `source`); absent = everywhere. */
  readonly serviceExportTo: ReadonlyMap<string, readonly string[]>;
  /** Kubernetes Secrets by `namespace/name` (Gateway credentialName). */
  readonly secrets: ReadonlyMap<string, ConfigObject>;

  constructor(
    readonly version: string,
    readonly registry: ServiceRegistry,
    configs: {
      virtualServices: readonly ConfigObject[];
      destinationRules: readonly ConfigObject[];
      sidecars: readonly ConfigObject[];
      gateways?: readonly ConfigObject[];
      peerAuthentications?: readonly ConfigObject[];
      authorizationPolicies?: readonly ConfigObject[];
      serviceEntries?: readonly ConfigObject[];
      secrets?: readonly ConfigObject[];
    },
    readonly options: MeshOptions,
    /**
     * A previous context whose VirtualServices, DestinationRules, Sidecars, Gateways and security policies
     * are still current (only WorkloadEntries changed): its indexes are shared (never modified) instead of
     * rebuilt.
     */
    sameRoutingAs?: PushContext,
  ) {
    if (sameRoutingAs) {
      this.virtualServicesByHost = sameRoutingAs.virtualServicesByHost;
      this.destinationRulesByHost = sameRoutingAs.destinationRulesByHost;
      this.gatewayVirtualServices = sameRoutingAs.gatewayVirtualServices;
      this.usesSourceLabels = sameRoutingAs.usesSourceLabels;
      this.sidecars = sameRoutingAs.sidecars;
      this.gateways = sameRoutingAs.gateways;
      this.peerAuthentications = sameRoutingAs.peerAuthentications;
      this.authorizationPolicies = sameRoutingAs.authorizationPolicies;
      this.securityUsesSelectors = sameRoutingAs.securityUsesSelectors;
      this.virtualServicesByName = sameRoutingAs.virtualServicesByName;
      this.destinationRulesAllByHost = sameRoutingAs.destinationRulesAllByHost;
      this.serviceExportTo = sameRoutingAs.serviceExportTo;
      this.secrets = sameRoutingAs.secrets;
      return;
    }
    this.virtualServicesByName = new Map(configs.virtualServices.map((c) => [`${c.meta.namespace}/${c.meta.name}`, c]));
    this.secrets = new Map((configs.secrets ?? []).map((c) => [`${c.meta.namespace}/${c.meta.name}`, c]));
    const exportTo = new Map<string, readonly string[]>();
    for (const c of configs.serviceEntries ?? []) {
      const e = (c.spec as { exportTo?: string[] }).exportTo;
      if (e?.length) exportTo.set(configKey(c), e);
    }
    this.serviceExportTo = exportTo;
    const allDrs = new Map<string, ScopedConfig<DestinationRuleSpec>[]>();
    this.destinationRulesAllByHost = allDrs;
    let sourceLabels = false;
    for (const c of sortByKey(configs.virtualServices)) {
      const spec = c.spec as unknown as VirtualServiceSpec;
      const gws = spec.gateways ?? [];
      if (gws.some((g) => g !== 'mesh')) this.gatewayVirtualServices.push({ config: c, spec });
      if (gws.length > 0 && !gws.includes('mesh')) continue;
      if ((spec.http ?? []).some((r) => (r.match ?? []).some((m) => m.sourceLabels))) sourceLabels = true;
      for (const host of spec.hosts ?? []) {
        const fqdn = this.resolveHost(host, c.meta.namespace);
        const list = this.virtualServicesByHost.get(fqdn) ?? [];
        list.push({ config: c, spec });
        this.virtualServicesByHost.set(fqdn, list);
      }
    }
    this.usesSourceLabels = sourceLabels;
    for (const c of sortByKey(configs.destinationRules)) {
      const spec = c.spec as unknown as DestinationRuleSpec;
      const fqdn = this.resolveHost(spec.host, c.meta.namespace);
      if (!this.destinationRulesByHost.has(fqdn)) this.destinationRulesByHost.set(fqdn, { config: c, spec });
      allDrs.set(fqdn, [...(allDrs.get(fqdn) ?? []), { config: c, spec }]);
    }
    this.sidecars = sortByKey(configs.sidecars).map((c) => ({ config: c, spec: c.spec as SidecarSpec }));
    this.gateways = sortByKey(configs.gateways ?? []).map((c) => ({ config: c, spec: c.spec as GatewaySpec }));
    this.peerAuthentications = sortByKey(configs.peerAuthentications ?? []);
    this.authorizationPolicies = sortByKey(configs.authorizationPolicies ?? []);
    const selects = (c: ConfigObject): boolean => Object.keys((c.spec as { selector?: { matchLabels?: object } }).selector?.matchLabels ?? {}).length > 0;
    this.securityUsesSelectors = this.peerAuthentications.some(selects) || this.authorizationPolicies.some(selects);
  }

  private readonly memoTable = new Map<string, unknown>();
  /**
   * Incremental EDS: assignments of the previous push that may be reused as they are, and the hosts
   * whose endpoints changed (their assignments are rebuilt), among the candidates the changes could
   * move. Undefined: rebuild everything.
   */
  edsCarry: { previous: ReadonlyMap<string, object>; dirtyHosts: ReadonlySet<string>; candidates: ReadonlySet<string> } | undefined;

  /** A value computed once per push and shared by every proxy class (same object => encoded once). */
  memo<T>(key: string, build: () => T): T {
    if (this.memoTable.has(key)) return this.memoTable.get(key) as T;
    const value = build();
    this.memoTable.set(key, value);
    return value;
  }

  /** Istio's short-name rule: a host without a dot is a Kubernetes service in the config's namespace. */
  resolveHost(host: string, namespace: string): string {
    return host.includes('.') || host === '*' ? host : `${host}.${namespace}.svc.${this.options.domainSuffix}`;
  }

  /** The Sidecar that applies to a proxy: a matching selector in its namespace, else the namespace default, else the root default. */
  sidecarFor(proxy: Proxy): ScopedConfig<SidecarSpec> | undefined {
    const inNs = this.sidecars.filter((s) => s.config.meta.namespace === proxy.namespace);
    const selected = inNs.find((s) => s.spec.workloadSelector?.labels && labelsMatch(s.spec.workloadSelector.labels, proxy.labels));
    if (selected) return selected;
    const nsDefault = inNs.find((s) => !s.spec.workloadSelector);
    if (nsDefault) return nsDefault;
    return this.sidecars.find((s) => s.config.meta.namespace === this.options.rootNamespace && !s.spec.workloadSelector);
  }

  destinationRule(host: string): ScopedConfig<DestinationRuleSpec> | undefined {
    return this.destinationRulesByHost.get(host) ?? this.wildcardMatch(this.destinationRulesByHost, host);
  }

  virtualServices(host: string): ScopedConfig<VirtualServiceSpec>[] {
    return this.virtualServicesByHost.get(host) ?? [];
  }

  private wildcardMatch<T>(map: Map<string, T>, host: string): T | undefined {
    for (const [pattern, value] of map) if (pattern.startsWith('*') && host.endsWith(pattern.slice(1))) return value;
    return undefined;
  }
}

function sortByKey(list: readonly ConfigObject[]): ConfigObject[] {
  return [...list].sort((a, b) => configKey(a).localeCompare(configKey(b)));
}

export function parseEgressHost(text: string, sidecarNamespace: string): EgressHost {
  const slash = text.indexOf('/');
  const ns = text.slice(0, slash);
  return { namespace: ns === '.' ? sidecarNamespace : ns, host: text.slice(slash + 1) };
}

function hostMatches(pattern: string, host: string): boolean {
  if (pattern === '*') return true;
  if (pattern.startsWith('*.')) return host.endsWith(pattern.slice(1));
  return pattern === host;
}

/** Whether a service is visible through a list of egress hosts (`*` namespace matches any). */
export function serviceVisible(service: Service, hosts: readonly EgressHost[]): boolean {
  return hosts.some((h) => (h.namespace === '*' || h.namespace === service.namespace) && hostMatches(h.host, service.hostname));
}
