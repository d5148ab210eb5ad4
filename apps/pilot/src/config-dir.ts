/**
 * `--config-dir`: every *.yaml/*.yml file (not recursive), multi-document, validated and fed to the
 * ConfigStore. Watched with fs.watch plus a periodic rescan (fs.watch misses events on some file
 * systems); a file is re-parsed only when its content changed.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Logger } from '@mesh/runtime';
import type { ConfigStore } from './config-store';
import { formatErrors, validateYaml } from '@mesh/config';

export interface ConfigDirOptions {
  dir: string;
  store: ConfigStore;
  log: Logger;
  rescanMs: number;
  /** Called with every error line of the last scan (for metrics / tests). */
  onInvalid?: (lines: string[]) => void;
}

export class ConfigDirWatcher {
  private readonly texts = new Map<string, string>();
  private watcher: fs.FSWatcher | undefined;
  private timer: NodeJS.Timeout | undefined;
  private pending: NodeJS.Timeout | undefined;
  invalidDocuments = 0;

  constructor(private readonly opts: ConfigDirOptions) {}

  /** Loads the directory once (synchronously) and starts watching. */
  start(): void {
    this.scan();
    try {
      this.watcher = fs.watch(this.opts.dir, () => this.scheduleScan());
      this.watcher.on('error', (err) => this.opts.log.warn('config dir watch failed; rescanning periodically', { dir: this.opts.dir, error: err }));
    } catch (err) {
      this.opts.log.warn('config dir cannot be watched; rescanning periodically', { dir: this.opts.dir, error: err as Error });
    }
    this.timer = setInterval(() => this.scan(), this.opts.rescanMs);
    this.timer.unref();
  }

  stop(): void {
    this.watcher?.close();
    if (this.timer) clearInterval(this.timer);
    if (this.pending) clearTimeout(this.pending);
  }

  private scheduleScan(): void {
    if (this.pending) return;
    // Editors write in several steps; read once the burst is over.
    this.pending = setTimeout(() => {
      this.pending = undefined;
      this.scan();
    }, 10);
  }

  scan(): void {
    let names: string[];
    try {
      names = fs.readdirSync(this.opts.dir).filter((n) => /\.ya?ml$/.test(n)).sort();
    } catch (err) {
      this.opts.log.error('cannot read config dir', { dir: this.opts.dir, error: err as Error });
      return;
    }
    const seen = new Set<string>();
    for (const name of names) {
      const file = path.join(this.opts.dir, name);
      seen.add(file);
      let text: string;
      try {
        text = fs.readFileSync(file, 'utf8');
      } catch {
        continue; // removed between readdir and read; the next scan sees it gone
      }
      if (this.texts.get(file) === text) continue;
      this.texts.set(file, text);
      this.loadFile(file, text);
    }
    for (const file of [...this.texts.keys()]) {
      if (seen.has(file)) continue;
      this.texts.delete(file);
      this.opts.store.removeFile(file);
      this.opts.log.info('config file removed', { file });
    }
  }

  private loadFile(file: string, text: string): void {
    const results = validateYaml(text, file);
    const lines = results.flatMap((r) => formatErrors(file, r));
    const kept = this.opts.store.setFile(file, results);
    const accepted = results.filter((r) => r.ok).length;
    for (const r of results) {
      if (r.ok) continue;
      this.invalidDocuments++;
      for (const e of r.errors) {
        this.opts.log.warn('invalid config document; last valid version stays in force', {
          file,
          document: r.index,
          path: e.path,
          error: e.message,
          ...(r.key ? { resource: r.key } : {}),
        });
      }
    }
    this.opts.log.info('config file loaded', { file, documents: results.length, accepted, invalid: results.length - accepted, keptLastGood: kept });
    if (lines.length > 0) this.opts.onInvalid?.(lines);
  }
}
