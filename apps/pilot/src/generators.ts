/**
 * One generator per xDS type URL, in one table; and which config kinds trigger which types on a push
 * (data, not if-chains).
 */
import { TYPE_URL, type XdsTypeUrl } from '@mesh/xds';
import { generateCds } from './generator-cds';
import { generateEds } from './generator-eds';
import { generateLds } from './generator-lds';
import { generateRds } from './generator-rds';
import { generateSds } from './generator-sds';
import type { ProxyScope } from './proxy-scope';
import type { PushContext } from './push-context';

export type Generator = (push: PushContext, scope: ProxyScope) => object[];

export const GENERATORS: ReadonlyMap<XdsTypeUrl, Generator> = new Map<XdsTypeUrl, Generator>([
  [TYPE_URL.CLUSTER, generateCds],
  [TYPE_URL.ENDPOINT, generateEds],
  [TYPE_URL.LISTENER, generateLds],
  [TYPE_URL.ROUTE, generateRds],
  [TYPE_URL.SECRET, generateSds],
]);

export const ALL_TYPES: readonly XdsTypeUrl[] = [TYPE_URL.CLUSTER, TYPE_URL.ENDPOINT, TYPE_URL.LISTENER, TYPE_URL.ROUTE, TYPE_URL.SECRET];

/**
 * Config kind -> the xDS types its change can affect. A WorkloadEntry only moves endpoints (subset
 * membership is endpoint data too), so it pushes EDS alone. Kinds not listed push nothing.
 */
export const PUSH_TRIGGERS: Readonly<Record<string, readonly XdsTypeUrl[]>> = {
  WorkloadEntry: [TYPE_URL.ENDPOINT],
  VirtualService: [TYPE_URL.ROUTE, TYPE_URL.LISTENER],
  Gateway: [TYPE_URL.LISTENER, TYPE_URL.ROUTE, TYPE_URL.SECRET],
  // Gateway credentials: a Secret appearing or going changes which TLS servers have filter chains.
  Secret: [TYPE_URL.SECRET, TYPE_URL.LISTENER, TYPE_URL.ROUTE],
  DestinationRule: [TYPE_URL.CLUSTER, TYPE_URL.ENDPOINT, TYPE_URL.ROUTE],
  ServiceEntry: ALL_TYPES,
  Sidecar: ALL_TYPES,
  // Inbound filter chains (mTLS mode) and RBAC filters live in listeners only.
  PeerAuthentication: [TYPE_URL.LISTENER],
  AuthorizationPolicy: [TYPE_URL.LISTENER],
};

export function typesFor(kinds: Iterable<string>): Set<XdsTypeUrl> {
  const out = new Set<XdsTypeUrl>();
  for (const k of kinds) for (const t of PUSH_TRIGGERS[k] ?? []) out.add(t);
  return out;
}
