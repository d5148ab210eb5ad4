/**
 * The common life of an app process: parse flags (or print usage), build a logger, start, stop cleanly on
 * SIGINT/SIGTERM, and turn a failed start into one clear log line and a non-zero exit instead of a stack.
 */
import { formatFlagErrors, parseFlags, usage, type FlagSpecs, type Flags, type UsageInfo } from './flags';
import { createLogger, type Logger } from './log';

export interface Running {
  /** Stop accepting work, finish what is in flight, release ports. */
  stop(): Promise<void>;
}

export interface AppContext<S extends FlagSpecs> {
  flags: Flags<S>;
  positionals: string[];
  log: Logger;
}

export interface AppDefinition<S extends FlagSpecs> {
  component: string;
  usage: UsageInfo;
  flags: S;
  start(ctx: AppContext<S>): Promise<Running | void>;
}

/** Exit codes scripts can rely on. */
export const ExitCode = { OK: 0, FAILURE: 1, USAGE: 2 } as const;

export async function runApp<S extends FlagSpecs>(
  app: AppDefinition<S>,
  argv: readonly string[] = process.argv.slice(2),
): Promise<void> {
  const parsed = parseFlags(app.flags, argv);
  if (!parsed.ok) {
    if (argv.includes('--help') || argv.includes('-h')) {
      process.stdout.write(usage(app.usage, app.flags));
      return;
    }
    process.stderr.write(formatFlagErrors(parsed.errors, app.usage.command.replace(/\s*\[.*$/, '')));
    process.exitCode = ExitCode.USAGE;
    return;
  }
  if (parsed.flags.help) {
    process.stdout.write(usage(app.usage, app.flags));
    return;
  }
  const log = createLogger(app.component, parsed.flags.logLevel);
  let running: Running | void;
  try {
    running = await app.start({ flags: parsed.flags, positionals: parsed.positionals, log });
  } catch (err) {
    const e = err as Error & { code?: string };
    log.error('start failed', { code: e.code ?? 'MESH_ERR_START', error: e.message });
    process.exitCode = ExitCode.FAILURE;
    return;
  }
  if (!running) return;
  const active = running;
  let stopping = false;
  const shutdown = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    log.info('stopping', { signal });
    active.stop().then(
      () => {
        log.info('stopped');
        process.exit(ExitCode.OK);
      },
      (err: Error) => {
        log.error('stop failed', { error: err.message });
        process.exit(ExitCode.FAILURE);
      },
    );
  };
  process.once('SIGINT', () => shutdown('SIGINT'));
  process.once('SIGTERM', () => shutdown('SIGTERM'));
}
