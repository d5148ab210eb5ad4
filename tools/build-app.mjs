#!/usr/bin/env node
// Builds one project. An app is bundled by esbuild into dist/apps/<name>/main.js (workspace libs inlined,
// npm packages left external, .proto files of the libs copied beside it under proto/<lib>/). A lib is
// type-checked. Usage: node tools/build-app.mjs apps/pilot | libs/xds
import { build } from 'esbuild';
import { execFileSync } from 'node:child_process';
import { cpSync, existsSync, readdirSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';

const root = resolve(import.meta.dirname, '..');
const projectRoot = process.argv[2];
if (!projectRoot || !/^(apps|libs)\/[a-z0-9-]+$/.test(projectRoot)) {
  console.error('usage: node tools/build-app.mjs apps/<name>|libs/<name>');
  process.exit(2);
}

if (projectRoot.startsWith('libs/')) {
  execFileSync(process.execPath, [join(root, 'node_modules/typescript/bin/tsc'), '-p', join(root, projectRoot, 'tsconfig.json'), '--noEmit'], { stdio: 'inherit' });
  process.exit(0);
}

const outdir = join(root, 'dist', projectRoot);
rmSync(outdir, { recursive: true, force: true });
await build({
  entryPoints: [join(root, projectRoot, 'src/main.ts')],
  outfile: join(outdir, 'main.js'),
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'cjs',
  packages: 'external',
  sourcemap: true,
  tsconfig: join(root, 'tsconfig.base.json'),
  logLevel: 'warning',
});
// Envoy's descriptor (libs/xds/src/protos-descriptor.ts) is generated, not committed: bring it up to date
// (a no-op when current) before libs/xds/proto is copied.
execFileSync(process.execPath, ['--import', 'tsx', join(root, 'libs/xds/scripts/generate-descriptor.ts'), '--if-stale'], { cwd: root, stdio: ['ignore', 'ignore', 'inherit'] });
// Libs that ship .proto files: copy them so the bundle finds them at dist/apps/<name>/proto/<lib>/.
for (const lib of readdirSync(join(root, 'libs'))) {
  const protoDir = join(root, 'libs', lib, 'proto');
  if (existsSync(protoDir)) cpSync(protoDir, join(outdir, 'proto', lib), { recursive: true });
}
console.log(`built ${projectRoot} -> ${join('dist', projectRoot, 'main.js')}`);
