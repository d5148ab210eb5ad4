/**
 * meshctl: the mesh's command line. `meshctl <command> [flags]`; every command has --help; exit codes
 * 0 ok, 1 failure / not synced, 2 usage.
 */
import { MeshError } from '@mesh/runtime';
import { applyCommand, deleteCommand } from './command-apply';
import { proxyConfigCommand } from './command-proxy-config';
import { statusCommand } from './command-status';
import { EXIT, runCommand, type Command, type Io } from './command';
import { errors } from './errors';
import { expandArgs } from './flags';

const COMMANDS: Command[] = [statusCommand, proxyConfigCommand, applyCommand, deleteCommand] as unknown as Command[];

function topUsage(): string {
  const width = Math.max(...COMMANDS.map((c) => c.name.length)) + 2;
  return [
    'Usage: meshctl <command> [flags]',
    '',
    'The command line of the mesh: its state, what a proxy runs, and its configuration.',
    '',
    'Commands:',
    ...COMMANDS.map((c) => `  ${c.name.padEnd(width)}${c.summary}`),
    '',
    'Run "meshctl <command> --help" for a command\'s flags.',
    'Exit codes: 0 ok; 1 failure or not synced; 2 usage.',
    '',
  ].join('\n');
}

export async function meshctl(argv: readonly string[], io: Io): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    if (name === 'help' && rest[0]) return meshctl([rest[0], '--help'], io);
    io[name === undefined ? 'err' : 'out'](topUsage());
    return name === undefined ? EXIT.USAGE : EXIT.OK;
  }
  const command = COMMANDS.find((c) => c.name === name);
  if (!command) {
    io.err(`${errors.code('UNKNOWN_COMMAND')}: ${errors.create('UNKNOWN_COMMAND', { command: name }).message}\n`);
    return EXIT.USAGE;
  }
  try {
    return await runCommand(command, expandArgs(rest), io);
  } catch (err) {
    io.err(err instanceof MeshError ? `${err.code}: ${err.message}\n` : `meshctl ${name}: ${(err as Error).stack ?? String(err)}\n`);
    return EXIT.FAILURE;
  }
}

/** Runs meshctl on this process's arguments and sets its exit code. */
export function run(): void {
  const io: Io = { out: (t) => process.stdout.write(t), err: (t) => process.stderr.write(t) };
  meshctl(process.argv.slice(2), io).then(
    (code) => {
      process.exitCode = code;
    },
    (err: Error) => {
      process.stderr.write(`meshctl: ${err.stack ?? err.message}\n`);
      process.exitCode = EXIT.FAILURE;
    },
  );
}

if (require.main === module) run();
