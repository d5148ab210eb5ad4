/**
 * Kubernetes core/v1 kinds pilot reads from its config dir: Secret (Gateway TLS credentials, as istiod
 * reads them for `credentialName`). A Secret has no `spec`: its `type`, `data` (base64 values) and
 * `stringData` (plain values, folded into `data`) sit at the top level.
 */
import type { SecretSpec } from './config-spec';
import type { ConfigObject, FieldError } from './config-types';

export const TLS_SECRET_TYPE = 'kubernetes.io/tls';

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;
const KEY = /^[-._a-zA-Z0-9]+$/;

/** The Secret's type and data (stringData folded in, base64), or every error with its field path. */
export function secretSpec(doc: Record<string, unknown>): { spec: SecretSpec; errors: FieldError[] } {
  const errors: FieldError[] = [];
  const type = doc.type === undefined ? 'Opaque' : doc.type;
  if (typeof type !== 'string' || type === '') errors.push({ path: 'type', message: 'must be a string like kubernetes.io/tls or Opaque' });
  const data: Record<string, string> = {};
  for (const field of ['data', 'stringData'] as const) {
    const raw = doc[field];
    if (raw === undefined || raw === null) continue;
    if (typeof raw !== 'object' || Array.isArray(raw)) {
      errors.push({ path: field, message: 'must be a mapping of key to value' });
      continue;
    }
    for (const [k, v] of Object.entries(raw as Record<string, unknown>)) {
      if (!KEY.test(k)) errors.push({ path: `${field}.${k}`, message: 'key must consist of letters, digits, -, _ and .' });
      if (typeof v !== 'string') {
        errors.push({ path: `${field}.${k}`, message: 'must be a string' });
        continue;
      }
      if (field === 'data') {
        const compact = v.replace(/\s+/g, '');
        if (!BASE64.test(compact) || compact.length % 4 !== 0) errors.push({ path: `data.${k}`, message: 'must be base64 (use stringData for plain text)' });
        else data[k] = compact;
      } else data[k] = Buffer.from(v).toString('base64');
    }
  }
  for (const k of Object.keys(doc)) {
    if (!['apiVersion', 'kind', 'metadata', 'type', 'data', 'stringData', 'immutable'].includes(k)) errors.push({ path: k, message: 'unknown field' });
  }
  if (type === TLS_SECRET_TYPE) {
    for (const k of ['tls.crt', 'tls.key']) if (data[k] === undefined) errors.push({ path: `data.${k}`, message: `is required in a ${TLS_SECRET_TYPE} Secret` });
  }
  return { spec: { type: typeof type === 'string' ? type : 'Opaque', data }, errors };
}

export const REDACTED = '[redacted]';

/** A config as debug output may show it: a Secret's values replaced (keys kept), anything else as is. */
export function redactConfig(c: ConfigObject): ConfigObject {
  if (c.kind !== 'Secret') return c;
  const spec = c.spec as unknown as SecretSpec;
  return { ...c, spec: { type: spec.type, data: Object.fromEntries(Object.keys(spec.data).map((k) => [k, REDACTED])) } };
}
