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

// protobufjs ships google.protobuf.Struct with camelCase field names (stringValue, ...) even with keepCase;
// snake_case is accepted too, for objects written by hand.
function valueToJson(value: unknown): unknown {
  const v = value as Record<string, unknown> | null | undefined;
  if (!v || typeof v !== 'object') return null;
  const pick = (camel: string, snake: string): unknown => (camel in v ? v[camel] : v[snake]);
  const kind = typeof v.kind === 'string' ? v.kind : undefined;
  const has = (camel: string, snake: string): boolean =>
    kind !== undefined ? kind === camel || kind === snake : pick(camel, snake) !== undefined && pick(camel, snake) !== null;
  if (has('stringValue', 'string_value')) return pick('stringValue', 'string_value');
  if (has('numberValue', 'number_value')) return pick('numberValue', 'number_value');
  if (has('boolValue', 'bool_value')) return pick('boolValue', 'bool_value');
  if (has('structValue', 'struct_value')) return structToJson(pick('structValue', 'struct_value'));
  if (has('listValue', 'list_value')) {
    const list = pick('listValue', 'list_value') as { values?: unknown[] } | null;
    return (list?.values ?? []).map(valueToJson);
  }
  return null;
}

/** Plain JSON object -> google.protobuf.Struct in proto-loader's object form (camelCase Value fields). */
export function jsonToStruct(json: Record<string, unknown>): XdsMessage {
  const fields: Record<string, unknown> = {};
  for (const key of Object.keys(json)) fields[key] = jsonToValue(json[key]);
  return { fields };
}

function jsonToValue(value: unknown): XdsMessage {
  if (value === null || value === undefined) return { nullValue: 'NULL_VALUE' };
  if (typeof value === 'number') return { numberValue: value };
  if (typeof value === 'string') return { stringValue: value };
  if (typeof value === 'boolean') return { boolValue: value };
  if (Array.isArray(value)) return { listValue: { values: value.map(jsonToValue) } };
  if (typeof value === 'object') return { structValue: jsonToStruct(value as Record<string, unknown>) };
  return { stringValue: String(value) };
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
