/**
 * Reading fields of decoded xDS resources (proto-loader's canonical shape: snake_case, Any as
 * {'@type', ...}, Duration {seconds: '1', nanos: 0}, wrappers {value}). Every reader records problems with a
 * field path into an `Issues` list instead of throwing, so one NACK names every bad field at once.
 */
import { readFileSync } from 'node:fs';

export interface FieldIssue {
  path: string;
  message: string;
}

export type ValidationResult<T> = { ok: true; value: T } | { ok: false; errors: FieldIssue[] };

export type Obj = Record<string, unknown>;

export class Issues {
  readonly list: FieldIssue[] = [];
  add(path: string, message: string): void {
    this.list.push({ path, message });
  }
}

export function isObj(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** A sub-message, or undefined when absent/null (proto-loader writes null for unset messages with defaults). */
export function obj(o: Obj, key: string, path: string, issues: Issues): Obj | undefined {
  const v = o[key];
  if (v === undefined || v === null) return undefined;
  if (!isObj(v)) {
    issues.add(`${path}.${key}`, 'expected a message');
    return undefined;
  }
  return v;
}

export function arr(o: Obj, key: string, path: string, issues: Issues): unknown[] {
  const v = o[key];
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v)) {
    issues.add(`${path}.${key}`, 'expected a list');
    return [];
  }
  return v;
}

export function str(o: Obj, key: string): string {
  const v = o[key];
  return typeof v === 'string' ? v : '';
}

/** Numbers may arrive as strings (longs: String) or numbers. */
export function num(o: Obj, key: string, fallback: number): number {
  const v = o[key];
  if (typeof v === 'number') return v;
  if (typeof v === 'string' && v !== '' && Number.isFinite(Number(v))) return Number(v);
  return fallback;
}

export function bool(o: Obj, key: string, fallback = false): boolean {
  const v = o[key];
  return typeof v === 'boolean' ? v : fallback;
}

/** google.protobuf.{UInt32,BoolValue,...} wrapper: {value: x}; undefined when unset. */
export function wrapped(o: Obj, key: string): unknown {
  const v = o[key];
  if (isObj(v)) return v.value;
  return undefined;
}

export function wrappedNum(o: Obj, key: string, fallback: number): number {
  const v = wrapped(o, key);
  if (typeof v === 'number') return v;
  if (typeof v === 'string' && v !== '' && Number.isFinite(Number(v))) return Number(v);
  return fallback;
}

export function wrappedBool(o: Obj, key: string, fallback: boolean): boolean {
  const v = wrapped(o, key);
  return typeof v === 'boolean' ? v : fallback;
}

/** google.protobuf.Duration in milliseconds; `fallback` when unset. */
export function durationMs(o: Obj, key: string, fallback: number, path: string, issues: Issues): number {
  const v = o[key];
  if (v === undefined || v === null) return fallback;
  if (!isObj(v)) {
    issues.add(`${path}.${key}`, 'expected a Duration {seconds, nanos}');
    return fallback;
  }
  const seconds = num(v, 'seconds', 0);
  const nanos = num(v, 'nanos', 0);
  if (seconds < 0 || nanos < 0) {
    issues.add(`${path}.${key}`, 'must not be negative');
    return fallback;
  }
  return seconds * 1000 + Math.floor(nanos / 1e6);
}

/** envoy.type.v3.FractionalPercent as a probability 0..1 (0 when unset). */
export function fraction(p: Obj | undefined): number {
  if (!p) return 0;
  const n = num(p, 'numerator', 0);
  const d = str(p, 'denominator');
  const denom = d === 'MILLION' ? 1e6 : d === 'TEN_THOUSAND' ? 1e4 : 100;
  return Math.min(1, n / denom);
}

/** Name of the set oneof member among `keys` (proto-loader with defaults sets the others to null/''). */
export function oneof(o: Obj, keys: readonly string[]): string | undefined {
  for (const k of keys) {
    const v = o[k];
    if (v === undefined || v === null || v === '' || v === false) continue;
    if (Array.isArray(v) && v.length === 0) continue;
    return k;
  }
  return undefined;
}

export function typeName(any: Obj): string {
  const url = str(any, '@type');
  const slash = url.lastIndexOf('/');
  return slash >= 0 ? url.slice(slash + 1) : url;
}

/** RE2 (Envoy safe_regex) compiled as a JS RegExp that must match the whole input. */
export function fullRegex(pattern: string, path: string, issues: Issues, flags = ''): RegExp | undefined {
  try {
    return new RegExp(`^(?:${pattern})$`, flags);
  } catch (err) {
    issues.add(path, `invalid regex: ${(err as Error).message}`);
    return undefined;
  }
}

/** envoy.type.matcher.v3.StringMatcher compiled into a predicate. */
export function stringMatcher(m: Obj, path: string, issues: Issues): (value: string) => boolean {
  const ignoreCase = bool(m, 'ignore_case');
  const kind = oneof(m, ['exact', 'prefix', 'suffix', 'contains', 'safe_regex']);
  if (kind === 'safe_regex') {
    const re = fullRegex(str(obj(m, 'safe_regex', path, issues) ?? {}, 'regex'), `${path}.safe_regex.regex`, issues);
    return re ? (v) => re.test(v) : () => false;
  }
  let want = kind ? str(m, kind) : '';
  if (ignoreCase) want = want.toLowerCase();
  const norm = ignoreCase ? (v: string) => v.toLowerCase() : (v: string) => v;
  switch (kind) {
    case 'prefix':
      return (v) => norm(v).startsWith(want);
    case 'suffix':
      return (v) => norm(v).endsWith(want);
    case 'contains':
      return (v) => norm(v).includes(want);
    default:
      // exact, including exact "" when nothing is set
      return (v) => norm(v) === want;
  }
}

export function socketAddress(address: Obj | undefined, path: string, issues: Issues): { host: string; port: number } | undefined {
  if (!address) {
    issues.add(path, 'is required');
    return undefined;
  }
  const sa = obj(address, 'socket_address', path, issues);
  if (!sa) {
    issues.add(`${path}.socket_address`, 'is required (pipe addresses are not supported)');
    return undefined;
  }
  const host = str(sa, 'address');
  const port = num(sa, 'port_value', -1);
  if (!host) issues.add(`${path}.socket_address.address`, 'is required');
  if (!Number.isInteger(port) || port < 0 || port > 65535) issues.add(`${path}.socket_address.port_value`, `must be a port 0-65535, got ${String(sa.port_value)}`);
  return host && port >= 0 && port <= 65535 ? { host, port } : undefined;
}

/**
 * An Envoy DataSource (inline_string, inline_bytes or filename) as text. Undefined when there is none or
 * its file cannot be read (an issue names the file); with `required`, a missing source is an issue too.
 */
export function dataSourceText(o: unknown, path: string, issues: Issues, required = false): string | undefined {
  if (!isObj(o)) {
    if (required) issues.add(path, 'is required');
    return undefined;
  }
  if (o.inline_string) return str(o, 'inline_string');
  const bytes = o.inline_bytes;
  if (bytes instanceof Uint8Array && bytes.length > 0) return Buffer.from(bytes).toString();
  if (typeof bytes === 'string' && bytes !== '') return Buffer.from(bytes, 'base64').toString();
  if (o.filename) {
    try {
      return readFileSync(str(o, 'filename'), 'utf8');
    } catch (err) {
      issues.add(`${path}.filename`, `cannot read: ${(err as Error).message}`);
      return undefined;
    }
  }
  if (required) issues.add(path, 'needs inline_string, inline_bytes or filename');
  return undefined;
}
