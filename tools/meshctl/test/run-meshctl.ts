/**
 * Test helpers: the meshctl binary run as a user runs it (bin/meshctl.js, a child process), and the real
 * Pilot binary (dist/apps/pilot/main.js) started on port 0 with a given config directory.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { join, resolve } from 'node:path';

export const ROOT = resolve(__dirname, '../../..');
export const MESHCTL = join(ROOT, 'tools/meshctl/bin/meshctl.js');
export const PILOT = join(ROOT, 'dist/apps/pilot/main.js');

export interface MeshctlResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `meshctl <args>` from a directory outside the repository; never rejects on a non-zero exit. */
export function meshctl(args: readonly string[], cwd = '/'): Promise<MeshctlResult> {
  return new Promise((done) => {
    execFile(process.execPath, [MESHCTL, ...args], { cwd, timeout: 30_000, env: { ...process.env, MESHCTL_STATE_DIR: '', MESHCTL_PILOT: '', MESHCTL_CONFIG_DIR: '' } }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === 'number' ? err.code : 1) : 0;
      done({ code, stdout, stderr });
    });
  });
}

export interface RunningPilotBinary {
  xdsPort: number;
  debugPort: number;
  log(): string;
  stop(): Promise<void>;
}

export async function startPilotBinary(configDir: string): Promise<RunningPilotBinary> {
  const child: ChildProcess = spawn(
    process.execPath,
    [PILOT, '--config-dir', configDir, '--xds-address', '127.0.0.1:0', '--debug-address', '127.0.0.1:0', '--debounce-after', '50ms'],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let log = '';
  child.stdout?.on('data', (c: Buffer) => (log += c.toString()));
  child.stderr?.on('data', (c: Buffer) => (log += c.toString()));
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  const stop = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(timer);
    }
  };
  const deadline = Date.now() + 30_000;
  for (let i = 0; i < 300 && Date.now() < deadline; i++) {
    const line = log.split('\n').find((l) => l.includes('"pilot listening"'));
    if (line) {
      const rec = JSON.parse(line) as { xdsPort: number; debugPort: number };
      return { xdsPort: rec.xdsPort, debugPort: rec.debugPort, log: () => log, stop };
    }
    if (child.exitCode !== null) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  await stop();
  throw new Error(`pilot did not log "pilot listening" within 30 s:\n${log}`);
}

/** Polls `check` (bounded by count and time) until it returns a value. */
export async function eventually<T>(what: string, check: () => Promise<T | undefined>, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (let i = 0; i < 200 && Date.now() < deadline; i++) {
    try {
      const v = await check();
      if (v !== undefined) return v;
    } catch (err) {
      last = err;
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`timed out waiting for ${what}${last ? `: ${(last as Error).message}` : ''}`);
}
