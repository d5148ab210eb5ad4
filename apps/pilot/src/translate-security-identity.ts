/**
 * Workload identities for outbound mTLS: the SPIFFE URIs a destination may present
 * (`spiffe://<trust-domain>/ns/<ns>/sa/<sa>` of the workloads behind it, plus the ServiceEntry's
 * `subjectAltNames`), and the SNI Istio sends (`outbound_.<port>_.<subset>_.<host>`).
 */
import type { ServicePort } from '@mesh/config';
import type { StringMatcher } from '@mesh/xds';
import type { PushContext } from './push-context';
import type { Service } from './registry';

export const DEFAULT_TRUST_DOMAIN = 'cluster.local';

export function spiffeId(trustDomain: string, namespace: string, serviceAccount: string): string {
  return `spiffe://${trustDomain}/ns/${namespace}/sa/${serviceAccount}`;
}

/** Istio's SNI for an outbound cluster, from its name `outbound|<port>|<subset>|<host>`; other names unchanged. */
export function outboundSni(clusterName: string): string {
  const [dir, port, subset, host] = clusterName.split('|');
  return dir === 'outbound' && host !== undefined ? `outbound_.${port}_.${subset}_.${host}` : clusterName;
}

/**
 * SAN matchers for a destination service port: exact URIs of its workloads' service accounts and its
 * ServiceEntry subjectAltNames; when none is known, any identity of the trust domain (prefix match).
 */
export function destinationSanMatchers(push: PushContext, service: Service, port: ServicePort): StringMatcher[] {
  const trustDomain = push.options.trustDomain ?? DEFAULT_TRUST_DOMAIN;
  const byName = push.memo('workloads-by-name', () => new Map(push.registry.instances().map((w) => [w.name, w])));
  const sans = new Set<string>(service.subjectAltNames ?? []);
  for (const ep of push.registry.endpoints(service, port)) {
    const w = byName.get(ep.instance);
    if (w?.serviceAccount) sans.add(spiffeId(trustDomain, w.namespace, w.serviceAccount));
  }
  if (sans.size === 0) return [{ prefix: `spiffe://${trustDomain}/` }];
  return [...sans].sort().map((exact) => ({ exact }));
}
