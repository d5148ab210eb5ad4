/**
 * JSON Schemas and semantic checks for security.istio.io/v1beta1 (PeerAuthentication,
 * AuthorizationPolicy); pilot translates them (apps/pilot/src/translate-security-*.ts).
 */
import type { FieldError } from './config-types';

type Schema = Record<string, unknown>;
const strList: Schema = { type: 'array', items: { type: 'string' } };
const selector: Schema = {
  type: 'object',
  additionalProperties: false,
  properties: { matchLabels: { type: 'object', additionalProperties: { type: 'string' } } },
};
const mtls: Schema = {
  type: 'object',
  additionalProperties: false,
  properties: { mode: { enum: ['UNSET', 'DISABLE', 'PERMISSIVE', 'STRICT'] } },
};

export const peerAuthenticationSchema: Schema = {
  type: 'object',
  additionalProperties: false,
  properties: { selector, mtls, portLevelMtls: { type: 'object', additionalProperties: mtls } },
};

const source: Schema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    principals: strList, notPrincipals: strList, requestPrincipals: strList, notRequestPrincipals: strList,
    namespaces: strList, notNamespaces: strList, ipBlocks: strList, notIpBlocks: strList,
    remoteIpBlocks: strList, notRemoteIpBlocks: strList,
  },
};
const operation: Schema = {
  type: 'object',
  additionalProperties: false,
  properties: { hosts: strList, notHosts: strList, ports: strList, notPorts: strList, methods: strList, notMethods: strList, paths: strList, notPaths: strList },
};
export const authorizationPolicySchema: Schema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    selector,
    targetRef: { type: 'object' },
    targetRefs: { type: 'array' },
    action: { enum: ['ALLOW', 'DENY', 'AUDIT', 'CUSTOM'] },
    provider: { type: 'object' },
    rules: {
      type: 'array',
      items: {
        type: 'object',
        additionalProperties: false,
        properties: {
          from: { type: 'array', items: { type: 'object', additionalProperties: false, properties: { source } } },
          to: { type: 'array', items: { type: 'object', additionalProperties: false, properties: { operation } } },
          when: {
            type: 'array',
            items: { type: 'object', additionalProperties: false, required: ['key'], properties: { key: { type: 'string' }, values: strList, notValues: strList } },
          },
        },
      },
    },
  },
};

/** Semantic checks the schemas cannot express; every error names its field path. */
const WHEN_KEYS = ['source.ip', 'remote.ip', 'source.namespace', 'source.principal', 'destination.ip', 'destination.port', 'connection.sni'];
const isPort = (v: string): boolean => /^\d+$/.test(v) && Number(v) >= 1 && Number(v) <= 65535;
const isCidr = (v: string): boolean => {
  const [ip = '', len, extra] = v.split('/');
  if (extra !== undefined) return false;
  const v4 = /^(\d{1,3})(\.\d{1,3}){3}$/.test(ip) && ip.split('.').every((o) => Number(o) <= 255);
  const v6 = ip.includes(':') && /^[0-9a-fA-F:.]+$/.test(ip);
  if (!v4 && !v6) return false;
  return len === undefined || (/^\d+$/.test(len) && Number(len) <= (v4 ? 32 : 128));
};

interface AuthzSpecShape {
  action?: string;
  rules?: { from?: { source?: Record<string, string[] | undefined> }[]; to?: { operation?: Record<string, string[] | undefined> }[]; when?: { key: string; values?: string[]; notValues?: string[] }[] }[];
}

export function authorizationPolicySemantics(raw: Record<string, unknown>): FieldError[] {
  const spec = raw as AuthzSpecShape;
  const out: FieldError[] = [];
  if (spec.action === 'CUSTOM') out.push({ path: 'spec.action', message: 'CUSTOM (external authorization) is not supported; use ALLOW, DENY or AUDIT' });
  (spec.rules ?? []).forEach((rule, i) => {
    (rule.from ?? []).forEach((f, j) => {
      const s = f.source ?? {};
      for (const k of ['requestPrincipals', 'notRequestPrincipals']) {
        if (s[k]?.length) out.push({ path: `spec.rules[${i}].from[${j}].source.${k}`, message: 'request authentication (JWT) is not supported' });
      }
      for (const k of ['ipBlocks', 'notIpBlocks', 'remoteIpBlocks', 'notRemoteIpBlocks']) {
        (s[k] ?? []).forEach((v, n) => {
          if (!isCidr(v)) out.push({ path: `spec.rules[${i}].from[${j}].source.${k}[${n}]`, message: `"${v}" is not an IP address or CIDR range` });
        });
      }
    });
    (rule.to ?? []).forEach((t, j) => {
      for (const k of ['ports', 'notPorts']) {
        (t.operation?.[k] ?? []).forEach((v, n) => {
          if (!isPort(v)) out.push({ path: `spec.rules[${i}].to[${j}].operation.${k}[${n}]`, message: `"${v}" is not a port number (1-65535)` });
        });
      }
    });
    (rule.when ?? []).forEach((c, j) => {
      const path = `spec.rules[${i}].when[${j}]`;
      if (!/^request\.headers\[.+\]$/.test(c.key) && !WHEN_KEYS.includes(c.key)) {
        out.push({ path: `${path}.key`, message: `"${c.key}" is not supported; use request.headers[<name>], ${WHEN_KEYS.join(', ')}` });
      }
      if (!c.values?.length && !c.notValues?.length) out.push({ path, message: 'needs values or notValues' });
      if (c.key === 'destination.port') {
        [...(c.values ?? []), ...(c.notValues ?? [])].forEach((v) => {
          if (!isPort(v)) out.push({ path: `${path}.values`, message: `"${v}" is not a port number (1-65535)` });
        });
      }
    });
  });
  return out;
}

export function peerAuthenticationSemantics(raw: Record<string, unknown>): FieldError[] {
  const spec = raw as { selector?: { matchLabels?: Record<string, string> }; portLevelMtls?: Record<string, unknown> };
  const out: FieldError[] = [];
  const ports = Object.keys(spec.portLevelMtls ?? {});
  if (ports.length > 0 && Object.keys(spec.selector?.matchLabels ?? {}).length === 0) {
    out.push({ path: 'spec.portLevelMtls', message: 'needs a workload selector (spec.selector.matchLabels), as in Istio' });
  }
  for (const p of ports) if (!isPort(p)) out.push({ path: `spec.portLevelMtls.${p}`, message: `"${p}" is not a port number (1-65535)` });
  return out;
}
