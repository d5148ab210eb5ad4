/**
 * Schema checks of a resource in canonical form against Envoy's protos: what protobufjs would silently
 * drop or coerce when it encodes (unknown fields, unknown enum names, numbers that are not numbers).
 */
import type * as protobuf from 'protobufjs';
import { messageTypeOf, type XdsMessage } from './protos';
import type { ValidationError } from './validation';

/**
 * What protobufjs would silently drop or coerce when it encodes `message`: fields the proto type does not
 * have, enum names it does not know, numbers that are not numbers. Nested messages, repeated fields, maps
 * and Anys (by '@type') are followed. Use it in tests of generators and builders (it walks the whole
 * message, so it is not meant for every push).
 */
export function schemaProblems(typeUrl: string, message: object): ValidationError[] {
  const out: ValidationError[] = [];
  walkFields(messageTypeOf(typeUrl), message as XdsMessage, '', out);
  return out;
}

/** Field paths of schemaProblems() that are unknown fields. */
export function unknownFields(typeUrl: string, message: object): string[] {
  return schemaProblems(typeUrl, message)
    .filter((p) => p.message === UNKNOWN_FIELD)
    .map((p) => p.path);
}

const UNKNOWN_FIELD = 'unknown field';
const INTEGER = /^-?\d+$/;
const NUMERIC_TYPES = new Set(['double', 'float', 'int32', 'uint32', 'sint32', 'fixed32', 'sfixed32', 'int64', 'uint64', 'sint64', 'fixed64', 'sfixed64']);

function checkScalar(field: protobuf.Field, value: unknown, path: string, out: ValidationError[]): void {
  const sub = field.resolvedType;
  if (sub && 'values' in sub) {
    const values = (sub as protobuf.Enum).values;
    const ok = typeof value === 'number' ? Object.values(values).includes(value) : typeof value === 'string' && value in values;
    if (!ok) out.push({ path, message: `unknown ${sub.name} value ${JSON.stringify(value)}` });
  } else if (NUMERIC_TYPES.has(field.type)) {
    const ok = typeof value === 'number' ? Number.isFinite(value) : typeof value === 'string' && (field.type.endsWith('64') ? INTEGER.test(value) : value.trim() !== '' && Number.isFinite(Number(value)));
    if (!ok) out.push({ path, message: `${field.type} expected, got ${JSON.stringify(value)}` });
  }
}

function walkFields(type: protobuf.Type, obj: XdsMessage, path: string, out: ValidationError[]): void {
  for (const key of Object.keys(obj)) {
    if (key === '@type') continue;
    const value = obj[key];
    const here = path ? `${path}.${key}` : key;
    const field = type.fields[key];
    if (!field) {
      // proto-loader adds the virtual oneof name (e.g. `config_type: 'typed_config'`) when decoding.
      if (!(type.oneofs && key in type.oneofs)) out.push({ path: here, message: UNKNOWN_FIELD });
      continue;
    }
    if (value === null || value === undefined) continue;
    field.resolve();
    const sub = field.resolvedType;
    const visit = (v: unknown, p: string): void => {
      if (!sub || !('fields' in sub)) {
        checkScalar(field, v, p, out);
        return;
      }
      if (!v || typeof v !== 'object' || Buffer.isBuffer(v)) return;
      const m = v as XdsMessage;
      if (sub.fullName === '.google.protobuf.Any' && typeof m['@type'] === 'string') {
        try {
          walkFields(messageTypeOf(m['@type']), m, p, out);
        } catch {
          out.push({ path: `${p}.@type`, message: `unknown type ${m['@type']}` });
        }
      } else {
        walkFields(sub as protobuf.Type, m, p, out);
      }
    };
    if (field.map) for (const k of Object.keys(value as object)) visit((value as XdsMessage)[k], `${here}[${k}]`);
    else if (field.repeated && Array.isArray(value)) value.forEach((v, i) => visit(v, `${here}[${i}]`));
    else visit(value, here);
  }
}
