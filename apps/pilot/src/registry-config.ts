/**
 * A ServiceRegistry built from ServiceEntry and WorkloadEntry configs (Istio's serviceentry controller):
 * one Service per host of each ServiceEntry; its endpoints are the entry's inline `endpoints`, or the
 * WorkloadEntries of its namespace selected by `workloadSelector`; DNS entries without endpoints
 * resolve their own hosts.
 */
import type { ServiceEntrySpec, ServicePort, WorkloadEntrySpec } from '@mesh/config';
import { configKey, type ConfigObject } from '@mesh/config';
import {
  labelsMatch, parseLocality, type Service, type ServiceEndpoint, type ServiceRegistry, type WorkloadInstance,
} from './registry';

/** WorkloadEntry config -> its instance (configs are immutable: an unchanged entry maps to the same instance every push). */
const instances = new WeakMap<ConfigObject, WorkloadInstance>();

function workloadInstance(c: ConfigObject): WorkloadInstance {
  let w = instances.get(c);
  if (!w) {
    w = toInstance(configKey(c), c.meta.namespace, c.spec as WorkloadEntrySpec, c.meta.labels);
    instances.set(c, w);
  }
  return w;
}

function toInstance(name: string, namespace: string, w: WorkloadEntrySpec, labels: Record<string, string>): WorkloadInstance {
  return {
    name,
    namespace,
    address: w.address ?? '',
    labels: { ...labels, ...(w.labels ?? {}) },
    ports: w.ports ?? {},
    weight: w.weight && w.weight > 0 ? w.weight : 1,
    locality: parseLocality(w.locality),
    serviceAccount: w.serviceAccount ?? 'default',
  };
}

interface Entry {
  service: Service;
  spec: ServiceEntrySpec;
  inline: WorkloadInstance[];
}

export class ConfigServiceRegistry implements ServiceRegistry {
  private readonly byHost = new Map<string, Entry>();
  private readonly workloads: WorkloadInstance[];
  private readonly workloadsByNamespace = new Map<string, WorkloadInstance[]>();
  private readonly list: Service[];
  private readonly cache = new Map<string, ServiceEndpoint[]>();
  private byName: Map<string, WorkloadInstance> | undefined;

  /** The ServiceEntries it was built from (a later registry given the very same list shares its services). */
  private readonly serviceEntries: readonly ConfigObject[];

  /**
   * `previous`: the registry of the previous push. When the ServiceEntries are the very same objects (only
   * WorkloadEntries changed) its services are shared instead of sorted and built again.
   */
  constructor(serviceEntries: readonly ConfigObject[], workloadEntries: readonly ConfigObject[], previous?: ConfigServiceRegistry) {
    this.workloads = workloadEntries.map(workloadInstance);
    for (const w of this.workloads) {
      const list = this.workloadsByNamespace.get(w.namespace) ?? [];
      list.push(w);
      this.workloadsByNamespace.set(w.namespace, list);
    }
    this.serviceEntries = serviceEntries;
    if (previous && sameObjects(previous.serviceEntries, serviceEntries)) {
      this.byHost = previous.byHost;
      this.list = previous.list;
      return;
    }
    // Oldest declaration wins for a host declared twice (sorted by key for determinism).
    const sorted = [...serviceEntries].sort((a, b) => configKey(a).localeCompare(configKey(b)));
    for (const c of sorted) {
      const spec = c.spec as unknown as ServiceEntrySpec;
      const inline = (spec.endpoints ?? []).map((e, i) => toInstance(`${configKey(c)}#endpoints[${i}]`, c.meta.namespace, e, {}));
      for (const host of spec.hosts) {
        if (this.byHost.has(host)) continue;
        this.byHost.set(host, {
          spec,
          inline,
          service: {
            hostname: host,
            namespace: c.meta.namespace,
            addresses: spec.addresses ?? [],
            ports: spec.ports ?? [],
            resolution: spec.resolution ?? 'NONE',
            location: spec.location ?? 'MESH_EXTERNAL',
            source: configKey(c),
            ...((spec as { subjectAltNames?: string[] }).subjectAltNames?.length ? { subjectAltNames: (spec as { subjectAltNames?: string[] }).subjectAltNames } : {}),
          },
        });
      }
    }
    this.list = [...this.byHost.values()].map((e) => e.service);
  }

  /**
   * Hosts whose endpoints a config may move: a WorkloadEntry's, the services of its namespace that select
   * it; a ServiceEntry's, its hosts. Other kinds: none.
   */
  hostsAffectedBy(config: ConfigObject): string[] {
    if (config.kind === 'ServiceEntry') return [...((config.spec as unknown as ServiceEntrySpec).hosts ?? [])];
    if (config.kind !== 'WorkloadEntry') return [];
    const w = workloadInstance(config);
    const out: string[] = [];
    for (const e of this.byHost.values()) {
      const selector = e.spec.workloadSelector;
      if (selector && e.service.namespace === w.namespace && labelsMatch(selector.labels, w.labels)) out.push(e.service.hostname);
    }
    return out;
  }

  services(): readonly Service[] {
    return this.list;
  }

  service(hostname: string): Service | undefined {
    return this.byHost.get(hostname)?.service;
  }

  instances(): readonly WorkloadInstance[] {
    return this.workloads;
  }

  serviceAccounts(service: Service): readonly string[] {
    this.byName ??= new Map(this.workloads.map((w) => [w.name, w]));
    const out = new Set<string>();
    for (const port of service.ports) {
      for (const ep of this.endpoints(service, port)) {
        const w = this.byName.get(ep.instance);
        if (w) out.add(`${w.namespace}/${w.serviceAccount}`);
      }
    }
    return [...out].sort();
  }

  endpoints(service: Service, port: ServicePort): readonly ServiceEndpoint[] {
    const key = `${service.hostname}|${port.number}`;
    const hit = this.cache.get(key);
    if (hit) return hit;
    const entry = this.byHost.get(service.hostname);
    let out: ServiceEndpoint[] = [];
    if (entry) {
      const selector = entry.spec.workloadSelector?.labels;
      const members = entry.spec.workloadSelector
        ? (this.workloadsByNamespace.get(service.namespace) ?? []).filter((w) => labelsMatch(selector, w.labels))
        : entry.inline;
      out = members.map((w) => ({
        address: w.address,
        port: w.ports[port.name] ?? port.targetPort ?? port.number,
        labels: w.labels,
        weight: w.weight,
        locality: w.locality,
        instance: w.name,
      }));
      if (out.length === 0 && (service.resolution === 'DNS' || service.resolution === 'DNS_ROUND_ROBIN') && !service.hostname.startsWith('*')) {
        out = [{ address: service.hostname, port: port.targetPort ?? port.number, labels: {}, weight: 1, locality: parseLocality(''), instance: service.source }];
      }
    }
    this.cache.set(key, out);
    return out;
  }
}

function sameObjects(a: readonly object[], b: readonly object[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
