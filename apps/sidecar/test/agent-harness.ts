/**
 * Test harness for the node agent: the real Citadel binary (dist/apps/citadel/main.js, built when stale)
 * on loopback with a temp CA dir, tokens from its `issue-token` command, and the real openssl.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createLogger, type Logger } from '@mesh/runtime';
import { runAppBinary, WORKSPACE_ROOT } from '@mesh/runtime/testing';

const CITADEL_MAIN = path.join(WORKSPACE_ROOT, 'dist/apps/citadel/main.js');

function newestMtime(dir: string): number {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) newest = Math.max(newest, newestMtime(full));
    else if (entry.name.endsWith('.ts')) newest = Math.max(newest, statSync(full).mtimeMs);
  }
  return newest;
}

export interface Exec {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs a program to completion, bounded to 30 s; never throws on a non-zero exit. */
export function run(bin: string, args: string[], cwd?: string): Promise<Exec> {
  return new Promise((resolve) => {
    execFile(bin, args, { cwd, timeout: 30_000, maxBuffer: 4 << 20 }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : 1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

/** Builds dist/apps/citadel when it is missing or older than citadel's or a lib's sources. */
export async function ensureCitadelBuilt(): Promise<void> {
  const sources = Math.max(newestMtime(path.join(WORKSPACE_ROOT, 'apps/citadel/src')), newestMtime(path.join(WORKSPACE_ROOT, 'libs')));
  if (existsSync(CITADEL_MAIN) && statSync(CITADEL_MAIN).mtimeMs >= sources) return;
  const built = await run(process.execPath, [path.join(WORKSPACE_ROOT, 'tools/build-app.mjs'), 'apps/citadel'], WORKSPACE_ROOT);
  if (built.code !== 0) throw new Error(`building citadel failed: ${built.stderr}`);
}

export function tempDir(prefix = 'agent-test-'): string {
  return mkdtempSync(path.join(tmpdir(), prefix));
}

export function removeDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
}

export interface CitadelProcess {
  child: ChildProcess;
  grpcPort: number;
  address: string;
  /** The CA's distributed root bundle (root-cert.pem in the CA dir). */
  rootCertPath: string;
  stderr(): string;
  stop(): Promise<void>;
}

/**
 * Starts the Citadel binary on 127.0.0.1:<port> (0: any) with its CA in `caDir` and an EC P-256 root, and
 * waits (bounded, 20 s) for its "citadel serving" log line with the bound port.
 */
export async function startCitadel(caDir: string, port = 0, extraArgs: string[] = []): Promise<CitadelProcess> {
  const args = ['--ca-dir', caDir, '--grpc-address', `127.0.0.1:${port}`, '--monitoring-address', '127.0.0.1:0', '--ca-key-type', 'ec-p256', ...extraArgs];
  const child = spawn(process.execPath, [CITADEL_MAIN, ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  const stop = async (): Promise<void> => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = once(child, 'exit');
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
    await exited;
    clearTimeout(timer);
  };
  try {
    const grpcPort = await new Promise<number>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`citadel did not report serving within 20 s: ${stderr}`)), 20_000);
      child.stderr?.setEncoding('utf8').on('data', (d: string) => {
        stderr += d;
        for (const line of stderr.split('\n')) {
          if (!line.includes('"citadel serving"')) continue;
          clearTimeout(timer);
          resolve((JSON.parse(line) as { grpcPort: number }).grpcPort);
        }
      });
      child.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`citadel exited with ${code}: ${stderr}`));
      });
    });
    return { child, grpcPort, address: `127.0.0.1:${grpcPort}`, rootCertPath: path.join(caDir, 'root-cert.pem'), stderr: () => stderr, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}

/** A token from `citadel issue-token`, written to `<dir>/token` (the file the agent reads); returns its path. */
export async function writeToken(caDir: string, dir: string, namespace: string, serviceAccount: string, ttl = '1h'): Promise<string> {
  const issued = await runAppBinary('citadel', ['issue-token', '--ca-dir', caDir, '--namespace', namespace, '--service-account', serviceAccount, '--ttl', ttl]);
  if (issued.code !== 0) throw new Error(`issue-token failed: ${issued.stderr}`);
  const token = issued.stdout.trim().split('\n').pop() ?? '';
  const tokenPath = path.join(dir, 'token');
  writeFileSync(tokenPath, `${token}\n`);
  return tokenPath;
}

/** A JSON logger that records its lines (and prints them with MESH_TEST_LOG=debug). */
export function recordingLogger(): { logger: Logger; lines: string[] } {
  const lines: string[] = [];
  const echo = process.env.MESH_TEST_LOG === 'debug';
  const logger = createLogger('sidecar', 'debug', {
    write: (line: string) => {
      lines.push(line);
      if (echo) process.stderr.write(line.endsWith('\n') ? line : `${line}\n`);
    },
  });
  return { logger, lines };
}

/** Polls `check` every 100 ms until it returns a value, bounded by count and time. */
export async function waitFor<T>(what: string, check: () => T | undefined | Promise<T | undefined>, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (let i = 0; i < Math.ceil(timeoutMs / 100) + 1 && Date.now() <= deadline; i++) {
    const value = await check();
    if (value !== undefined) return value;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
}
