/** A child's output: appended to <logdir>/<component>.log, the last lines kept for a crash report, and watched for a readiness line. */
import { createWriteStream, type WriteStream } from 'node:fs';
import type { Readable } from 'node:stream';

export class ChildLog {
  private readonly file: WriteStream;
  private readonly tail: string[] = [];
  private partial = '';
  private readonly watchers: { re: RegExp; resolve: () => void }[] = [];

  constructor(
    readonly path: string,
    private readonly keep = 20,
  ) {
    this.file = createWriteStream(path, { flags: 'a' });
  }

  attach(stream: Readable | null): void {
    if (!stream) return;
    stream.on('data', (chunk: Buffer) => {
      this.file.write(chunk);
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
    this.file.write(`# local-mesh: ${line}\n`);
  }

  close(): Promise<void> {
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
