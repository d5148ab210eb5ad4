/**
 * At most `limit` signatures at once; the rest wait here, in arrival order, not in libuv's thread pool.
 * A waiting request is asked whether its caller is still there when its turn comes, just before the CA
 * key signs, so under overload a request whose caller gave up while it queued is dropped instead of
 * signed for nobody (a queue inside the thread pool could not be checked).
 */
import { errors } from './errors';

interface Waiting {
  abandoned: (() => boolean) | undefined;
  start: () => void;
  reject: (err: Error) => void;
}

export class SignQueue {
  private running = 0;
  private readonly waiting: Waiting[] = [];
  private head = 0;

  constructor(private readonly limit: number) {}

  /** Runs `task` when a slot is free, unless `abandoned()` says the caller has gone by then. */
  run<T>(abandoned: (() => boolean) | undefined, task: () => Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const start = (): void => {
        this.running++;
        task()
          .then(resolve, reject)
          .finally(() => {
            this.running--;
            this.next();
          });
      };
      if (this.running < this.limit && this.head === this.waiting.length) {
        if (abandoned?.()) reject(errors.create('REQUEST_ABANDONED', {}));
        else start();
        return;
      }
      this.waiting.push({ abandoned, start, reject });
    });
  }

  /** Requests waiting for a slot. */
  get queued(): number {
    return this.waiting.length - this.head;
  }

  private next(): void {
    while (this.running < this.limit && this.head < this.waiting.length) {
      const w = this.waiting[this.head++];
      if (this.head === this.waiting.length) {
        this.waiting.length = 0;
        this.head = 0;
      } else if (this.head >= 1024 && this.head * 2 >= this.waiting.length) {
        this.waiting.splice(0, this.head);
        this.head = 0;
      }
      if (w.abandoned?.()) w.reject(errors.create('REQUEST_ABANDONED', {}));
      else w.start();
    }
  }
}
