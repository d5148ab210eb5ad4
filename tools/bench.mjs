#!/usr/bin/env node
// npm run bench -- <name> [args]: runs tools/bench/<name>.ts. Every benchmark prints its progress as it
// goes and one JSON object as its last line of output.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';

const root = resolve(import.meta.dirname, '..');
const dir = join(root, 'tools/bench');
const available = existsSync(dir) ? readdirSync(dir).filter((f) => f.endsWith('.ts') && !f.includes('.test.')).map((f) => f.slice(0, -3)) : [];
const [name, ...args] = process.argv.slice(2);
if (!name || name === '--help' || !available.includes(name)) {
  const out = name && name !== '--help' ? console.error : console.log;
  if (name && name !== '--help') out(`MESH_ERR_BENCH_UNKNOWN: no benchmark named "${name}"`);
  out(`usage: npm run bench -- <name> [args]\nbenchmarks: ${available.join(', ') || '(none yet)'}`);
  process.exit(name && name !== '--help' ? 2 : 0);
}
const result = spawnSync(process.execPath, ['--import', 'tsx', join(dir, `${name}.ts`), ...args], { cwd: root, stdio: 'inherit' });
process.exit(result.status ?? 1);
