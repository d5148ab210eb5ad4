/**
 * `meshctl apply -f FILE` and `meshctl delete -f FILE`: every document of every file is validated with
 * @mesh/config, exactly as Pilot validates its config directory. One invalid document and nothing is
 * written or removed; each error names the file, the document index and the field path.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { resolve } from 'node:path';
import { stringify } from 'yaml';
import { configKey, formatErrors, validateYaml, type ConfigObject } from '@mesh/config';
import type { Flags } from '@mesh/runtime';
import { applyFlags } from './flags';
import { defineCommand, EXIT, type Io } from './command';
import { fileNameFor, keyOf, otherDefinitions, parseKey, removeConfigFile, writeConfigFile, type ObjectKey } from './config-files';
import { errors } from './errors';
import { readMeshState, stateFile } from './mesh-state';

interface Doc {
  file: string;
  index: number;
  key: ObjectKey;
  /** The document as written (apply only). */
  value?: unknown;
}

/** Reads and validates every document; undefined (errors printed) when any file or document is bad. */
function loadDocuments(files: string[], forDelete: boolean, io: Io): Doc[] | undefined {
  const docs: Doc[] = [];
  const problems: string[] = [];
  for (const file of files) {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (err) {
      problems.push(errors.create('FILE_UNREADABLE', { file, reason: (err as NodeJS.ErrnoException).code ?? (err as Error).message }).message);
      continue;
    }
    const results = validateYaml(text, file);
    if (results.length === 0) problems.push(`${file}: no documents`);
    for (const r of results) {
      // delete needs only the identity: a document Pilot would refuse can still name the file to remove.
      const key = r.ok ? configKey(r.config) : forDelete ? r.key : undefined;
      const parsed = key ? parseKey(key) : undefined;
      if (!r.ok && !(forDelete && parsed)) {
        problems.push(...formatErrors(file, r));
        continue;
      }
      if (!parsed) {
        problems.push(`${file}: document ${r.index}: cannot tell its kind, namespace and name`);
        continue;
      }
      docs.push({ file, index: r.index, key: parsed, ...(r.ok ? { value: documentOf(r.config) } : {}) });
    }
  }
  const seen = new Map<string, Doc>();
  for (const d of docs) {
    const id = fileNameFor(d.key);
    const first = seen.get(id);
    if (first) problems.push(`${d.file}: document ${d.index}: ${d.key.kind} ${d.key.namespace}/${d.key.name} is also document ${first.index} of ${first.file}`);
    else seen.set(id, d);
  }
  if (problems.length > 0) {
    io.err(problems.join('\n') + '\n');
    io.err(`${errors.code('INVALID_CONFIG')}: ${errors.create('INVALID_CONFIG', { count: problems.length }).message}\n`);
    return undefined;
  }
  return docs;
}

/** The document written to the config directory: as the user wrote it, with its namespace made explicit. */
function documentOf(c: ConfigObject): unknown {
  const metadata: Record<string, unknown> = { name: c.meta.name, namespace: c.meta.namespace };
  if (Object.keys(c.meta.labels).length > 0) metadata.labels = c.meta.labels;
  if (Object.keys(c.meta.annotations).length > 0) metadata.annotations = c.meta.annotations;
  return { apiVersion: `${c.group}/${c.version}`, kind: c.kind, metadata, spec: c.spec };
}

function configDir(f: Flags<typeof applyFlags>, command: string, io: Io): string | undefined {
  const state = f.configDir ? undefined : readMeshState(f.stateDir);
  const dir = f.configDir ?? (state ? resolve(state.stateDir, 'config') : undefined);
  if (!dir) {
    io.err(`${errors.code('NO_CONFIG_DIR')}: ${errors.create('NO_CONFIG_DIR', { stateFile: stateFile(f.stateDir) }).message}\n`);
    return undefined;
  }
  if (!existsSync(dir) || !statSync(dir).isDirectory()) {
    io.err(`${command}: config directory ${dir} does not exist\n`);
    return undefined;
  }
  return dir;
}

function describe(k: ObjectKey): string {
  return `${k.kind.toLowerCase()} ${k.namespace}/${k.name}`;
}

const SECTIONS = [
  "Files go to --config-dir, or to the running local mesh's <state-dir>/config (Pilot's watched directory),\none file per object named 00-meshctl_<kind>_<namespace>_<name>.yaml, written atomically. Pilot uses the file\nthat sorts first when several define one object, so an applied object wins over other files' definitions.",
  'Exit codes: 0 done; 1 a document is invalid (nothing written), a file is unreadable, or (delete) an object was not found; 2 usage.',
];

function makeCommand(name: 'apply' | 'delete') {
  return defineCommand({
    name,
    synopsis: `${name} -f FILE [-f FILE ...] [--config-dir DIR]`,
    summary:
      name === 'apply'
        ? 'Validate every document (as Pilot does) and write each into the watched config directory; nothing is written if any document is invalid.'
        : 'Remove the objects a file names (kind, namespace, name) from the watched config directory.',
    sections: SECTIONS,
    flags: applyFlags,
    async run(f, positionals, io) {
      const files = f.filename ?? [];
      if (files.length === 0 || positionals.length > 0) {
        const reason = files.length === 0 ? 'which file? pass -f FILE' : `unexpected argument "${positionals[0]}"`;
        io.err(`${errors.create('USAGE', { command: name, reason }).message}\nRun "meshctl ${name} --help" for usage.\n`);
        return EXIT.USAGE;
      }
      const dir = configDir(f, name, io);
      if (!dir) return EXIT.FAILURE;
      const docs = loadDocuments(files, name === 'delete', io);
      if (!docs) return EXIT.FAILURE;
      const others = otherDefinitions(dir);
      let missing = 0;
      for (const d of docs) {
        const elsewhere = others.get(keyOf(d.key)) ?? [];
        if (name === 'apply') {
          const note = elsewhere.length ? ` (takes precedence over its definition in ${elsewhere.join(', ')})` : '';
          io.out(`${describe(d.key)} ${writeConfigFile(dir, d.key, stringify(d.value))}${note}\n`);
        } else if (removeConfigFile(dir, d.key)) {
          io.out(`${describe(d.key)} deleted${elsewhere.length ? ` (the definition in ${elsewhere.join(', ')} applies again)` : ''}\n`);
        } else {
          missing++;
          const note = elsewhere.length ? `; it is defined in ${elsewhere.join(', ')}, which meshctl did not write and leaves alone` : '';
          io.err(`${describe(d.key)} not found (no ${fileNameFor(d.key)} in ${dir})${note}\n`);
        }
      }
      return missing > 0 ? EXIT.FAILURE : EXIT.OK;
    },
  });
}

export const applyCommand = makeCommand('apply');
export const deleteCommand = makeCommand('delete');
