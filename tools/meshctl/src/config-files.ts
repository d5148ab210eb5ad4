/**
 * meshctl's files in a watched config directory: one file per config object, named by its identity
 * (`00-meshctl_<kind>_<namespace>_<name>.yaml`; `_` cannot occur in a DNS-1123 name) so that `apply` twice
 * writes the same file and `delete` finds it. When several files define one object Pilot uses the file
 * whose name sorts first: the `00-meshctl_` prefix makes what a user applies win over files seeded into the
 * directory (e.g. `destination-rule-all.yaml` by `npm start`). Files are written atomically: a dot-named
 * temporary file (Pilot reads only *.yaml/*.yml) renamed over the target.
 */
import { existsSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { validateYaml } from '@mesh/config';
import { errors } from './errors';

export const FILE_PREFIX = '00-meshctl_';

export interface ObjectKey {
  kind: string;
  namespace: string;
  name: string;
}

export function fileNameFor(k: ObjectKey): string {
  return `${FILE_PREFIX}${k.kind.toLowerCase()}_${k.namespace}_${k.name}.yaml`;
}

/** `Kind/namespace/name` (as @mesh/config's configKey and DocumentResult.key) -> its parts. */
export function parseKey(key: string): ObjectKey | undefined {
  const [kind, namespace, name, ...rest] = key.split('/');
  return kind && namespace && name && rest.length === 0 ? { kind, namespace, name } : undefined;
}

export type WriteOutcome = 'created' | 'configured' | 'unchanged';

export function writeConfigFile(dir: string, k: ObjectKey, text: string): WriteOutcome {
  const file = join(dir, fileNameFor(k));
  const before = existsSync(file) ? readFileSync(file, 'utf8') : undefined;
  if (before === text) return 'unchanged';
  const tmp = join(dir, `.${fileNameFor(k)}.${process.pid}.tmp`);
  try {
    writeFileSync(tmp, text);
    renameSync(tmp, file);
  } catch (err) {
    rmSync(tmp, { force: true });
    throw errors.create('WRITE_FAILED', { file, reason: (err as Error).message });
  }
  return before === undefined ? 'created' : 'configured';
}

/** Removes the object's file; false when there was none. */
export function removeConfigFile(dir: string, k: ObjectKey): boolean {
  const file = join(dir, fileNameFor(k));
  if (!existsSync(file)) return false;
  try {
    rmSync(file);
  } catch (err) {
    throw errors.create('WRITE_FAILED', { file, reason: (err as Error).message });
  }
  return true;
}

/** `Kind/namespace/name` -> the other files (not meshctl's) of the directory that define that object. */
export function otherDefinitions(dir: string): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const name of readdirSync(dir).filter((n) => /\.ya?ml$/.test(n) && !n.startsWith(FILE_PREFIX)).sort()) {
    let text: string;
    try {
      text = readFileSync(join(dir, name), 'utf8');
    } catch {
      continue;
    }
    for (const r of validateYaml(text, name)) {
      const key = r.ok ? `${r.config.kind}/${r.config.meta.namespace}/${r.config.meta.name}` : r.key;
      if (key) out.set(key, [...(out.get(key) ?? []), name]);
    }
  }
  return out;
}

export function keyOf(k: ObjectKey): string {
  return `${k.kind}/${k.namespace}/${k.name}`;
}
