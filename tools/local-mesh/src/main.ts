/**
 * The local-mesh supervisor (run by tools/local-mesh/start.mjs after install and build): reads flags,
 * builds the topology, checks its ports are free, and supervises it until Ctrl-C or a crash.
 */
import { mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { formatFlagErrors, MeshError, parseFlags, usage } from '@mesh/runtime';
import type { Topology } from './component';
import { errors } from './errors';
import { flags, usageInfo } from './flags';
import { portIsFree } from './ports';
import { EXIT, Supervisor } from './supervisor';
import { buildTopology, loadTopologyFile } from './topology';

const ROOT = resolve(__dirname, '../../..');
const USAGE_EXIT = 2;

function print(line: string): void {
  process.stdout.write(line + '\n');
}

async function main(argv: string[]): Promise<number> {
  const parsed = parseFlags(flags, argv);
  if (!parsed.ok || parsed.flags.help) {
    if (argv.includes('--help') || argv.includes('-h') || (parsed.ok && parsed.flags.help)) {
      process.stdout.write(usage(usageInfo, flags));
      return EXIT.OK;
    }
    if (!parsed.ok) process.stderr.write(formatFlagErrors(parsed.errors, 'npm start --'));
    return USAGE_EXIT;
  }
  const f = parsed.flags;
  const stamp = new Date().toISOString().replace(/[:.]/g, '-');
  const logDir = resolve(f.logDir ?? join(ROOT, 'tmp/local-mesh/logs', stamp));
  const stateDir = resolve(f.stateDir ?? join(ROOT, 'tmp/local-mesh/state'));

  let topology: Topology;
  if (!f.topology) print('local mesh: checking which mesh components work (node dist/apps/<app>/main.js --help) ...');
  try {
    topology = f.topology
      ? loadTopologyFile(resolve(f.topology))
      : await buildTopology({
          root: ROOT,
          host: f.host,
          basePort: f.basePort,
          gatewayPort: f.gatewayPort,
          freePorts: f.freePorts,
          stateDir,
          skip: f.skip,
        });
    const all = topology.components.flatMap((c) => c.ports);
    const busy = (await Promise.all(all.map(async (p) => ((await portIsFree(p.host, p.port)) ? undefined : `${p.host}:${p.port}`)))).filter(
      (p): p is string => p !== undefined,
    );
    if (busy.length > 0) throw errors.create('PORT_BUSY', { ports: busy });
  } catch (err) {
    if (!(err instanceof MeshError)) throw err;
    process.stderr.write(`${err.code}: ${err.message}\n`);
    return err.httpStatus === 400 ? USAGE_EXIT : EXIT.FAILURE;
  }

  mkdirSync(logDir, { recursive: true });
  print(`local mesh: ${topology.components.length} component(s) to start. Logs: ${logDir}`);
  // The built-in mesh also leaves its topology at a fixed place (<state-dir>/topology.json) for tools such as meshctl.
  const stateFiles = f.topology ? [] : [join(stateDir, 'topology.json')];
  if (stateFiles.length > 0) mkdirSync(stateDir, { recursive: true });
  const supervisor = new Supervisor({ logDir, readyTimeoutMs: f.readyTimeout, stopGraceMs: f.stopGrace, stateFiles, print });
  process.on('SIGINT', () => supervisor.signal('SIGINT'));
  process.on('SIGTERM', () => supervisor.signal('SIGTERM'));
  process.on('SIGHUP', () => supervisor.signal('SIGHUP'));
  // start.mjs runs us in our own process group; if it dies without passing a signal on, stop anyway.
  const parent = Number(process.env.MESH_LOCAL_PARENT_PID);
  const watchdog = parent > 0 ? setInterval(() => process.ppid !== parent && supervisor.signal('parent exited'), 1000) : undefined;
  watchdog?.unref();
  return supervisor.run(topology);
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: Error) => {
    process.stderr.write(`local-mesh: ${err.stack ?? err.message}\n`);
    process.exit(EXIT.FAILURE);
  },
);
