/**
 * `--config-dir`: every *.yaml/*.yml file (not recursive), multi-document, validated and fed to the
 * ConfigStore. Watched with fs.watch plus a periodic rescan (fs.watch misses events on some file
 * systems). A watch event reads only the file it names; a file is re-parsed only when its content changed
 * (its parsed documents stay in the store until then).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Logger } from '@mesh/runtime';
import type { ConfigStore } from './config-store';
import { formatErrors, validateYaml } from '@mesh/config';

const YAML_FILE = /\.ya?ml$/;
/** How long a watch event waits for the rest of its burst before the file is read. */
const SETTLE_MS = 2;

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
  /** Files named by watch events since the last read; 'all' when an event named none (rescan the dir). */
  private changed: Set<string> | 'all' = new Set();
  invalidDocuments = 0;

  constructor(private readonly opts: ConfigDirOptions) {}

  /** Loads the directory once (synchronously) and starts watching. */
  start(): void {
    this.scan();
    try {
      this.watcher = fs.watch(this.opts.dir, (_event, name) => this.scheduleRead(name ?? undefined));
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

  /**
   * A watch event: read the file it names (only that one: the others did not change), or the whole
   * directory when it names none. Events of one burst (write + rename of an atomic update) are read once.
   */
  private scheduleRead(name: string | undefined): void {
    if (name === undefined) this.changed = 'all';
    else if (!YAML_FILE.test(name)) return; // editors' and atomic writers' temporary files
    else if (this.changed !== 'all') this.changed.add(path.join(this.opts.dir, name));
    if (this.pending) return;
    this.pending = setTimeout(() => {
      this.pending = undefined;
      const changed = this.changed;
      this.changed = new Set();
      if (changed === 'all') this.scan();
      else for (const file of changed) this.readFile(file);
    }, SETTLE_MS);
  }

  /** One file named by a watch event: load it if its content changed, forget it if it is gone. */
  private readFile(file: string): void {
    let text: string;
    try {
      text = fs.readFileSync(file, 'utf8');
    } catch {
      if (!this.texts.has(file)) return;
      this.texts.delete(file);
      this.opts.store.removeFile(file);
      this.opts.log.info('config file removed', { file });
      return;
    }
    if (this.texts.get(file) === text) return;
    this.texts.set(file, text);
    this.loadFile(file, text);
  }

  scan(): void {
    let names: string[];
    try {
      names = fs.readdirSync(this.opts.dir).filter((n) => YAML_FILE.test(n)).sort();
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
