/**
 * The one table of config kinds the mesh knows. Everything else (validation, MCP collection names, which
 * pushes a change triggers, /debug output) is derived from it.
 */
import Ajv, { type ErrorObject, type ValidateFunction } from 'ajv';
import type { ConfigObject, FieldError, ValidationResult } from './config-types';
import {
  destinationRuleSchema, gatewaySchema, serviceEntrySchema, sidecarSchema, virtualServiceSchema, workloadEntrySchema,
} from './schema-networking';
import { authorizationPolicySchema, peerAuthenticationSchema } from './schema-security';
import { secretSpec } from './schema-core';
import { semanticChecks } from './schema-semantic';

export interface KindSchema {
  group: string;
  versions: readonly string[];
  kind: string;
  plural: string;
  /** MCP collection, as Galley names it: istio/<group-short>/<version>/<plural>. */
  collection: string;
  /** Translated into xDS today (false = accepted and stored only). */
  translated: boolean;
  validate(doc: unknown): ValidationResult<ConfigObject>;
}

const NETWORKING = 'networking.istio.io';
const SECURITY = 'security.istio.io';
/** The Kubernetes core group: apiVersion `v1`, no group part. */
const CORE = '';
const NETWORKING_VERSIONS = ['v1alpha3', 'v1beta1', 'v1'] as const;

const ajv = new Ajv({ allErrors: true, strict: false });

/** `/spec/http/0/route` -> `spec.http[0].route`. */
function toPath(pointer: string): string {
  return pointer
    .split('/')
    .slice(1)
    .map((seg) => seg.replace(/~1/g, '/').replace(/~0/g, '~'))
    .reduce((acc, seg) => (/^\d+$/.test(seg) ? `${acc}[${seg}]` : acc ? `${acc}.${seg}` : seg), '');
}

function ajvErrors(errors: ErrorObject[] | null | undefined, prefix: string): FieldError[] {
  return (errors ?? []).map((e) => {
    let path = toPath(e.instancePath);
    let message = e.message ?? 'is invalid';
    if (e.keyword === 'additionalProperties') {
      const extra = String((e.params as { additionalProperty: string }).additionalProperty);
      path = path ? `${path}.${extra}` : extra;
      message = 'unknown field';
    } else if (e.keyword === 'required') {
      const missing = String((e.params as { missingProperty: string }).missingProperty);
      path = path ? `${path}.${missing}` : missing;
      message = 'is required';
    } else if (e.keyword === 'enum') {
      message = `must be one of ${((e.params as { allowedValues: unknown[] }).allowedValues ?? []).join(', ')}`;
    }
    return { path: path ? `${prefix}.${path}` : prefix, message };
  });
}

const NAME_RE = /^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/;

/** A kind whose content is not under `spec` (Kubernetes core kinds): reads and checks it from the document. */
type TopLevelSpec = (doc: Record<string, unknown>) => { spec: object; errors: FieldError[] };

function makeKind(group: string, versions: readonly string[], kind: string, plural: string, schema: object, translated: boolean, topLevel?: TopLevelSpec): KindSchema {
  const check: ValidateFunction = ajv.compile(schema);
  const short = group.split('.')[0];
  const latest = versions[0] ?? 'v1';
  return {
    group,
    versions,
    kind,
    plural,
    collection: group === '' ? `k8s/core/${latest}/${plural}` : `istio/${short}/${latest}/${plural}`,
    translated,
    validate(doc) {
      const d = doc as { apiVersion?: string; metadata?: Record<string, unknown>; spec?: unknown };
      const errors: FieldError[] = [];
      const meta = (d.metadata ?? {}) as { name?: unknown; namespace?: unknown; labels?: unknown; annotations?: unknown };
      if (typeof meta.name !== 'string' || !NAME_RE.test(meta.name)) {
        errors.push({ path: 'metadata.name', message: 'is required and must be a DNS-1123 name (lower case, digits, - and .)' });
      }
      if (meta.namespace !== undefined && (typeof meta.namespace !== 'string' || !NAME_RE.test(meta.namespace))) {
        errors.push({ path: 'metadata.namespace', message: 'must be a DNS-1123 label' });
      }
      let spec: unknown = d.spec ?? {};
      if (topLevel) {
        const read = topLevel(d as Record<string, unknown>);
        errors.push(...read.errors);
        spec = read.spec;
      }
      if (typeof spec !== 'object' || Array.isArray(spec) || spec === null) {
        errors.push({ path: 'spec', message: 'must be a mapping' });
        return { ok: false, errors };
      }
      if (topLevel) {
        // checked above, field paths from the document's top level
      } else if (!check(spec)) errors.push(...ajvErrors(check.errors, 'spec'));
      else errors.push(...(semanticChecks[kind]?.(spec as Record<string, unknown>) ?? []));
      if (errors.length > 0) return { ok: false, errors };
      const version = String(d.apiVersion).split('/').pop() ?? latest;
      return {
        ok: true,
        value: {
          kind,
          group,
          version,
          meta: {
            name: meta.name as string,
            namespace: (meta.namespace as string | undefined) ?? 'default',
            labels: (meta.labels as Record<string, string> | undefined) ?? {},
            annotations: (meta.annotations as Record<string, string> | undefined) ?? {},
          },
          spec: spec as Record<string, unknown>,
          source: { file: '', index: 0 },
        },
      };
    },
  };
}

export const KINDS: readonly KindSchema[] = [
  makeKind(NETWORKING, NETWORKING_VERSIONS, 'VirtualService', 'virtualservices', virtualServiceSchema, true),
  makeKind(NETWORKING, NETWORKING_VERSIONS, 'DestinationRule', 'destinationrules', destinationRuleSchema, true),
  makeKind(NETWORKING, NETWORKING_VERSIONS, 'ServiceEntry', 'serviceentries', serviceEntrySchema, true),
  makeKind(NETWORKING, NETWORKING_VERSIONS, 'WorkloadEntry', 'workloadentries', workloadEntrySchema, true),
  makeKind(NETWORKING, NETWORKING_VERSIONS, 'Gateway', 'gateways', gatewaySchema, true),
  makeKind(NETWORKING, NETWORKING_VERSIONS, 'Sidecar', 'sidecars', sidecarSchema, true),
  makeKind(SECURITY, ['v1beta1'], 'PeerAuthentication', 'peerauthentications', peerAuthenticationSchema, false),
  makeKind(SECURITY, ['v1beta1'], 'AuthorizationPolicy', 'authorizationpolicies', authorizationPolicySchema, false),
  // Kubernetes core (apiVersion `v1`): only Gateway TLS credentials (credentialName) are read from it.
  makeKind(CORE, ['v1'], 'Secret', 'secrets', {}, true, secretSpec),
];

const byGroupKind = new Map(KINDS.map((k) => [`${k.group}/${k.kind}`, k]));

/** The schema for an apiVersion + kind, or an error naming what is unknown. */
export function lookupKind(apiVersion: unknown, kind: unknown): ValidationResult<KindSchema> {
  if (typeof apiVersion !== 'string' || !(apiVersion.includes('/') || apiVersion === 'v1')) {
    return { ok: false, errors: [{ path: 'apiVersion', message: 'is required, like networking.istio.io/v1' }] };
  }
  if (typeof kind !== 'string') return { ok: false, errors: [{ path: 'kind', message: 'is required' }] };
  const [group, version] = (apiVersion.includes('/') ? apiVersion.split('/') : [CORE, apiVersion]) as [string, string];
  const schema = byGroupKind.get(`${group}/${kind}`);
  if (!schema) {
    return { ok: false, errors: [{ path: 'kind', message: `unknown kind ${kind} in group ${group}; known: ${KINDS.map((k) => k.kind).join(', ')}` }] };
  }
  if (!schema.versions.includes(version)) {
    return { ok: false, errors: [{ path: 'apiVersion', message: `${kind} is served as ${schema.versions.map((v) => `${group}/${v}`).join(', ')}, not ${apiVersion}` }] };
  }
  return { ok: true, value: schema };
}
