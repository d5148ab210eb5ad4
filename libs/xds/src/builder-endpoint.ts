/** ClusterLoadAssignment (EDS) builder. */
import type { Address, UInt32Value } from './builder-common';
import { socketAddress } from './builder-common';
import type { XdsLocality } from './node';

export type HealthStatus = 'UNKNOWN' | 'HEALTHY' | 'UNHEALTHY' | 'DRAINING' | 'TIMEOUT' | 'DEGRADED';

export interface LbEndpoint {
  endpoint: { address: Address; hostname?: string };
  health_status?: HealthStatus;
  load_balancing_weight?: UInt32Value;
  metadata?: { filter_metadata: Record<string, unknown> };
}

export interface LocalityLbEndpoints {
  locality: Partial<XdsLocality>;
  lb_endpoints: LbEndpoint[];
  /** Required by grpc-js-xds: a locality without a weight is skipped. */
  load_balancing_weight: UInt32Value;
  priority?: number;
}

export interface ClusterLoadAssignment {
  cluster_name: string;
  endpoints: LocalityLbEndpoints[];
}

export interface EndpointInput {
  address: string;
  port: number;
  weight?: number;
  health?: HealthStatus;
  locality?: Partial<XdsLocality>;
}

export function lbEndpoint(e: EndpointInput): LbEndpoint {
  const out: LbEndpoint = { endpoint: { address: socketAddress(e.address, e.port) } };
  if (e.health) out.health_status = e.health;
  if (e.weight !== undefined) out.load_balancing_weight = { value: e.weight };
  return out;
}

/**
 * Groups endpoints by locality (region/zone/sub_zone); every group gets a load_balancing_weight (the sum
 * of its endpoints' weights, default 1 each) so grpc-js-xds does not skip it.
 */
export function clusterLoadAssignment(clusterName: string, endpoints: readonly EndpointInput[]): ClusterLoadAssignment {
  const groups = new Map<string, LocalityLbEndpoints>();
  for (const e of endpoints) {
    const loc = { region: e.locality?.region ?? '', zone: e.locality?.zone ?? '', sub_zone: e.locality?.sub_zone ?? '' };
    const key = `${loc.region}/${loc.zone}/${loc.sub_zone}`;
    let group = groups.get(key);
    if (!group) {
      group = { locality: loc, lb_endpoints: [], load_balancing_weight: { value: 0 } };
      groups.set(key, group);
    }
    group.lb_endpoints.push(lbEndpoint(e));
    group.load_balancing_weight.value += e.weight ?? 1;
  }
  return { cluster_name: clusterName, endpoints: [...groups.values()] };
}
