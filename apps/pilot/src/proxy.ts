/**
 * A connected proxy as Istio identifies it: node id `<type>~<ip>~<pod>.<ns>~<ns>.svc.cluster.local` and
 * node metadata NAMESPACE, LABELS, INTERCEPTION_MODE, GENERATOR.
 */
import type { FieldError, ValidationResult } from '@mesh/config';

export type ProxyType = 'sidecar' | 'router';
export type Generator = 'envoy' | 'grpc';
export type InterceptionMode = 'REDIRECT' | 'TPROXY' | 'NONE';

export interface Proxy {
  id: string;
  type: ProxyType;
  ip: string;
  podName: string;
  namespace: string;
  dnsDomain: string;
  labels: Record<string, string>;
  generator: Generator;
  interception: InterceptionMode;
}

/** What pilot reads from an xDS Node (decoded: metadata as plain JSON). */
export interface NodeInfo {
  id: string;
  metadata: Record<string, unknown>;
}

export function parseProxy(node: NodeInfo): ValidationResult<Proxy> {
  const errors: FieldError[] = [];
  const parts = node.id.split('~');
  if (parts.length !== 4) {
    return {
      ok: false,
      errors: [{ path: 'node.id', message: `"${node.id}" must have 4 parts: <sidecar|router>~<ip>~<pod>.<namespace>~<namespace>.svc.cluster.local` }],
    };
  }
  const [type, ip, podPart, dnsDomain] = parts as [string, string, string, string];
  if (type !== 'sidecar' && type !== 'router') errors.push({ path: 'node.id', message: `proxy type "${type}" must be sidecar or router` });
  if (ip === '') errors.push({ path: 'node.id', message: 'IP address (second part) is empty' });
  const md = node.metadata;
  const labels: Record<string, string> = {};
  if (md.LABELS !== undefined) {
    if (typeof md.LABELS !== 'object' || md.LABELS === null || Array.isArray(md.LABELS)) {
      errors.push({ path: 'node.metadata.LABELS', message: 'must be a map of strings' });
    } else {
      for (const [k, v] of Object.entries(md.LABELS)) labels[k] = String(v);
    }
  }
  const generator = md.GENERATOR === 'grpc' ? 'grpc' : 'envoy';
  const interception = md.INTERCEPTION_MODE ?? 'REDIRECT';
  if (interception !== 'REDIRECT' && interception !== 'TPROXY' && interception !== 'NONE') {
    errors.push({ path: 'node.metadata.INTERCEPTION_MODE', message: `"${String(interception)}" must be REDIRECT, TPROXY or NONE` });
  }
  const dot = podPart.indexOf('.');
  const idNamespace = dot >= 0 ? podPart.slice(dot + 1) : (dnsDomain.split('.')[0] ?? '');
  const namespace = typeof md.NAMESPACE === 'string' && md.NAMESPACE !== '' ? md.NAMESPACE : idNamespace;
  if (!namespace) errors.push({ path: 'node.id', message: 'no namespace: set metadata NAMESPACE or use <pod>.<namespace>' });
  if (errors.length > 0) return { ok: false, errors };
  return {
    ok: true,
    value: {
      id: node.id,
      type: type as ProxyType,
      ip,
      podName: dot >= 0 ? podPart.slice(0, dot) : podPart,
      namespace,
      dnsDomain,
      labels,
      generator,
      interception: interception as InterceptionMode,
    },
  };
}
