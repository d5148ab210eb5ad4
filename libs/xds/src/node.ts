/**
 * The identity a proxy sends in its first DiscoveryRequest (envoy.config.core.v3.Node), as plain JSON.
 */
import type { XdsMessage } from './protos';

export interface XdsLocality {
  region: string;
  zone: string;
  sub_zone: string;
}

/** A decoded Node: metadata is the Struct as plain JSON (`{ NAMESPACE: 'default', LABELS: {...} }`). */
export interface XdsNode {
  id: string;
  cluster: string;
  metadata: Record<string, unknown>;
  locality: XdsLocality;
  user_agent_name: string;
  user_agent_version: string;
}

/** What a client fills in when it builds its Node; missing fields default to empty. */
export interface XdsNodeInput {
  id: string;
  cluster?: string;
  metadata?: Record<string, unknown>;
  locality?: Partial<XdsLocality>;
  user_agent_name?: string;
  user_agent_version?: string;
}

/** google.protobuf.Struct (decoded with proto-loader) -> plain JSON object. */
export function structToJson(struct: unknown): Record<string, unknown> {
  const fields = (struct as { fields?: Record<string, unknown> } | null | undefined)?.fields;
  const out: Record<string, unknown> = {};
  if (!fields || typeof fields !== 'object') return out;
  for (const key of Object.keys(fields)) out[key] = valueToJson(fields[key]);
  return out;
}

function valueToJson(value: unknown): unknown {
  const v = value as
    | {
        kind?: string;
        null_value?: unknown;
        number_value?: number;
        string_value?: string;
        bool_value?: boolean;
        struct_value?: unknown;
        list_value?: { values?: unknown[] };
      }
    | null
    | undefined;
  if (!v) return null;
  switch (v.kind) {
    case 'number_value':
      return v.number_value;
    case 'string_value':
      return v.string_value;
    case 'bool_value':
      return v.bool_value;
    case 'struct_value':
      return structToJson(v.struct_value);
    case 'list_value':
      return (v.list_value?.values ?? []).map(valueToJson);
    default:
      return null;
  }
}

/** Plain JSON object -> google.protobuf.Struct in proto-loader's object form. */
export function jsonToStruct(json: Record<string, unknown>): XdsMessage {
  const fields: Record<string, unknown> = {};
  for (const key of Object.keys(json)) fields[key] = jsonToValue(json[key]);
  return { fields };
}

function jsonToValue(value: unknown): XdsMessage {
  if (value === null || value === undefined) return { null_value: 'NULL_VALUE' };
  if (typeof value === 'number') return { number_value: value };
  if (typeof value === 'string') return { string_value: value };
  if (typeof value === 'boolean') return { bool_value: value };
  if (Array.isArray(value)) return { list_value: { values: value.map(jsonToValue) } };
  if (typeof value === 'object') return { struct_value: jsonToStruct(value as Record<string, unknown>) };
  return { string_value: String(value) };
}

/** A decoded envoy.config.core.v3.Node -> XdsNode. */
export function decodeNode(node: unknown): XdsNode {
  const n = (node ?? {}) as Record<string, unknown>;
  const loc = (n.locality ?? {}) as Partial<XdsLocality>;
  return {
    id: typeof n.id === 'string' ? n.id : '',
    cluster: typeof n.cluster === 'string' ? n.cluster : '',
    metadata: structToJson(n.metadata),
    locality: { region: loc.region ?? '', zone: loc.zone ?? '', sub_zone: loc.sub_zone ?? '' },
    user_agent_name: typeof n.user_agent_name === 'string' ? n.user_agent_name : '',
    user_agent_version: typeof n.user_agent_version === 'string' ? n.user_agent_version : '',
  };
}

/** XdsNodeInput -> envoy.config.core.v3.Node in proto-loader's object form (for a request). */
export function encodeNode(node: XdsNodeInput): XdsMessage {
  return {
    id: node.id,
    cluster: node.cluster ?? '',
    metadata: jsonToStruct(node.metadata ?? {}),
    locality: { region: '', zone: '', sub_zone: '', ...node.locality },
    user_agent_name: node.user_agent_name ?? 'mesh-ads-client',
    user_agent_version: node.user_agent_version ?? '',
  };
}
