/** What a meshctl command is: a name, a flags table, usage text, and a run function returning the exit code. */
import { formatFlagErrors, parseFlags, usage, type FlagSpecs, type Flags } from '@mesh/runtime';

export const EXIT = { OK: 0, FAILURE: 1, USAGE: 2 } as const;

export interface Io {
  out(text: string): void;
  err(text: string): void;
}

export interface Command<S extends FlagSpecs = FlagSpecs> {
  name: string;
  /** `meshctl <usage line>` */
  synopsis: string;
  summary: string;
  sections?: string[];
  flags: S;
  run(flags: Flags<S>, positionals: string[], io: Io): Promise<number>;
}

export function defineCommand<S extends FlagSpecs>(c: Command<S>): Command<S> {
  return c;
}

export function commandUsage(c: Command): string {
  return usage({ command: `meshctl ${c.synopsis}`, summary: c.summary, sections: c.sections }, c.flags);
}

/** Parses the command's flags (usage errors exit 2), prints usage for --help, else runs it. */
export async function runCommand(c: Command, argv: readonly string[], io: Io): Promise<number> {
  const parsed = parseFlags(c.flags, argv);
  if (!parsed.ok) {
    io.err(formatFlagErrors(parsed.errors, `meshctl ${c.name}`));
    return EXIT.USAGE;
  }
  if (parsed.flags.help) {
    io.out(commandUsage(c));
    return EXIT.OK;
  }
  return c.run(parsed.flags, parsed.positionals, io);
}
