/**
 * The reflection root of Envoy's protos as a pre-built JSON descriptor (libs/xds/proto/envoy-descriptor.json,
 * copied beside a bundle as proto/xds/), so a process does not tokenize and parse ~900 KB of .proto text at
 * start. Parsing left about 6 MB more heap behind (the .proto sources stay reachable through names sliced
 * from them, the custom options of every field, types only the options use) and peaked far higher.
 *
 * The descriptor holds the message types of the listed files, the types they reference (transitively), the
 * services and the well-known types, with nothing that does not change encoding or decoding: no comments,
 * no custom options (validate rules, udpa/envoy annotations), no extensions.
 *
 * It is generated, never committed (it is derived from Envoy's own .proto files, which @grpc/grpc-js-xds
 * ships): tools/build-app.mjs writes it before copying a lib's proto/ folder beside a bundle, and a process
 * running from sources writes it on first use. Its `generatedFrom` entry names the grpc-js-xds version and
 * the file list; a cached descriptor that names anything else is regenerated.
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type * as protobuf from 'protobufjs';
import { Root } from 'protobufjs';

export const DESCRIPTOR_FILE = 'envoy-descriptor.json';

/** Where Envoy's protos live: node_modules/@grpc/grpc-js-xds/deps/{envoy-api,xds,googleapis,protoc-gen-validate}. */
export function envoyProtoIncludeDirs(): string[] {
  const root = path.join(path.dirname(require.resolve('@grpc/grpc-js-xds/package.json')), 'deps');
  return ['envoy-api', 'xds', 'googleapis', 'protoc-gen-validate'].map((d) => path.join(root, d));
}

/** Parses .proto files (and their imports) from Envoy's include dirs into a new resolved Root. */
export function parseProtoFiles(files: readonly string[]): protobuf.Root {
  const r = new Root();
  // google/protobuf/descriptor.proto (imported by the annotation protos) ships with protobufjs.
  const dirs = [...envoyProtoIncludeDirs(), path.dirname(require.resolve('protobufjs/package.json'))];
  r.resolvePath = (_origin, target) => {
    if (path.isAbsolute(target)) return target;
    for (const dir of dirs) {
      const candidate = path.join(dir, target);
      if (fs.existsSync(candidate)) return candidate;
    }
    return target;
  };
  r.loadSync([...files], { keepCase: true });
  r.resolveAll();
  return r;
}

/** What a descriptor of `files` is generated from: the grpc-js-xds version and a digest of the file list. */
export function descriptorSource(files: readonly string[]): string {
  const pkg = JSON.parse(fs.readFileSync(require.resolve('@grpc/grpc-js-xds/package.json'), 'utf8')) as { version: string };
  return `@grpc/grpc-js-xds@${pkg.version} files:${createHash('sha256').update(files.join('\n')).digest('hex').slice(0, 16)}`;
}

/** Generates the descriptor of `files` into `file` (through a temporary file, so readers never see half). */
export function writeDescriptor(file: string, files: readonly string[]): void {
  const text = descriptorText({ generatedFrom: descriptorSource(files), ...buildDescriptor(parseProtoFiles(files), files) } as protobuf.INamespace);
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const tmp = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, text);
  fs.renameSync(tmp, file);
}

function generatedFrom(file: string): string | undefined {
  try {
    // The entry is written first (descriptorText keeps insertion order), so the head of the file holds it.
    const fd = fs.openSync(file, 'r');
    try {
      const head = Buffer.alloc(256);
      const n = fs.readSync(fd, head, 0, head.length, 0);
      return /"generatedFrom": "([^"]*)"/.exec(head.subarray(0, n).toString('utf8'))?.[1];
    } finally {
      fs.closeSync(fd);
    }
  } catch {
    return undefined;
  }
}

/**
 * The descriptor's path: beside the bundle (written by the build), else beside the lib's sources, written
 * there first when it is missing or was generated from other inputs.
 */
export function descriptorPath(files: readonly string[]): string {
  const bundled = path.join(__dirname, 'proto', 'xds', DESCRIPTOR_FILE);
  if (fs.existsSync(bundled)) return bundled;
  return ensureDescriptor(path.join(__dirname, '../proto', DESCRIPTOR_FILE), files);
}

/** `file`, written first when it is missing or names other inputs than `files` (and this grpc-js-xds). */
export function ensureDescriptor(file: string, files: readonly string[]): string {
  if (generatedFrom(file) !== descriptorSource(files)) writeDescriptor(file, files);
  return file;
}

/** The resolved Root of the descriptor file. */
export function loadDescriptorRoot(file: string): protobuf.Root {
  const r = Root.fromJSON(JSON.parse(fs.readFileSync(file, 'utf8')) as protobuf.INamespace);
  r.resolveAll();
  return r;
}

/** Well-known types kept whether or not a field references them (an Any may carry them). */
const WELL_KNOWN_FILE = /^google\/protobuf\/(?!descriptor\.proto$)/;

/**
 * The JSON descriptor of a parsed root, reduced to the types defined in `files` (paths as listed, relative
 * to the include dirs), what they reference, and the well-known types.
 */
export function buildDescriptor(r: protobuf.Root, files: readonly string[]): protobuf.INamespace {
  const kept = new Set<string>();
  const visited = new Set<protobuf.ReflectionObject>();
  const visit = (obj: protobuf.ReflectionObject): void => {
    if (visited.has(obj)) return;
    visited.add(obj);
    kept.add(obj.fullName);
    // An enclosing message is emitted whole (fields and all), so it is visited like any other.
    for (let p = obj.parent; p && p.fullName !== ''; p = p.parent) {
      if (isTypeLike(p)) visit(p);
      else kept.add(p.fullName);
    }
    if (obj instanceof Root) return;
    const t = obj as protobuf.Type & protobuf.Service;
    if (t.fieldsArray) for (const f of t.fieldsArray) if (f.resolvedType) visit(f.resolvedType);
    if (t.methodsArray) {
      for (const m of t.methodsArray) {
        if (m.resolvedRequestType) visit(m.resolvedRequestType);
        if (m.resolvedResponseType) visit(m.resolvedResponseType);
      }
    }
    if (t.nestedArray) for (const n of t.nestedArray) if (isTypeLike(n)) visit(n);
  };
  const wanted = (filename: string | null): boolean => {
    if (!filename) return false;
    const f = filename.replace(/\\/g, '/');
    return files.some((listed) => f.endsWith(`/${listed}`)) || WELL_KNOWN_FILE.test(f.slice(f.indexOf('google/protobuf/')));
  };
  const walk = (ns: protobuf.NamespaceBase): void => {
    for (const n of ns.nestedArray) {
      if (isTypeLike(n) && wanted(n.filename)) visit(n);
      if ((n as protobuf.NamespaceBase).nestedArray) walk(n as protobuf.NamespaceBase);
    }
  };
  walk(r);
  return (prune(r.toJSON({ keepComments: false }) as JsonNode, '', kept) ?? {}) as protobuf.INamespace;
}

function isTypeLike(o: protobuf.ReflectionObject): boolean {
  const t = o as unknown as { fields?: unknown; values?: unknown; methods?: unknown };
  return t.fields !== undefined || t.values !== undefined || t.methods !== undefined;
}

type JsonNode = Record<string, unknown> & { nested?: Record<string, JsonNode> };

/** Keeps kept names and their ancestors; drops custom options, extensions and emptied namespaces. */
function prune(node: JsonNode, fullName: string, kept: ReadonlySet<string>): JsonNode | undefined {
  if (fullName !== '' && !kept.has(`.${fullName}`)) return undefined;
  if (node.extend !== undefined) return undefined;
  const out: JsonNode = { ...node };
  stripOptions(out);
  for (const key of ['fields', 'oneofs', 'methods'] as const) {
    const members = out[key] as Record<string, JsonNode> | undefined;
    if (!members) continue;
    const copy: Record<string, JsonNode> = {};
    for (const [name, m] of Object.entries(members)) {
      copy[name] = { ...m };
      stripOptions(copy[name]);
    }
    out[key] = copy;
  }
  delete out.valuesOptions;
  delete out.comments;
  if (node.nested) {
    const nested: Record<string, JsonNode> = {};
    for (const [name, child] of Object.entries(node.nested)) {
      const c = prune(child, fullName ? `${fullName}.${name}` : name, kept);
      if (c) nested[name] = c;
    }
    if (Object.keys(nested).length > 0) out.nested = nested;
    else delete out.nested;
  }
  return out;
}

/** Options in parentheses are custom (validation, annotations): protobufjs never reads them. */
function stripOptions(node: JsonNode): void {
  delete node.comment;
  delete node.parsedOptions;
  const options = node.options as Record<string, unknown> | undefined;
  if (!options) return;
  const keep = Object.fromEntries(Object.entries(options).filter(([k]) => !k.startsWith('(') && !LANGUAGE_OPTIONS.test(k)));
  if (Object.keys(keep).length > 0) node.options = keep;
  else delete node.options;
}

const LANGUAGE_OPTIONS = /^(go_package|java_|objc_|csharp_|php_|ruby_|swift_|cc_|py_|deprecated$)/;

/** The file's text: one line per top-level package entry would not diff well; two-space JSON does. */
export function descriptorText(descriptor: protobuf.INamespace): string {
  return `${JSON.stringify(descriptor, null, 1)}\n`;
}
