/**
 * Reads YAML files into documents that remember where they came from (file and document index), so every
 * later finding can say "k8s/base/pilot.yaml#2 spec.template...". Parse errors are returned, never thrown.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { parseAllDocuments } from 'yaml';
import type { Problem } from './problem';

export interface ManifestDoc {
  /** Path relative to the base directory given to the loader (for messages). */
  file: string;
  /** 0-based index of the document within its file. */
  index: number;
  body: Record<string, unknown>;
}

export interface LoadResult {
  docs: ManifestDoc[];
  problems: Problem[];
}

/** Every *.yaml / *.yml below `dir`, sorted. */
export function yamlFilesUnder(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string): void => {
    for (const name of readdirSync(d).sort()) {
      const p = join(d, name);
      if (statSync(p).isDirectory()) walk(p);
      else if (/\.ya?ml$/.test(name)) out.push(p);
    }
  };
  walk(dir);
  return out;
}

/** Parses one YAML text; `file` is the name used in messages. Empty documents are skipped. */
export function parseManifestText(text: string, file: string): LoadResult {
  const docs: ManifestDoc[] = [];
  const problems: Problem[] = [];
  parseAllDocuments(text, { prettyErrors: true }).forEach((doc, index) => {
    if (doc.errors.length > 0) {
      for (const e of doc.errors) problems.push({ where: `${file}#${index}`, message: `YAML: ${e.message.split('\n')[0]}` });
      return;
    }
    const body: unknown = doc.toJS();
    if (body === null || body === undefined) return;
    if (typeof body !== 'object' || Array.isArray(body)) {
      problems.push({ where: `${file}#${index}`, message: 'document is not a mapping (a Kubernetes object needs apiVersion, kind, metadata)' });
      return;
    }
    docs.push({ file, index, body: body as Record<string, unknown> });
  });
  return { docs, problems };
}

export function loadManifests(files: readonly string[], baseDir: string): LoadResult {
  const result: LoadResult = { docs: [], problems: [] };
  for (const f of files) {
    const r = parseManifestText(readFileSync(f, 'utf8'), relative(baseDir, f));
    result.docs.push(...r.docs);
    result.problems.push(...r.problems);
  }
  return result;
}

/** "k8s/base/pilot.yaml#1 (Deployment istio-system/istio-pilot)" */
export function describeDoc(d: ManifestDoc): string {
  const meta = (d.body.metadata ?? {}) as { name?: string; namespace?: string };
  const name = meta.namespace ? `${meta.namespace}/${meta.name}` : String(meta.name);
  return `${d.file}#${d.index} (${String(d.body.kind)} ${name})`;
}

/** Documents that configure tools rather than describe Kubernetes API objects. */
const TOOL_CONFIG_GROUPS = ['kustomize.config.k8s.io/', 'kind.x-k8s.io/'];

export function isToolConfig(d: ManifestDoc): boolean {
  const apiVersion = String(d.body.apiVersion ?? '');
  return TOOL_CONFIG_GROUPS.some((g) => apiVersion.startsWith(g));
}
