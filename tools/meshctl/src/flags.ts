/**
 * Every flag and environment variable meshctl reads: one table per command. `-o` and `-f` are the short
 * forms of `--output` and `--filename` (kubectl's habit), rewritten before parsing.
 */
import type { FlagSpecs } from '@mesh/runtime';

const output = { kind: 'string', description: 'output format', default: 'table', choices: ['table', 'json'] } as const;
const stateDir = {
  kind: 'string',
  description: "the local mesh's state directory (topology.json, config/)",
  default: 'tmp/local-mesh/state',
  env: 'MESHCTL_STATE_DIR',
} as const;
const timeout = { kind: 'duration', description: 'time limit of each HTTP request', default: '5s' } as const;

export const statusFlags = {
  pilot: { kind: 'string', description: "Pilot's debug URL (default: from the local mesh topology, else http://127.0.0.1:15014)", env: 'MESHCTL_PILOT' },
  output,
  'state-dir': stateDir,
  timeout,
} satisfies FlagSpecs;

export const proxyConfigFlags = { output, 'state-dir': stateDir, timeout } satisfies FlagSpecs;

export const applyFlags = {
  filename: { kind: 'list', description: 'YAML file(s) to apply (repeat -f or separate with commas)' },
  'config-dir': { kind: 'string', description: "the watched config directory (default: the local mesh's <state-dir>/config)", env: 'MESHCTL_CONFIG_DIR' },
  'state-dir': stateDir,
} satisfies FlagSpecs;

export const SHORT_FLAGS: Record<string, string> = { '-o': '--output', '-f': '--filename', '-h': '--help' };

/** `-o json` -> `--output json`, and repeated `-f a -f b` -> one `--filename a,b` (parseArgs keeps the last). */
export function expandArgs(argv: readonly string[]): string[] {
  const out: string[] = [];
  const files: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] as string;
    const long = SHORT_FLAGS[a] ?? a;
    if (long === '--filename' && i + 1 < argv.length) {
      files.push(argv[++i] as string);
    } else if (long.startsWith('--filename=')) {
      files.push(long.slice('--filename='.length));
    } else {
      out.push(long);
    }
  }
  if (files.length > 0) out.push('--filename', files.join(','));
  return out;
}
