/**
 * The workload identity the node agent asks Citadel for: spiffe://<trust-domain>/ns/<namespace>/sa/<sa>.
 */
import { agentErrors } from './agent-errors';

export interface WorkloadIdentityOptions {
  /** Default cluster.local. */
  trustDomain?: string;
  namespace: string;
  serviceAccount: string;
}

export interface WorkloadIdentity {
  trustDomain: string;
  namespace: string;
  serviceAccount: string;
  /** The SPIFFE URI carried as the certificate's URI SAN. */
  spiffeId: string;
}

export const DEFAULT_TRUST_DOMAIN = 'cluster.local';

// Kubernetes names: a namespace is a DNS label, a service account a DNS subdomain.
const DNS_LABEL = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;
const DNS_SUBDOMAIN = /^(?=.{1,253}$)[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
// A SPIFFE trust domain: lowercase letters, digits, '.', '-', '_'.
const TRUST_DOMAIN = /^[a-z0-9._-]{1,255}$/;

/** Builds the identity; a malformed part throws MESH_ERR_SIDECAR_AGENT_IDENTITY_INVALID naming the field. */
export function workloadIdentity(options: WorkloadIdentityOptions): WorkloadIdentity {
  const trustDomain = options.trustDomain ?? DEFAULT_TRUST_DOMAIN;
  if (!TRUST_DOMAIN.test(trustDomain)) {
    throw agentErrors.create('AGENT_IDENTITY_INVALID', { field: 'trustDomain', value: trustDomain, reason: 'must be lowercase letters, digits, ".", "-" or "_"' });
  }
  if (!DNS_LABEL.test(options.namespace)) {
    throw agentErrors.create('AGENT_IDENTITY_INVALID', { field: 'namespace', value: options.namespace, reason: 'must be a DNS label' });
  }
  if (!DNS_SUBDOMAIN.test(options.serviceAccount)) {
    throw agentErrors.create('AGENT_IDENTITY_INVALID', { field: 'serviceAccount', value: options.serviceAccount, reason: 'must be a DNS subdomain' });
  }
  return {
    trustDomain,
    namespace: options.namespace,
    serviceAccount: options.serviceAccount,
    spiffeId: `spiffe://${trustDomain}/ns/${options.namespace}/sa/${options.serviceAccount}`,
  };
}
