/**
 * A small Dockerfile reader: enough of the Dockerfile syntax to answer "what does each stage run" without a
 * Docker engine. It handles parser directives, comments, line continuations (with the escape directive),
 * flags (--from=, --mount=, ...), exec (JSON) and shell forms, global ARG defaults in FROM, and refuses
 * heredocs explicitly instead of misreading them.
 */
import type { Problem } from './problem';

export interface Instruction {
  /** Upper-cased keyword: FROM, RUN, COPY, USER, ... */
  keyword: string;
  /** Leading --name[=value] flags. */
  flags: Record<string, string>;
  /** Exec form (JSON array) when the instruction used it, else undefined. */
  exec?: string[];
  /** The arguments after the flags, as written (shell form), continuations joined with a space. */
  args: string;
  /** 1-based line where the instruction starts. */
  line: number;
}

export interface Stage {
  /** Base image with global ARG defaults substituted. */
  image: string;
  /** Name after AS (lower-cased, as Docker treats it), if any. */
  name?: string;
  index: number;
  line: number;
  /** Instructions after FROM, up to the next FROM. */
  instructions: Instruction[];
}

export interface Dockerfile {
  directives: Record<string, string>;
  /** Global ARGs (before the first FROM) with their defaults. */
  globalArgs: Record<string, string | undefined>;
  stages: Stage[];
}

export type ParseResult = { ok: true; value: Dockerfile } | { ok: false; errors: Problem[] };

const DIRECTIVE = /^#\s*([a-zA-Z][a-zA-Z0-9_-]*)\s*=\s*(.*?)\s*$/;
const FLAG = /^--([a-z][a-z0-9-]*)(?:=(\S*))?(?:\s+|$)/;

/** Splits the text into logical instructions (continuations joined, comments dropped). */
function logicalLines(text: string, file: string): { lines: { text: string; line: number }[]; directives: Record<string, string>; errors: Problem[] } {
  const raw = text.split(/\r?\n/);
  const directives: Record<string, string> = {};
  const errors: Problem[] = [];
  let i = 0;
  // Parser directives: only at the very top, before any comment, blank line or instruction.
  for (; i < raw.length; i++) {
    const m = DIRECTIVE.exec(raw[i]);
    if (!m) break;
    const key = m[1].toLowerCase();
    if (key in directives) break;
    directives[key] = m[2];
  }
  const escape = directives.escape ?? '\\';
  if (escape !== '\\' && escape !== '`') errors.push({ where: `${file}:1`, message: `escape directive must be \\ or \`, got ${JSON.stringify(escape)}` });
  const lines: { text: string; line: number }[] = [];
  let current: string[] = [];
  let start = 0;
  for (; i < raw.length; i++) {
    const trimmed = raw[i].trim();
    if (current.length === 0 && trimmed === '') continue;
    if (trimmed.startsWith('#')) continue; // comments, also inside a continuation
    if (current.length === 0) start = i + 1;
    const body = raw[i].replace(/\s+$/, '');
    if (body.endsWith(escape)) {
      current.push(body.slice(0, -escape.length).trim());
      continue;
    }
    current.push(body.trim());
    lines.push({ text: current.filter((s) => s !== '').join(' '), line: start });
    current = [];
  }
  if (current.length > 0) errors.push({ where: `${file}:${start}`, message: 'the last instruction ends with a line continuation' });
  return { lines, directives, errors };
}

function parseInstruction(text: string, line: number, file: string): Instruction | Problem {
  const m = /^([A-Za-z]+)(?:\s+|$)(.*)$/.exec(text);
  if (!m) return { where: `${file}:${line}`, message: `not an instruction: ${JSON.stringify(text.slice(0, 60))}` };
  const keyword = m[1].toUpperCase();
  let rest = m[2];
  if (/<<-?["']?[A-Za-z_]/.test(rest) && (keyword === 'RUN' || keyword === 'COPY' || keyword === 'ADD')) {
    return { where: `${file}:${line}`, message: `${keyword} uses a heredoc, which this checker does not read; write the command inline` };
  }
  const flags: Record<string, string> = {};
  for (let f = FLAG.exec(rest); f; f = FLAG.exec(rest)) {
    flags[f[1]] = f[2] ?? 'true';
    rest = rest.slice(f[0].length);
  }
  const instruction: Instruction = { keyword, flags, args: rest.trim(), line };
  if (rest.trim().startsWith('[')) {
    try {
      const parsed: unknown = JSON.parse(rest.trim());
      if (Array.isArray(parsed) && parsed.every((s) => typeof s === 'string')) instruction.exec = parsed;
    } catch {
      // Docker falls back to the shell form when the JSON does not parse; so do we.
    }
  }
  return instruction;
}

/** Substitutes $NAME and ${NAME} (and ${NAME:-default}) from the given values. */
export function substitute(text: string, values: Record<string, string | undefined>): string {
  return text.replace(/\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}|\$([A-Za-z_][A-Za-z0-9_]*)/g, (_all, braced?: string, fallback?: string, bare?: string) => {
    const value = values[(braced ?? bare) as string];
    return value !== undefined && value !== '' ? value : (fallback ?? '');
  });
}

export function parseDockerfile(text: string, file: string): ParseResult {
  const { lines, directives, errors } = logicalLines(text, file);
  const globalArgs: Record<string, string | undefined> = {};
  const stages: Stage[] = [];
  for (const { text: t, line } of lines) {
    const parsed = parseInstruction(t, line, file);
    if (!('keyword' in parsed)) {
      errors.push(parsed);
      continue;
    }
    if (parsed.keyword === 'FROM') {
      const m = /^(\S+)(?:\s+as\s+(\S+))?\s*$/i.exec(parsed.args);
      if (!m) {
        errors.push({ where: `${file}:${line}`, message: `FROM needs "image [AS name]", got ${JSON.stringify(parsed.args)}` });
        continue;
      }
      stages.push({ image: substitute(m[1], globalArgs), name: m[2]?.toLowerCase(), index: stages.length, line, instructions: [] });
      continue;
    }
    if (stages.length === 0) {
      if (parsed.keyword !== 'ARG') {
        errors.push({ where: `${file}:${line}`, message: `only ARG may come before the first FROM, found ${parsed.keyword}` });
        continue;
      }
      const m = /^([A-Za-z_][A-Za-z0-9_]*)(?:=(.*))?$/.exec(parsed.args);
      if (!m) errors.push({ where: `${file}:${line}`, message: `ARG needs NAME[=default], got ${JSON.stringify(parsed.args)}` });
      else globalArgs[m[1]] = m[2]?.replace(/^"(.*)"$/, '$1');
      continue;
    }
    stages[stages.length - 1].instructions.push(parsed);
  }
  if (stages.length === 0 && errors.length === 0) errors.push({ where: `${file}:1`, message: 'no FROM instruction: not a Dockerfile' });
  return errors.length > 0 ? { ok: false, errors } : { ok: true, value: { directives, globalArgs, stages } };
}
