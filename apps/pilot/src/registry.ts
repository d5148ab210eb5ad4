/**
 * The service registry interface: what translation needs to know about services and the workloads behind
 * them. registry-config.ts implements it from ServiceEntry + WorkloadEntry; a Kubernetes registry will
 * implement the same interface later.
 */
import type { ServicePort } from '@mesh/config';

export type Resolution = 'NONE' | 'STATIC' | 'DNS' | 'DNS_ROUND_ROBIN';

export interface Service {
  /** Fully qualified host name, e.g. `reviews.default.svc.cluster.local` or `api.example.com`. */
  hostname: string;
  namespace: string;
  addresses: string[];
  ports: ServicePort[];
  resolution: Resolution;
  location: 'MESH_EXTERNAL' | 'MESH_INTERNAL';
  /** ServiceEntry subjectAltNames: identities its workloads may present (outbound mTLS SAN check). */
  subjectAltNames?: string[];
  /** Where it was declared (`ServiceEntry/ns/name`), for /debug/registryz. */
  source: string;
}

export interface Locality {
  region: string;
  zone: string;
  subZone: string;
}

export interface WorkloadInstance {
  /** `WorkloadEntry/ns/name` or `ServiceEntry/ns/name#endpoints[i]`. */
  name: string;
  namespace: string;
  address: string;
  labels: Record<string, string>;
  /** Port name -> target port number. */
  ports: Record<string, number>;
  weight: number;
  locality: Locality;
  serviceAccount: string;
}

/** One concrete endpoint of one service port. */
export interface ServiceEndpoint {
  address: string;
  port: number;
  labels: Record<string, string>;
  weight: number;
  locality: Locality;
  instance: string;
}

export interface ServiceRegistry {
  services(): readonly Service[];
  service(hostname: string): Service | undefined;
  /** Endpoints of one port of a service (the port as declared on the service). */
  endpoints(service: Service, port: ServicePort): readonly ServiceEndpoint[];
  /** Workload instances (for inbound listeners and /debug/registryz). */
  instances(): readonly WorkloadInstance[];
  /**
   * The identities (`<namespace>/<service account>`, sorted) of the workloads behind any port of a service:
   * the SAN list of its outbound clusters depends on them, so a change of this set needs a CDS push.
   */
  serviceAccounts(service: Service): readonly string[];
}

export function parseLocality(text: string | undefined): Locality {
  const [region = '', zone = '', subZone = ''] = (text ?? '').split('/');
  return { region, zone, subZone };
}

export function labelsMatch(selector: Record<string, string> | undefined, labels: Record<string, string>): boolean {
  if (!selector) return true;
  for (const key of Object.keys(selector)) if (labels[key] !== selector[key]) return false;
  return true;
}
