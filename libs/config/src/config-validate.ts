/**
 * Validation entry point for whole YAML files (multi-document). Used by pilot's --config-dir loader and by
 * `meshctl apply`, so both accept exactly the same documents.
 */
import { parseAllDocuments } from 'yaml';
import type { ConfigObject, FieldError } from './config-types';
import { lookupKind } from './schema-registry';

export type DocumentResult =
  | { index: number; ok: true; config: ConfigObject }
  | { index: number; ok: false; errors: FieldError[]; /** kind/namespace/name when it could be read, to keep its last good version */ key?: string };

/** Validates one already-parsed document (a plain object). */
export function validateDocument(doc: unknown, file: string, index: number): DocumentResult {
  if (doc === null || typeof doc !== 'object' || Array.isArray(doc)) {
    return { index, ok: false, errors: [{ path: '', message: 'a document must be a mapping with apiVersion, kind, metadata and spec' }] };
  }
  const d = doc as { apiVersion?: unknown; kind?: unknown; metadata?: { name?: unknown; namespace?: unknown } };
  const key = typeof d.kind === 'string' && typeof d.metadata?.name === 'string'
    ? `${d.kind}/${typeof d.metadata.namespace === 'string' ? d.metadata.namespace : 'default'}/${d.metadata.name}`
    : undefined;
  const kind = lookupKind(d.apiVersion, d.kind);
  if (!kind.ok) return { index, ok: false, errors: kind.errors, ...(key ? { key } : {}) };
  const result = kind.value.validate(doc);
  if (!result.ok) return { index, ok: false, errors: result.errors, ...(key ? { key } : {}) };
  return { index, ok: true, config: { ...result.value, source: { file, index } } };
}

/** Every document of a YAML text, validated. Empty documents (`---` alone) are skipped. */
export function validateYaml(text: string, file: string): DocumentResult[] {
  const out: DocumentResult[] = [];
  const docs = parseAllDocuments(text);
  const list = Array.isArray(docs) ? docs : [docs];
  list.forEach((doc, index) => {
    if (doc.errors.length > 0) {
      const e = doc.errors[0];
      const pos = e?.linePos?.[0];
      out.push({ index, ok: false, errors: [{ path: pos ? `line ${pos.line}, column ${pos.col}` : '', message: `YAML syntax: ${e?.message.split('\n')[0] ?? 'invalid'}` }] });
      return;
    }
    const value: unknown = doc.toJS();
    if (value === null || value === undefined) return;
    out.push(validateDocument(value, file, index));
  });
  return out;
}

/** One line per error: `file: document N: path: message`. */
export function formatErrors(file: string, result: DocumentResult): string[] {
  if (result.ok) return [];
  return result.errors.map((e) => `${file}: document ${result.index}${e.path ? `: ${e.path}` : ''}: ${e.message}`);
}
