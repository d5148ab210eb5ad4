/** Runs tools/local-mesh/start.mjs as a user would (a child process) and watches what it prints. */
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';

export const ROOT = join(__dirname, '../../..');

export interface StartRun {
  child: ChildProcess;
  output(): string;
  /** Resolves with the match once the output matches `re`; rejects after `timeoutMs` or if the process exits first. */
  waitFor(re: RegExp, timeoutMs: number): Promise<RegExpMatchArray>;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Bounded wait for the exit; SIGKILLs the process group after `timeoutMs` (then the test fails on the result). */
  waitExit(timeoutMs: number): Promise<{ code: number | null; signal: NodeJS.Signals | null; timedOut: boolean }>;
}

export function runStart(args: string[]): StartRun {
  // --no-build: the test pipeline built every project before the tests ran (nx test dependsOn build).
  const child = spawn(process.execPath, [join(ROOT, 'tools/local-mesh/start.mjs'), '--no-build', ...args], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, MESH_LOG_LEVEL: 'info' },
  });
  let text = '';
  const listeners = new Set<() => void>();
  const onData = (chunk: Buffer) => {
    text += chunk.toString('utf8');
    for (const l of listeners) l();
  };
  child.stdout?.on('data', onData);
  child.stderr?.on('data', onData);
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );
  return {
    child,
    output: () => text,
    exited,
    waitFor(re, timeoutMs) {
      return new Promise((resolve, reject) => {
        const check = () => {
          const m = re.exec(text);
          if (m) {
            done();
            resolve(m);
          }
        };
        const timer = setTimeout(() => {
          done();
          reject(new Error(`no output matching ${re} within ${timeoutMs} ms; output:\n${text}`));
        }, timeoutMs);
        const done = () => {
          clearTimeout(timer);
          listeners.delete(check);
        };
        listeners.add(check);
        exited.then((e) => {
          check();
          if (listeners.has(check)) {
            done();
            reject(new Error(`start.mjs exited (code ${e.code}, signal ${e.signal}) before printing ${re}; output:\n${text}`));
          }
        });
        check();
      });
    },
    async waitExit(timeoutMs) {
      let timer: NodeJS.Timeout | undefined;
      const result = await Promise.race([
        exited.then((e) => ({ ...e, timedOut: false })),
        new Promise<{ code: null; signal: null; timedOut: true }>((resolve) => {
          timer = setTimeout(() => resolve({ code: null, signal: null, timedOut: true }), timeoutMs);
        }),
      ]);
      clearTimeout(timer);
      if (result.timedOut) child.kill('SIGKILL');
      return result;
    },
  };
}

/** True while a process with this pid exists. */
export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
