#!/usr/bin/env node
// Runs every *.test.ts below a folder with Node's own test runner (TypeScript through tsx).
// Usage: node tools/run-tests.mjs <dir> [more node --test flags]
// MESH_TEST_FILTER=<substring> narrows the files; MESH_TEST_CONCURRENCY sets how many files run at once;
// MESH_TEST_TIMEOUT_MS bounds each test (default 4 minutes).
import { spawnSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';

const root = resolve(import.meta.dirname, '..');
const [dir, ...extra] = process.argv.slice(2);
if (!dir) {
  console.error('usage: node tools/run-tests.mjs <dir>');
  process.exit(2);
}

function find(folder, out) {
  for (const name of readdirSync(folder)) {
    if (name === 'node_modules' || name === 'dist' || name.startsWith('.')) continue;
    const path = join(folder, name);
    if (statSync(path).isDirectory()) find(path, out);
    else if (name.endsWith('.test.ts')) out.push(path);
  }
  return out;
}

const filter = process.env.MESH_TEST_FILTER;
const files = find(resolve(root, dir), [])
  .map((f) => relative(root, f))
  .filter((f) => !filter || f.includes(filter))
  .sort();
if (files.length === 0) {
  console.log(`no test files under ${dir}`);
  process.exit(0);
}
const args = [
  '--import',
  'tsx',
  '--test',
  '--test-reporter=spec',
  `--test-concurrency=${process.env.MESH_TEST_CONCURRENCY ?? '1'}`,
  // A hung test fails after 4 minutes instead of stalling the run (the longest, mTLS rotation, takes ~70 s).
  `--test-timeout=${process.env.MESH_TEST_TIMEOUT_MS ?? '240000'}`,
  ...extra,
  ...files,
];
const result = spawnSync(process.execPath, args, { cwd: root, stdio: 'inherit' });
process.exit(result.status ?? 1);
