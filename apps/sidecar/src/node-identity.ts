/**
 * Who this proxy is, as Pilot sees it: the node id (`<type>~<ip>~<pod>.<ns>~<ns>.svc.cluster.local`) and
 * Istio's node metadata (NAMESPACE, LABELS, INTERCEPTION_MODE, ...). Built from typed flag values only.
 */
import type { AgentEnv } from './flags';

export type ProxyType = 'sidecar' | 'router';

export interface NodeIdentity {
  id: string;
  type: ProxyType;
  ip: string;
  podName: string;
  namespace: string;
  /** Envoy's --service-cluster: `<app>.<namespace>` as Istio sets it. */
  cluster: string;
  labels: Record<string, string>;
  /** Node metadata as a plain JSON object (string values, LABELS a string map). */
  metadata: Record<string, unknown>;
}

export interface NodeInputs {
  nodeId: string | undefined;
  namespace: string | undefined;
  podName: string | undefined;
  instanceIp: string | undefined;
  serviceAccount: string | undefined;
  labels: string[] | undefined;
  interceptionMode: string;
  clusterId: string;
  env: AgentEnv;
}

export type NodeResult = { ok: true; node: NodeIdentity } | { ok: false, errors: { path: string; message: string }[] };

const ISTIO_VERSION = '1.24.0-mesh';

export function buildNodeIdentity(input: NodeInputs): NodeResult {
  const errors: { path: string; message: string }[] = [];
  let type: ProxyType = 'sidecar';
  let ip = input.instanceIp ?? '';
  let podName = input.podName ?? '';
  let namespace = input.namespace ?? '';
  let id = input.nodeId ?? '';
  if (id) {
    const parts = id.split('~');
    if (parts.length !== 4) {
      errors.push({ path: '--node-id', message: `expected <type>~<ip>~<pod>.<namespace>~<domain>, got "${id}"` });
    } else {
      const [t, idIp, podDotNs] = parts as [string, string, string, string];
      if (t !== 'sidecar' && t !== 'router') errors.push({ path: '--node-id', message: `type must be sidecar or router, got "${t}"` });
      else type = t;
      if (!ip) ip = idIp;
      const dot = podDotNs.lastIndexOf('.');
      if (!podName) podName = dot > 0 ? podDotNs.slice(0, dot) : podDotNs;
      if (!namespace && dot > 0) namespace = podDotNs.slice(dot + 1);
    }
  } else {
    if (!podName) errors.push({ path: '--pod-name', message: 'is required when --node-id is absent (or set POD_NAME)' });
    if (!namespace) errors.push({ path: '--namespace', message: 'is required when --node-id is absent (or set POD_NAMESPACE)' });
    if (!ip) errors.push({ path: '--instance-ip', message: 'is required when --node-id is absent (or set INSTANCE_IP)' });
    id = `sidecar~${ip}~${podName}.${namespace}~${namespace}.svc.cluster.local`;
  }
  if (!namespace) namespace = 'default';

  const labels: Record<string, string> = {};
  if (input.labels) {
    for (const [i, pair] of input.labels.entries()) {
      const eq = pair.indexOf('=');
      if (eq <= 0) errors.push({ path: `--labels[${i}]`, message: `expected key=value, got "${pair}"` });
      else labels[pair.slice(0, eq)] = pair.slice(eq + 1);
    }
  } else if (input.env.labelsJson) {
    try {
      const parsed = JSON.parse(input.env.labelsJson) as unknown;
      if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) throw new Error('not an object');
      for (const [k, v] of Object.entries(parsed)) labels[k] = String(v);
    } catch (err) {
      errors.push({ path: 'ISTIO_METAJSON_LABELS', message: `expected a JSON object of strings: ${(err as Error).message}` });
    }
  }
  if (errors.length > 0) return { ok: false, errors };

  const app = labels.app ?? labels['app.kubernetes.io/name'] ?? podName;
  const metadata: Record<string, unknown> = {
    ...input.env.meta,
    NAMESPACE: namespace,
    NAME: podName,
    LABELS: labels,
    INTERCEPTION_MODE: input.interceptionMode,
    CLUSTER_ID: input.clusterId,
    ISTIO_VERSION,
    INSTANCE_IPS: ip,
    // Istio's workload name is the owning Deployment's name, derived from the pod (ISTIO_META_WORKLOAD_NAME
    // wins); the app and version stay in LABELS. Without an owner to look up, the pod name is the workload.
    WORKLOAD_NAME: typeof input.env.meta.WORKLOAD_NAME === 'string' && input.env.meta.WORKLOAD_NAME !== '' ? input.env.meta.WORKLOAD_NAME : podName,
  };
  if (input.serviceAccount) metadata.SERVICE_ACCOUNT = input.serviceAccount;
  delete metadata.INTERCEPTION_MODE_OVERRIDE;
  return { ok: true, node: { id, type, ip, podName, namespace, cluster: `${app}.${namespace}`, labels, metadata } };
}
