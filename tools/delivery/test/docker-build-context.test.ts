// What the Dockerfiles rely on outside themselves: .dockerignore keeps host state (node_modules with host
// binaries, dist/, .git, .nx) out of the build context, and every npm dependency is declared in the root
// package.json, since the images' production install reads only the root manifest and lock file.
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { checkDockerignore, checkWorkspaceDependencies } from '../src/check-build-context';
import { formatProblems } from '../src/problem';
import { REPO_ROOT } from '../src/spec-delivery';

test('.dockerignore excludes node_modules, dist, .git and .nx', () => {
  assert.equal(formatProblems(checkDockerignore(readFileSync(join(REPO_ROOT, '.dockerignore'), 'utf8'))), '');
});

test('a .dockerignore that lets host node_modules in, or re-includes dist, is rejected', () => {
  const text = formatProblems(checkDockerignore('dist\n.git\n.nx\n!dist/apps\n'));
  assert.match(text, /does not exclude node_modules/);
  assert.match(text, /re-includes dist\/apps/);
});

test('workspace package.json files declare no npm dependencies of their own', () => {
  assert.equal(formatProblems(checkWorkspaceDependencies(REPO_ROOT)), '');
});

test('a workspace that declares its own dependency is rejected', () => {
  const dir = mkdtempSync(join(tmpdir(), 'mesh-workspace-'));
  try {
    writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'x', workspaces: ['apps/*'] }));
    mkdirSync(join(dir, 'apps', 'pilot'), { recursive: true });
    writeFileSync(join(dir, 'apps', 'pilot', 'package.json'), JSON.stringify({ name: '@mesh/pilot', dependencies: { undici: '^6.0.0' } }));
    assert.match(formatProblems(checkWorkspaceDependencies(dir)), /apps\/pilot\/package\.json dependencies: undici: declare npm dependencies in the root package\.json/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
