/**
 * Flags and environment, read in one place per app. An app declares its flags as data; `parseFlags`
 * turns argv + env into typed values or a list of errors that name the flag and what is wrong.
 * Precedence: command line, then the flag's environment variable, then its default.
 */
import { parseArgs } from 'node:util';
import { parseDuration } from './duration';
import { isLogLevel, LOG_LEVELS, type LogLevel } from './log';

export type FlagKind = 'string' | 'boolean' | 'int' | 'duration' | 'address' | 'list';

export interface FlagSpec {
  kind: FlagKind;
  description: string;
  default?: string | boolean;
  /** Environment variable that supplies the value when the flag is absent. */
  env?: string;
  choices?: readonly string[];
  required?: boolean;
}

export type FlagSpecs = Record<string, FlagSpec>;

export interface HostPort {
  host: string;
  port: number;
}

type ValueOf<K extends FlagKind> = K extends 'boolean'
  ? boolean
  : K extends 'int'
    ? number
    : K extends 'duration'
      ? number
      : K extends 'address'
        ? HostPort
        : K extends 'list'
          ? string[]
          : string;

type Camel<S extends string> = S extends `${infer H}-${infer T}` ? `${H}${Capitalize<Camel<T>>}` : S;

/** Typed result, keys in camelCase: a flag with a default or `required` is always present; others may be undefined. */
export type Flags<S extends FlagSpecs> = {
  [K in keyof S & string as Camel<K>]: S[K] extends { default: string | boolean } | { required: true }
    ? ValueOf<S[K]['kind']>
    : ValueOf<S[K]['kind']> | undefined;
} & { help: boolean; logLevel: LogLevel };

export interface FlagError {
  flag: string;
  message: string;
}

export type FlagResult<S extends FlagSpecs> =
  | { ok: true; flags: Flags<S>; positionals: string[] }
  | { ok: false; errors: FlagError[] };

const COMMON: FlagSpecs = {
  help: { kind: 'boolean', description: 'print this usage and exit', default: false },
  'log-level': {
    kind: 'string',
    description: 'least severe log level printed',
    default: 'info',
    env: 'MESH_LOG_LEVEL',
    choices: LOG_LEVELS,
  },
};

export function parseHostPort(text: string): HostPort | undefined {
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([^:[\]]*)):(\d{1,5})$/.exec(text);
  if (!m) return undefined;
  const port = Number(m[3]);
  if (port > 65535) return undefined;
  return { host: m[1] ?? (m[2] || '0.0.0.0'), port };
}

function camel(name: string): string {
  return name.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());
}

function convert(name: string, spec: FlagSpec, raw: string | boolean, errors: FlagError[]): unknown {
  const flag = `--${name}`;
  if (spec.kind === 'boolean') {
    if (typeof raw === 'boolean') return raw;
    if (/^(1|true|yes)$/i.test(raw)) return true;
    if (/^(0|false|no)$/i.test(raw)) return false;
    errors.push({ flag, message: `expected true or false, got "${raw}"` });
    return undefined;
  }
  const text = String(raw);
  if (spec.choices && !spec.choices.includes(text)) {
    errors.push({ flag, message: `expected one of ${spec.choices.join(', ')}, got "${text}"` });
    return undefined;
  }
  switch (spec.kind) {
    case 'string':
      return text;
    case 'list':
      return text === '' ? [] : text.split(',').map((s) => s.trim()).filter(Boolean);
    case 'int': {
      if (!/^-?\d+$/.test(text)) {
        errors.push({ flag, message: `expected an integer, got "${text}"` });
        return undefined;
      }
      return Number(text);
    }
    case 'duration': {
      const ms = parseDuration(text);
      if (ms === undefined) errors.push({ flag, message: `expected a duration such as 100ms, 10s, 24h, got "${text}"` });
      return ms;
    }
    case 'address': {
      const hp = parseHostPort(text);
      if (!hp) errors.push({ flag, message: `expected host:port (port 0 picks a free port), got "${text}"` });
      return hp;
    }
  }
}

export function parseFlags<S extends FlagSpecs>(
  specs: S,
  argv: readonly string[],
  env: NodeJS.ProcessEnv = process.env,
): FlagResult<S> {
  const all: FlagSpecs = { ...COMMON, ...specs };
  const options: Record<string, { type: 'string' | 'boolean' }> = {};
  for (const [name, spec] of Object.entries(all)) options[name] = { type: spec.kind === 'boolean' ? 'boolean' : 'string' };
  let parsed: ReturnType<typeof parseArgs>;
  try {
    parsed = parseArgs({ args: [...argv], options, strict: true, allowPositionals: true });
  } catch (err) {
    const message = (err as Error).message.replace(/\. To specify a positional argument.*$/s, '');
    return { ok: false, errors: [{ flag: 'command line', message }] };
  }
  const errors: FlagError[] = [];
  const out: Record<string, unknown> = {};
  for (const [name, spec] of Object.entries(all)) {
    let raw: string | boolean | undefined = parsed.values[name] as string | boolean | undefined;
    if (raw === undefined && spec.env && env[spec.env] !== undefined && env[spec.env] !== '') raw = env[spec.env];
    if (raw === undefined) raw = spec.default;
    if (raw === undefined) {
      if (spec.required) errors.push({ flag: `--${name}`, message: `is required${spec.env ? ` (or set ${spec.env})` : ''}` });
      continue;
    }
    out[camel(name)] = convert(name, spec, raw, errors);
  }
  if (errors.length > 0) return { ok: false, errors };
  const level = String(out.logLevel);
  out.logLevel = isLogLevel(level) ? level : 'info';
  return { ok: true, flags: out as Flags<S>, positionals: parsed.positionals };
}

export interface UsageInfo {
  command: string;
  summary: string;
  /** Extra paragraphs: subcommands, examples, status of the component. */
  sections?: string[];
}

export function usage(info: UsageInfo, specs: FlagSpecs): string {
  const all: FlagSpecs = { ...specs, ...COMMON };
  const rows = Object.entries(all).map(([name, spec]) => {
    const arg = spec.kind === 'boolean' ? '' : ` <${spec.kind === 'address' ? 'host:port' : spec.kind}>`;
    const extra = [
      spec.default !== undefined && spec.default !== '' ? `default ${String(spec.default)}` : '',
      spec.env ? `env ${spec.env}` : '',
      spec.required ? 'required' : '',
    ].filter(Boolean);
    return { left: `  --${name}${arg}`, right: spec.description + (extra.length ? ` (${extra.join('; ')})` : '') };
  });
  const width = Math.max(...rows.map((r) => r.left.length)) + 2;
  const lines = [`Usage: ${info.command}`, '', info.summary, ''];
  for (const section of info.sections ?? []) lines.push(section, '');
  lines.push('Flags:');
  for (const r of rows) lines.push(r.left.padEnd(width) + r.right);
  return lines.join('\n') + '\n';
}

export function formatFlagErrors(errors: FlagError[], command: string): string {
  return errors.map((e) => `MESH_ERR_FLAGS_INVALID: ${e.flag}: ${e.message}`).join('\n') + `\nRun "${command} --help" for usage.\n`;
}
