/**
 * The in-memory shape of one accepted Istio config document, independent of the file it came from.
 * `spec` is kept as the user wrote it (camelCase, as in Istio's YAML); translation reads it through the
 * typed views in `config-spec.ts`.
 */
export interface ConfigMeta {
  name: string;
  namespace: string;
  labels: Record<string, string>;
  annotations: Record<string, string>;
}

export interface ConfigObject<S = Record<string, unknown>> {
  kind: string;
  group: string;
  version: string;
  meta: ConfigMeta;
  spec: S;
  /** Where it came from, for logs and /debug output. */
  source: { file: string; index: number };
}

export interface FieldError {
  /** Field path like `spec.http[0].route[1].weight`. */
  path: string;
  message: string;
}

export type ValidationResult<T> = { ok: true; value: T } | { ok: false; errors: FieldError[] };

/** `kind/namespace/name`: one config object's identity across files. */
export function configKey(c: { kind: string; meta: { namespace: string; name: string } }): string {
  return `${c.kind}/${c.meta.namespace}/${c.meta.name}`;
}
