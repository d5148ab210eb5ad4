/** Test helpers: Bookinfo services as real child processes, a recording HTTP peer, and small HTTP calls. */
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer, request, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';

const ROOT = join(__dirname, '../../..');
const MAIN = join(__dirname, '../src/main.ts');

export interface ServiceProcess {
  name: string;
  address: string;
  child: ChildProcess;
  /** Everything the process wrote to stderr (its JSON log) so far. */
  logs(): string;
  /** JSON log records with msg === 'request'. */
  requests(): Record<string, unknown>[];
  /**
   * The first request record that `match` accepts, waiting for it (at most `timeoutMs`): a service logs a
   * request when its response finishes, and that line can reach us after the caller already has its answer.
   */
  waitForRequest(match: (r: Record<string, unknown>) => boolean, timeoutMs?: number): Promise<Record<string, unknown> | undefined>;
  stop(): Promise<void>;
}

/** Starts `node --import tsx samples/bookinfo/src/main.ts <args> --listen 127.0.0.1:0` and waits for its "listening" line (bounded). */
export function startService(name: string, args: string[], timeoutMs = 20_000): Promise<ServiceProcess> {
  const child = spawn(process.execPath, ['--import', 'tsx', MAIN, '--listen', '127.0.0.1:0', ...args], {
    cwd: ROOT,
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let text = '';
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const requests = (): Record<string, unknown>[] =>
    text
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as Record<string, unknown>)
      .filter((r) => r.msg === 'request');
  const proc = (address: string): ServiceProcess => ({
    name,
    address,
    child,
    logs: () => text,
    requests,
    async waitForRequest(match, timeoutMs = 5_000) {
      const deadline = Date.now() + timeoutMs;
      for (let i = 0; i < 1_000; i++) {
        const found = requests().find(match);
        if (found || Date.now() >= deadline) return found;
        await new Promise((r) => setTimeout(r, 10));
      }
      return undefined;
    },
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      await exited;
    },
  });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${name} did not log "listening" within ${timeoutMs} ms; log:\n${text}`));
    }, timeoutMs);
    const stderr = child.stderr as NonNullable<ChildProcess['stderr']>;
    stderr.setEncoding('utf8');
    stderr.on('data', (chunk: string) => {
      text += chunk;
      const m = /"msg":"listening".*"address":"([^"]+)"/.exec(text);
      if (m) {
        clearTimeout(timer);
        resolve(proc(m[1]));
      }
    });
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`${name} exited (code ${code}, signal ${signal}) before listening; log:\n${text}`));
    });
  });
}

export interface Recorded {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
}

/** A real HTTP peer that records every request and answers with a fixed JSON body. */
export async function startRecorder(
  body: unknown,
  status = 200,
  delayMs = 0,
): Promise<{ address: string; seen: Recorded[]; stop(): Promise<void> }> {
  const seen: Recorded[] = [];
  const timers = new Set<NodeJS.Timeout>();
  const server: Server = createServer((req, res) => {
    seen.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers });
    const answer = () => {
      if (res.destroyed) return;
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body));
    };
    if (delayMs <= 0) return answer();
    const timer = setTimeout(() => {
      timers.delete(timer);
      answer();
    }, delayMs);
    timers.add(timer);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    address: `127.0.0.1:${port}`,
    seen,
    stop: () =>
      new Promise<void>((resolve) => {
        for (const t of timers) clearTimeout(t);
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

/** A loopback address nothing listens on (bound, then released). */
export async function deadAddress(): Promise<string> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return `127.0.0.1:${port}`;
}

export interface HttpReply {
  status: number;
  headers: IncomingHttpHeaders;
  text: string;
}

export function http(
  method: string,
  url: string,
  opts: { headers?: Record<string, string>; body?: string } = {},
): Promise<HttpReply> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method, headers: opts.headers, agent: false, timeout: 20_000 }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (text += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, text }));
    });
    req.on('timeout', () => req.destroy(new Error(`${method} ${url}: no response within 20 s`)));
    req.on('error', reject);
    req.end(opts.body);
  });
}
