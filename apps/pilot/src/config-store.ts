/**
 * Accepted config, by file and document index. An invalid document keeps the last valid version that
 * file+index held; other documents still apply. Listeners learn which configs changed (by key, with
 * kinds), so the push side can choose what to regenerate.
 */
import { configKey, type ConfigObject } from './config-types';
import type { DocumentResult } from './config-validate';

export interface ConfigChange {
  key: string;
  kind: string;
  before?: ConfigObject;
  after?: ConfigObject;
}

export type ChangeListener = (changes: ConfigChange[]) => void;

export class ConfigStore {
  private readonly files = new Map<string, Map<number, ConfigObject>>();
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
    const before = this.snapshotKeys();
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
    this.emitDiff(before);
    return kept;
  }

  removeFile(file: string): void {
    if (!this.files.has(file)) return;
    const before = this.snapshotKeys();
    this.files.delete(file);
    this.emitDiff(before);
  }

  /** Every accepted config of a kind; a key declared twice: the file that sorts first wins. */
  list(kind?: string): ConfigObject[] {
    return [...this.snapshotKeys().values()].filter((c) => kind === undefined || c.kind === kind);
  }

  files_(): string[] {
    return [...this.files.keys()];
  }

  private snapshotKeys(): Map<string, ConfigObject> {
    const out = new Map<string, ConfigObject>();
    for (const file of [...this.files.keys()].sort()) {
      for (const c of this.files.get(file)?.values() ?? []) {
        const key = configKey(c);
        if (!out.has(key)) out.set(key, c);
      }
    }
    return out;
  }

  private emitDiff(before: Map<string, ConfigObject>): void {
    const after = this.snapshotKeys();
    const changes: ConfigChange[] = [];
    for (const [key, b] of before) {
      const a = after.get(key);
      if (!a) changes.push({ key, kind: b.kind, before: b });
      else if (JSON.stringify(a.spec) !== JSON.stringify(b.spec) || JSON.stringify(a.meta) !== JSON.stringify(b.meta)) {
        changes.push({ key, kind: a.kind, before: b, after: a });
      }
    }
    for (const [key, a] of after) if (!before.has(key)) changes.push({ key, kind: a.kind, after: a });
    if (changes.length === 0) return;
    this.generation++;
    for (const l of this.listeners) l(changes);
  }
}
