/**
 * Checks a kustomize directory the way `kubectl kustomize` would read it, without running it: every entry of
 * `resources` is a local file or directory that exists, nested directories have their own kustomization,
 * and no manifest in the directory is forgotten (a file not listed is never deployed).
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { parse } from 'yaml';
import type { Problem } from './problem';

export interface KustomizationResult {
  /** Absolute paths of the manifest files the kustomization deploys, in order. */
  files: string[];
  problems: Problem[];
}

export function resolveKustomization(dir: string, repoRoot: string, seen: Set<string> = new Set()): KustomizationResult {
  const files: string[] = [];
  const problems: Problem[] = [];
  const file = join(dir, 'kustomization.yaml');
  const rel = relative(repoRoot, file);
  if (seen.has(dir)) return { files, problems: [{ where: rel, message: 'kustomizations include each other in a cycle' }] };
  seen.add(dir);
  if (!existsSync(file)) return { files, problems: [{ where: relative(repoRoot, dir), message: 'no kustomization.yaml' }] };
  let k: { apiVersion?: unknown; kind?: unknown; resources?: unknown };
  try {
    k = (parse(readFileSync(file, 'utf8')) ?? {}) as typeof k;
  } catch (err) {
    return { files, problems: [{ where: rel, message: `YAML: ${(err as Error).message.split('\n')[0]}` }] };
  }
  if (k.apiVersion !== 'kustomize.config.k8s.io/v1beta1' || k.kind !== 'Kustomization') {
    problems.push({ where: rel, message: 'must be apiVersion kustomize.config.k8s.io/v1beta1, kind Kustomization' });
  }
  const resources = Array.isArray(k.resources) ? k.resources.map(String) : [];
  if (resources.length === 0) problems.push({ where: `${rel} resources`, message: 'lists no resources' });
  resources.forEach((r, i) => {
    const where = `${rel} resources[${i}]`;
    if (/^[a-z]+:\/\//.test(r) || r.startsWith('github.com/')) {
      problems.push({ where, message: `${r} is remote; the mesh deploys only what is in this repository` });
      return;
    }
    const p = join(dir, r);
    if (!existsSync(p)) {
      problems.push({ where, message: `${r} does not exist` });
    } else if (statSync(p).isDirectory()) {
      const nested = resolveKustomization(p, repoRoot, seen);
      files.push(...nested.files);
      problems.push(...nested.problems);
    } else {
      files.push(p);
    }
  });
  const listed = new Set(resources);
  for (const name of readdirSync(dir).sort()) {
    if (/\.ya?ml$/.test(name) && name !== 'kustomization.yaml' && !listed.has(name)) {
      problems.push({ where: relative(repoRoot, join(dir, name)), message: `not listed in ${rel} resources, so it is never deployed` });
    }
  }
  return { files, problems };
}
