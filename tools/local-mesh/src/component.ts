/**
 * What the supervisor runs, as data: a component is a command, the ports it binds, how to tell it is
 * ready, and which components must be ready before it starts. The built-in Bookinfo/mesh topology and a
 * user's --topology file produce the same shape; a file is validated here, every error with its path.
 */
import Ajv from 'ajv';

export type Readiness =
  | { http: string; timeoutMs?: number }
  | { logLine: string; timeoutMs?: number }
  | { tcp: string; timeoutMs?: number };

export interface PortSpec {
  name: string;
  host: string;
  port: number;
}

export interface ComponentSpec {
  name: string;
  /** Shown in the summary: workload, control-plane, sidecar, gateway, ... */
  role: string;
  command: string;
  args: string[];
  env?: Record<string, string>;
  cwd?: string;
  ports: PortSpec[];
  ready: Readiness;
  /** Components that must be ready before this one starts. */
  after?: string[];
  /** URLs a user may want, for the summary (e.g. the product page). */
  links?: { label: string; url: string }[];
}

export interface Skipped {
  name: string;
  reason: string;
}

export interface Topology {
  components: ComponentSpec[];
  skipped: Skipped[];
  /** Lines printed under the summary: where to point a browser, how to apply a task. */
  notes: string[];
}

const NAME = '^[a-z0-9][a-z0-9-]{0,62}$';

const SCHEMA = {
  type: 'object',
  required: ['components'],
  additionalProperties: false,
  properties: {
    components: {
      type: 'array',
      minItems: 1,
      items: {
        type: 'object',
        required: ['name', 'command', 'args', 'ready'],
        additionalProperties: false,
        properties: {
          name: { type: 'string', pattern: NAME },
          role: { type: 'string' },
          command: { type: 'string', minLength: 1 },
          args: { type: 'array', items: { type: 'string' } },
          env: { type: 'object', additionalProperties: { type: 'string' } },
          cwd: { type: 'string' },
          ports: {
            type: 'array',
            items: {
              type: 'object',
              required: ['name', 'host', 'port'],
              additionalProperties: false,
              properties: {
                name: { type: 'string' },
                host: { type: 'string' },
                port: { type: 'integer', minimum: 1, maximum: 65535 },
              },
            },
          },
          ready: {
            type: 'object',
            minProperties: 1,
            additionalProperties: false,
            properties: {
              http: { type: 'string', pattern: '^https?://' },
              logLine: { type: 'string', minLength: 1 },
              tcp: { type: 'string', pattern: '^[^:]+:\\d+$' },
              timeoutMs: { type: 'integer', minimum: 1 },
            },
            oneOf: [{ required: ['http'] }, { required: ['logLine'] }, { required: ['tcp'] }],
          },
          after: { type: 'array', items: { type: 'string', pattern: NAME } },
          links: {
            type: 'array',
            items: {
              type: 'object',
              required: ['label', 'url'],
              additionalProperties: false,
              properties: { label: { type: 'string' }, url: { type: 'string' } },
            },
          },
        },
      },
    },
    notes: { type: 'array', items: { type: 'string' } },
  },
} as const;

export type ValidationResult<T> = { ok: true; value: T } | { ok: false; errors: { path: string; message: string }[] };

const validateSchema = new Ajv({ allErrors: true }).compile(SCHEMA);

/** Checks a parsed --topology file: shape (JSON schema), unique names, `after` naming known components, no cycle. */
export function validateTopology(input: unknown): ValidationResult<Topology> {
  if (!validateSchema(input)) {
    const errors = (validateSchema.errors ?? []).map((e) => ({
      path: e.instancePath.replace(/\//g, '.').replace(/\.(\d+)/g, '[$1]').replace(/^\./, '') || '(top level)',
      message: e.message ?? 'is invalid',
    }));
    return { ok: false, errors };
  }
  const raw = input as { components: (Omit<ComponentSpec, "role" | "ports"> & Partial<ComponentSpec>)[]; notes?: string[] };
  const errors: { path: string; message: string }[] = [];
  const names = new Map<string, number>();
  raw.components.forEach((c, i) => {
    if (names.has(c.name)) errors.push({ path: `components[${i}].name`, message: `"${c.name}" is also components[${names.get(c.name)}]` });
    names.set(c.name, i);
  });
  raw.components.forEach((c, i) =>
    (c.after ?? []).forEach((a, j) => {
      if (!names.has(a)) errors.push({ path: `components[${i}].after[${j}]`, message: `no component named "${a}"` });
    }),
  );
  const components = raw.components.map((c): ComponentSpec => ({ ...c, role: c.role ?? 'process', ports: c.ports ?? [] }));
  if (errors.length === 0) {
    try {
      startLayers(components);
    } catch (err) {
      errors.push({ path: 'components', message: (err as Error).message });
    }
  }
  if (errors.length > 0) return { ok: false, errors };
  return { ok: true, value: { components, skipped: [], notes: raw.notes ?? [] } };
}

/** Groups components into layers: each layer's `after` dependencies are all in earlier layers. */
export function startLayers(components: readonly ComponentSpec[]): ComponentSpec[][] {
  const layers: ComponentSpec[][] = [];
  const placed = new Set<string>();
  let left = [...components];
  while (left.length > 0) {
    const layer = left.filter((c) => (c.after ?? []).every((a) => placed.has(a) || !components.some((x) => x.name === a)));
    if (layer.length === 0) throw new Error(`"after" forms a cycle among ${left.map((c) => c.name).join(', ')}`);
    for (const c of layer) placed.add(c.name);
    layers.push(layer);
    left = left.filter((c) => !placed.has(c.name));
  }
  return layers;
}
