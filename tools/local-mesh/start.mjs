#!/usr/bin/env node
// `npm start`: the local mesh in one command. Installs (npm ci) when node_modules is missing, builds every
// project (npx nx run-many -t build; cached after the first time), then runs the supervisor
// (tools/local-mesh/src/main.ts, TypeScript through tsx) in its own process group and passes SIGINT/SIGTERM
// on to it, so one Ctrl-C stops everything exactly once. Own flags: --no-install, --no-build; the rest
// go to the supervisor (see --help).
import { spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { constants } from 'node:os';
import { join, resolve } from 'node:path';

const root = resolve(import.meta.dirname, '../..');
const argv = process.argv.slice(2);
const OWN = new Set(['--no-install', '--no-build']);
const passOn = argv.filter((a) => !OWN.has(a));
const helpOnly = argv.includes('--help') || argv.includes('-h');

function step(title, command, args) {
  console.log(`local mesh: ${title}: ${command} ${args.join(' ')}`);
  const result = spawnSync(command, args, { cwd: root, stdio: 'inherit' });
  if (result.status !== 0) {
    console.error(`local mesh: "${command} ${args.join(' ')}" failed (${result.error?.message ?? `exit ${result.status ?? result.signal}`})`);
    process.exit(1);
  }
}

if (!existsSync(join(root, 'node_modules/.package-lock.json')) && !argv.includes('--no-install')) {
  step('node_modules is missing, installing', 'npm', ['ci']);
}
if (!helpOnly && !argv.includes('--no-build')) {
  step('building', 'npx', ['nx', 'run-many', '-t', 'build', '--outputStyle=static']);
}

const child = spawn(process.execPath, ['--import', 'tsx', join(root, 'tools/local-mesh/src/main.ts'), ...passOn], {
  cwd: root,
  stdio: 'inherit',
  detached: true,
  env: { ...process.env, MESH_LOCAL_PARENT_PID: String(process.pid) },
});

// A terminal's Ctrl-C reaches us (and npm) at once; pass one signal on, and a repeat only after a second
// (a deliberate second Ctrl-C, which makes the supervisor kill what is left).
let lastForward = 0;
function forward(signal) {
  const now = Date.now();
  if (now - lastForward < 1000) return;
  lastForward = now;
  if (child.exitCode === null && child.signalCode === null) child.kill(signal);
}
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.on(signal, () => forward(signal));
// `npm start` killed with SIGTERM ends npm and its shell without telling us: a new parent means stop.
const parentAtStart = process.ppid;
let orphaned = false;
setInterval(() => {
  if (!orphaned && process.ppid !== parentAtStart) {
    orphaned = true;
    console.log('local mesh: the parent process (npm) is gone, stopping');
    forward('SIGTERM');
  }
}, 1000).unref();
child.on('error', (err) => {
  console.error(`local mesh: cannot start the supervisor: ${err.message}`);
  process.exit(1);
});
child.on('exit', (code, signal) => process.exit(code ?? 128 + (constants.signals[signal] ?? 0)));
