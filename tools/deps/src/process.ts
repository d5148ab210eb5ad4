// Spawning a real program for a test or a benchmark: own process group (so stop() also ends its children),
// output captured in a bounded buffer (so a failure can show the last lines), readiness polled with a
// bounded number of attempts and a deadline, and a last-resort kill when the Node process exits.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface ExitStatus {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** Set when the program could not be started at all (e.g. ENOENT). */
  error?: Error;
}

export interface ProcessHandle {
  readonly name: string;
  readonly pid: number;
  /** Everything the program wrote to stdout and stderr (the last `logLimit` bytes). */
  logs(): string;
  readonly exited: Promise<ExitStatus>;
  hasExited(): boolean;
  /** SIGTERM to the process group, SIGKILL after `graceMs`, resolves once the process has exited. */
  stop(graceMs?: number): Promise<void>;
}

export interface StartProcessOptions {
  /** Shown in errors and logs, e.g. "envoy". */
  name: string;
  command: string;
  args: readonly string[];
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  /** Bytes of output kept (default 256 KiB). */
  logLimit?: number;
}

const live = new Set<number>();
let exitHookInstalled = false;

function killGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    try {
      process.kill(pid, signal);
    } catch {
      // already gone
    }
  }
}

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  // A test that crashes before its after() still must not leave brokers and proxies behind.
  const killAll = (): void => {
    for (const pid of live) killGroup(pid, 'SIGKILL');
  };
  process.on('exit', killAll);
  // 'exit' does not run when a signal ends the process (the test runner's timeout, ^C): clean up, then let
  // the signal do what it would have done, unless someone else handles it.
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.once(signal, () => {
      killAll();
      if (process.listenerCount(signal) === 0) process.kill(process.pid, signal);
    });
  }
}

class LogBuffer {
  private readonly chunks: Buffer[] = [];
  private size = 0;
  constructor(private readonly limit: number) {}
  push(chunk: Buffer): void {
    this.chunks.push(chunk);
    this.size += chunk.length;
    while (this.size > this.limit && this.chunks.length > 1) {
      const dropped = this.chunks.shift();
      if (dropped) this.size -= dropped.length;
    }
  }
  text(): string {
    return Buffer.concat(this.chunks).toString('utf8');
  }
}

export function startProcess(opts: StartProcessOptions): ProcessHandle {
  installExitHook();
  const buffer = new LogBuffer(opts.logLimit ?? 256 * 1024);
  const child = spawn(opts.command, [...opts.args], {
    cwd: opts.cwd,
    env: opts.env ?? process.env,
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout?.on('data', (chunk: Buffer) => buffer.push(chunk));
  child.stderr?.on('data', (chunk: Buffer) => buffer.push(chunk));
  const pid = child.pid ?? -1;
  if (pid > 0) live.add(pid);
  let done = false;
  const exited = new Promise<ExitStatus>((resolve) => {
    child.once('error', (error) => {
      done = true;
      live.delete(pid);
      resolve({ code: null, signal: null, error });
    });
    child.once('exit', (code, signal) => {
      done = true;
      live.delete(pid);
      resolve({ code, signal });
    });
  });
  return {
    name: opts.name,
    pid,
    logs: () => buffer.text(),
    exited,
    hasExited: () => done,
    async stop(graceMs = 5000) {
      if (done || pid < 0) {
        await exited;
        return;
      }
      killGroup(pid, 'SIGTERM');
      const timer = setTimeout(() => killGroup(pid, 'SIGKILL'), graceMs);
      try {
        await exited;
      } finally {
        clearTimeout(timer);
      }
      // Children that ignored SIGTERM of the group (nginx workers, forked JVM helpers) go now.
      killGroup(pid, 'SIGKILL');
    },
  };
}

/** The last `lines` lines of a log, for error messages. */
export function tail(text: string, lines = 40): string {
  const all = text.trimEnd().split('\n');
  return all.slice(Math.max(0, all.length - lines)).join('\n');
}

function describeExit(status: ExitStatus): string {
  if (status.error) return `could not start (${status.error.message})`;
  return status.signal ? `was killed by ${status.signal}` : `exited with code ${status.code}`;
}

export interface WaitOptions {
  timeoutMs: number;
  intervalMs?: number;
  /** Fail fast (with its logs) if this process exits while waiting. */
  process?: ProcessHandle;
}

/**
 * Polls `probe` until it returns true, at most timeoutMs and at most timeoutMs/intervalMs + 1 attempts.
 * The error names what was awaited, the last probe error and the process's last log lines.
 */
export async function waitUntil(what: string, probe: () => Promise<boolean>, opts: WaitOptions): Promise<void> {
  const interval = opts.intervalMs ?? 100;
  const deadline = Date.now() + opts.timeoutMs;
  const maxAttempts = Math.ceil(opts.timeoutMs / interval) + 1;
  let lastError = '';
  for (let attempt = 0; attempt < maxAttempts && Date.now() <= deadline; attempt++) {
    if (opts.process?.hasExited()) {
      const status = await opts.process.exited;
      throw new Error(
        `${opts.process.name} ${describeExit(status)} while waiting for ${what}\n${tail(opts.process.logs())}`,
      );
    }
    try {
      if (await probe()) return;
      lastError = '';
    } catch (err) {
      lastError = (err as Error).message;
    }
    await new Promise((resolve) => setTimeout(resolve, interval));
  }
  const logs = opts.process ? `\n${opts.process.name} logs:\n${tail(opts.process.logs())}` : '';
  throw new Error(
    `timed out after ${opts.timeoutMs} ms waiting for ${what}${lastError ? ` (last error: ${lastError})` : ''}${logs}`,
  );
}

/** Runs a program to completion (bounded by timeoutMs) and returns its exit status and output. */
export async function runProcess(
  opts: StartProcessOptions & { timeoutMs: number },
): Promise<{ status: ExitStatus; output: string }> {
  const proc = startProcess(opts);
  const timer = setTimeout(() => void proc.stop(1000), opts.timeoutMs);
  try {
    const status = await proc.exited;
    if (status.error) throw new Error(`${opts.name}: could not start ${opts.command}: ${status.error.message}`);
    if (status.signal) {
      throw new Error(`${opts.name} did not finish within ${opts.timeoutMs} ms (${status.signal})\n${tail(proc.logs())}`);
    }
    return { status, output: proc.logs() };
  } finally {
    clearTimeout(timer);
  }
}

/** Like runProcess, but a non-zero exit is an error that carries the program's output. */
export async function runChecked(opts: StartProcessOptions & { timeoutMs: number }): Promise<string> {
  const { status, output } = await runProcess(opts);
  if (status.code !== 0) throw new Error(`${opts.name} exited with code ${status.code}\n${tail(output)}`);
  return output;
}

/** A fresh folder under os.tmpdir(); remove it with removeTempDir. */
export function makeTempDir(label: string): string {
  return mkdtempSync(join(tmpdir(), `mesh-${label}-`));
}

export function removeTempDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
}
