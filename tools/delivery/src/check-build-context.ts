/**
 * Checks what the Dockerfiles rely on outside themselves: .dockerignore keeps host-built state out of the
 * build context (node_modules with host binaries, a stale dist/, .git, the Nx cache), and every npm
 * dependency is declared in the root package.json, because the images' production install reads only the
 * root manifest and lock file (npm ci --omit=dev --workspaces=false).
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Problem } from './problem';

/** Paths the build context must not contain, with the .dockerignore lines that exclude them. */
const MUST_IGNORE: Record<string, string[]> = {
  node_modules: ['**/node_modules', 'node_modules'],
  dist: ['dist', '/dist', 'dist/', '**/dist'],
  '.git': ['.git', '/.git'],
  '.nx': ['.nx', '/.nx', '**/.nx'],
};

export function checkDockerignore(text: string, file = '.dockerignore'): Problem[] {
  const lines = new Set(text.split(/\r?\n/).map((l) => l.trim()).filter((l) => l && !l.startsWith('#')));
  const negated = [...lines].filter((l) => l.startsWith('!'));
  const problems: Problem[] = [];
  for (const [what, patterns] of Object.entries(MUST_IGNORE)) {
    if (!patterns.some((p) => lines.has(p))) problems.push({ where: file, message: `does not exclude ${what} (add "${patterns[0]}")` });
  }
  for (const n of negated) problems.push({ where: file, message: `re-includes ${n.slice(1)}; keep the context to sources and the lock file` });
  return problems;
}

/** Workspace manifests (apps/*, libs/*) that declare their own dependencies, which the images would miss. */
export function checkWorkspaceDependencies(repoRoot: string): Problem[] {
  const root = JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')) as { workspaces?: string[] };
  const problems: Problem[] = [];
  for (const pattern of root.workspaces ?? []) {
    const m = /^([a-z0-9_-]+)\/\*$/.exec(pattern);
    if (!m) {
      problems.push({ where: 'package.json workspaces', message: `${pattern}: only "<folder>/*" patterns are understood by this check` });
      continue;
    }
    const dir = join(repoRoot, m[1]);
    if (!existsSync(dir)) continue;
    for (const name of readdirSync(dir).sort()) {
      const manifest = join(dir, name, 'package.json');
      if (!existsSync(manifest)) continue;
      const pkg = JSON.parse(readFileSync(manifest, 'utf8')) as Record<string, unknown>;
      for (const field of ['dependencies', 'optionalDependencies', 'peerDependencies']) {
        const deps = pkg[field] as Record<string, string> | undefined;
        if (deps && Object.keys(deps).length > 0) {
          problems.push({ where: `${m[1]}/${name}/package.json ${field}`, message: `${Object.keys(deps).join(', ')}: declare npm dependencies in the root package.json; the images install only the root's` });
        }
      }
    }
  }
  return problems;
}

