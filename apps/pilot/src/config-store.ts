/**
 * Accepted config, by file and document index. An invalid document keeps the last valid version that
 * file+index held; other documents still apply. Listeners learn which configs changed (by key, with
 * kinds), so the push side can choose what to regenerate.
 */
import { configKey, type ConfigObject } from '@mesh/config';
import type { DocumentResult } from '@mesh/config';

export interface ConfigChange {
  key: string;
  kind: string;
  before?: ConfigObject;
  after?: ConfigObject;
}

export type ChangeListener = (changes: ConfigChange[]) => void;

export class ConfigStore {
  private readonly files = new Map<string, Map<number, ConfigObject>>();
  /** Per file: its configs by key (first document wins within a file). */
  private readonly fileKeys = new Map<string, Map<string, ConfigObject>>();
  /** Effective config by key: when a key is declared in several files, the file that sorts first wins. */
  private readonly effective = new Map<string, ConfigObject>();
  /** The effective configs by kind (same order as `effective`): every push lists a few kinds of thousands of configs. */
  private readonly byKind = new Map<string, Map<string, ConfigObject>>();
  private readonly listeners: ChangeListener[] = [];
  private generation = 0;

  onChange(listener: ChangeListener): void {
    this.listeners.push(listener);
  }

  /** Bumps on every accepted change. */
  version(): number {
    return this.generation;
  }

  /**
   * Replaces a file's documents. Returns the keys of invalid documents that kept their last good version.
   */
  setFile(file: string, results: readonly DocumentResult[]): string[] {
    const previous = this.files.get(file) ?? new Map<number, ConfigObject>();
    const next = new Map<number, ConfigObject>();
    const kept: string[] = [];
    for (const r of results) {
      if (r.ok) next.set(r.index, r.config);
      else {
        const old = previous.get(r.index);
        if (old) {
          next.set(r.index, old);
          kept.push(configKey(old));
        }
      }
    }
    this.files.set(file, next);
    const byKey = new Map<string, ConfigObject>();
    for (const c of next.values()) {
      const key = configKey(c);
      if (!byKey.has(key)) byKey.set(key, c);
    }
    this.fileKeys.set(file, byKey);
    this.update([...previous.values(), ...next.values()].map(configKey));
    return kept;
  }

  removeFile(file: string): void {
    const previous = this.files.get(file);
    if (!previous) return;
    this.files.delete(file);
    this.fileKeys.delete(file);
    this.update([...previous.values()].map(configKey));
  }

  /** Every accepted config of a kind. */
  list(kind?: string): ConfigObject[] {
    if (kind === undefined) return [...this.effective.values()];
    const of = this.byKind.get(kind);
    return of ? [...of.values()] : [];
  }

  private winner(key: string): ConfigObject | undefined {
    let best: { file: string; config: ConfigObject } | undefined;
    for (const [file, byKey] of this.fileKeys) {
      if (best && file >= best.file) continue;
      const config = byKey.get(key);
      if (config) best = { file, config };
    }
    return best?.config;
  }

  /** Recomputes the effective config of the affected keys and tells listeners what changed. */
  private update(keys: string[]): void {
    const changes: ConfigChange[] = [];
    for (const key of new Set(keys)) {
      const before = this.effective.get(key);
      const winner = this.winner(key);
      // A re-parsed document that did not change stays the very same object: every cache keyed by config
      // objects (registry services and instances, push-context indexes) keeps hitting.
      const after = before && winner && before !== winner && sameConfig(before, winner) ? before : winner;
      if (after) this.effective.set(key, after);
      else this.effective.delete(key);
      if (before && before.kind !== after?.kind) this.byKind.get(before.kind)?.delete(key);
      if (after) {
        let of = this.byKind.get(after.kind);
        if (!of) {
          of = new Map();
          this.byKind.set(after.kind, of);
        }
        of.set(key, after);
      }
      if (before === after) continue;
      // Only its place or apiVersion moved: nothing to push (the store holds the new object for /debug).
      if (before && after && sameContent(before, after)) continue;
      changes.push({ key, kind: (after ?? before)?.kind ?? '', ...(before ? { before } : {}), ...(after ? { after } : {}) });
    }
    if (changes.length === 0) return;
    this.generation++;
    for (const l of this.listeners) l(changes);
  }
}

function sameContent(a: ConfigObject, b: ConfigObject): boolean {
  return JSON.stringify(a.meta) === JSON.stringify(b.meta) && JSON.stringify(a.spec) === JSON.stringify(b.spec);
}

/** Same content and same place (kind, apiVersion, file and document index, metadata, spec). */
function sameConfig(a: ConfigObject, b: ConfigObject): boolean {
  return (
    a.kind === b.kind &&
    a.group === b.group &&
    a.version === b.version &&
    a.source.file === b.source.file &&
    a.source.index === b.source.index &&
    sameContent(a, b)
  );
}
