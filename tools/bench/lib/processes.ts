/**
 * Processes the benchmarks start and wait for, shared by tools/bench/*.ts (a folder, so `npm run bench`
 * does not list it as a benchmark).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import * as path from 'node:path';
import { waitUntil } from '@mesh/deps';

const ROOT = path.resolve(__dirname, '../../..');

/** Resolves once a GET / on 127.0.0.1:port answers 200 (30 s at most). */
export async function waitHttp(port: number, what: string): Promise<void> {
  await waitUntil(what, async () => {
    try {
      const r = await fetch(`http://127.0.0.1:${port}/`);
      await r.arrayBuffer();
      return r.status === 200;
    } catch {
      return false;
    }
  }, { timeoutMs: 30_000 });
}

/**
 * The built citadel binary on loopback port 0 with its CA in `dir` (created on first start); resolves
 * with its gRPC port once it logs "citadel serving". `nodeArgs` go before the script (e.g. --cpu-prof);
 * `main` runs another build of it (an A/B comparison), by default dist/apps/citadel/main.js.
 */
export async function startCitadel(dir: string, opts: { args?: string[]; nodeArgs?: string[]; main?: string } = {}): Promise<{ child: ChildProcess; grpcPort: number; address: string }> {
  const argv = [...(opts.nodeArgs ?? []), opts.main ?? path.join(ROOT, 'dist/apps/citadel/main.js'), '--ca-dir', dir, '--grpc-address', '127.0.0.1:0', '--monitoring-address', '127.0.0.1:0', ...(opts.args ?? [])];
  const child = spawn(process.execPath, argv, { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  const grpcPort = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`citadel did not start within 30 s: ${stderr}`)), 30_000);
    child.stderr?.setEncoding('utf8').on('data', (d: string) => {
      stderr += d;
      const line = stderr.split('\n').find((l) => l.includes('"citadel serving"'));
      if (line) {
        clearTimeout(timer);
        resolve((JSON.parse(line) as { grpcPort: number }).grpcPort);
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`citadel exited ${code}: ${stderr}`));
    });
  });
  return { child, grpcPort, address: `127.0.0.1:${grpcPort}` };
}
