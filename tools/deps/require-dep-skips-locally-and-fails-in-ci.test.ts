// requireDep: a missing dependency skips the test locally (naming it and the command that installs it) and
// throws under CI=true; a dependency listed in $MESH_DEPS_DIR/deps.json is found there. Each case runs in
// a child process because DEPS_DIR and CI are read once, when the module loads.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { after, describe, it } from 'node:test';
import { makeTempDir, removeTempDir } from './src/index';

const root = resolve(__dirname, '../..');
const probe = `
  const { requireDep, depVersion } = require('./tools/deps/src/deps-manifest');
  let skipped = null;
  try {
    const found = requireDep({ skip: (message) => { skipped = message; } }, 'fortio');
    console.log(JSON.stringify({ found: found ?? null, skipped, version: depVersion('fortio') }));
  } catch (err) {
    console.log(JSON.stringify({ thrown: err.message }));
  }
`;

function run(depsDir: string, ci: boolean): Record<string, string | null> {
  const env: NodeJS.ProcessEnv = { MESH_DEPS_DIR: depsDir, PATH: '' };
  if (ci) env['CI'] = 'true';
  const result = spawnSync(process.execPath, ['--import', 'tsx', '-e', probe], { cwd: root, env, encoding: 'utf8', timeout: 30_000 });
  assert.equal(result.status, 0, result.stderr);
  return JSON.parse(result.stdout.trim().split('\n').pop() ?? '{}') as Record<string, string | null>;
}

describe('requireDep', () => {
  const empty = makeTempDir('deps-empty');
  const provisioned = makeTempDir('deps-provisioned');
  after(() => {
    removeTempDir(empty);
    removeTempDir(provisioned);
  });

  it('skips locally, naming the dependency and npm run deps', () => {
    assert.deepEqual(run(empty, false), { found: null, skipped: 'missing dependency fortio: run npm run deps', version: 'unknown' });
  });

  it('throws under CI=true', () => {
    const { thrown } = run(empty, true);
    assert.match(thrown ?? '', /^missing dependency fortio: run npm run deps \(CI=true/);
  });

  it('finds what deps.json lists, under CI too', () => {
    const bin = join(provisioned, 'bin', 'fortio');
    mkdirSync(join(provisioned, 'bin'));
    writeFileSync(bin, '#!/bin/sh\nexit 0\n');
    chmodSync(bin, 0o755);
    writeFileSync(
      join(provisioned, 'deps.json'),
      JSON.stringify({ depsDir: provisioned, deps: { fortio: { path: bin, version: 'v0.0.1-test' } } }),
    );
    assert.deepEqual(run(provisioned, true), { found: bin, skipped: null, version: 'v0.0.1-test' });
  });
});
