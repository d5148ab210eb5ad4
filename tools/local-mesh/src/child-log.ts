/** A child's output: appended to <logdir>/<component>.log, the last lines kept for a crash report, and watched for a readiness line. */
import { createWriteStream, type WriteStream } from 'node:fs';
import type { Readable } from 'node:stream';

export class ChildLog {
  private readonly file: WriteStream;
  private readonly tail: string[] = [];
  private partial = '';
  private closed = false;
  private readonly watchers: { re: RegExp; resolve: () => void }[] = [];

  constructor(
    readonly path: string,
    private readonly keep = 20,
  ) {
    this.file = createWriteStream(path, { flags: 'a' });
    // A log that cannot be written (disk full, directory removed) must not take the supervisor down.
    this.file.on('error', () => (this.closed = true));
  }

  attach(stream: Readable | null): void {
    if (!stream) return;
    stream.on('data', (chunk: Buffer) => {
      if (!this.closed) this.file.write(chunk);
      this.lines(chunk.toString('utf8'));
    });
  }

  /** Resolves when a line matching `re` is (or was) written. */
  waitFor(re: RegExp): Promise<void> {
    if (this.tail.some((l) => re.test(l))) return Promise.resolve();
    return new Promise((resolve) => this.watchers.push({ re, resolve }));
  }

  lastLines(): string[] {
    return this.partial ? [...this.tail, this.partial] : [...this.tail];
  }

  note(line: string): void {
    if (!this.closed) this.file.write(`# local-mesh: ${line}\n`);
  }

  close(): Promise<void> {
    this.closed = true;
    if (this.file.destroyed || this.file.writableEnded) return Promise.resolve();
    return new Promise((resolve) => this.file.end(() => resolve()));
  }

  private lines(text: string): void {
    const parts = (this.partial + text).split('\n');
    this.partial = parts.pop() ?? '';
    for (const line of parts) {
      this.tail.push(line);
      if (this.tail.length > this.keep) this.tail.shift();
      for (let i = this.watchers.length - 1; i >= 0; i--) {
        if (this.watchers[i].re.test(line)) {
          this.watchers[i].resolve();
          this.watchers.splice(i, 1);
        }
      }
    }
  }
}
