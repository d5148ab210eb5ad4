/**
 * Test harness for citadel: runs the real `serve` command in-process on loopback port 0 (real gRPC over
 * TLS, real HTTP), issues local tokens, and drives the real openssl binary.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createLogger, parseFlags, type LogLevel } from '@mesh/runtime';
import { requestCertificate } from '@mesh/xds';
import { serve, type Serving } from '../src/command-serve';
import { flags } from '../src/flags';
import { issueToken, loadOrCreateTokenKey } from '../src/token';

export interface TestCitadel extends Serving {
  dir: string;
  address: string;
  logs: string[];
  rootPem(): Promise<string>;
  token(namespace: string, serviceAccount: string, ttlMs?: number, now?: number): Promise<string>;
  request(token: string, csrPem: string, validitySeconds?: number): Promise<string[]>;
  httpGet(urlPath: string): Promise<{ status: number; body: string }>;
}

export async function tempDir(prefix = 'citadel-test-'): Promise<string> {
  return mkdtemp(path.join(tmpdir(), prefix));
}

export async function removeDir(dir: string): Promise<void> {
  await rm(dir, { recursive: true, force: true });
}

/** Starts citadel on 127.0.0.1 port 0 with the CA in `dir` (created when absent). */
export async function startCitadel(dir: string, extraArgs: string[] = [], level: LogLevel = 'debug'): Promise<TestCitadel> {
  const parsed = parseFlags(flags, ['--ca-dir', dir, '--grpc-address', '127.0.0.1:0', '--monitoring-address', '127.0.0.1:0', ...extraArgs], {});
  if (!parsed.ok) throw new Error(JSON.stringify(parsed.errors));
  const logs: string[] = [];
  const log = createLogger('citadel', level, { write: (line: string) => logs.push(line) });
  const serving = await serve(parsed.flags, log);
  const address = `127.0.0.1:${serving.grpcPort}`;
  const rootPem = (): Promise<string> => readFile(path.join(dir, 'root-cert.pem'), 'utf8');
  return {
    ...serving,
    dir,
    address,
    logs,
    rootPem,
    async token(namespace, serviceAccount, ttlMs = 3_600_000, now) {
      return issueToken(await loadOrCreateTokenKey(dir), { namespace, serviceAccount, ttlMs, now });
    },
    async request(token, csrPem, validitySeconds) {
      return requestCertificate({ address, rootCertPem: await rootPem(), token, csrPem, validitySeconds, timeoutMs: 10_000 });
    },
    async httpGet(urlPath) {
      const res = await fetch(`http://127.0.0.1:${serving.monitoringPort}${urlPath}`);
      return { status: res.status, body: await res.text() };
    },
  };
}

export interface Exec {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs openssl (or any binary) to completion, bounded to 30 s; never throws on a non-zero exit. */
export function run(bin: string, args: string[], cwd?: string): Promise<Exec> {
  return new Promise((resolve) => {
    execFile(bin, args, { cwd, timeout: 30_000, maxBuffer: 4 << 20 }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? ((err as { code: number }).code) : 1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

/** openssl-generated key + CSR; `keyArgs` e.g. ['-newkey', 'rsa:2048'] or ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256']. */
export async function opensslCsr(openssl: string, dir: string, name: string, keyArgs: string[], sans: string[]): Promise<{ csrPem: string; keyFile: string }> {
  const keyFile = path.join(dir, `${name}.key`);
  const csrFile = path.join(dir, `${name}.csr`);
  const args = ['req', '-new', ...keyArgs, '-nodes', '-keyout', keyFile, '-subj', '/', '-out', csrFile];
  if (sans.length > 0) args.push('-addext', `subjectAltName=${sans.join(',')}`);
  const r = await run(openssl, args);
  if (r.code !== 0) throw new Error(`openssl req failed: ${r.stderr}`);
  return { csrPem: await readFile(csrFile, 'utf8'), keyFile };
}

/** Writes the chain's parts and runs `openssl verify -CAfile <trust> [-untrusted <intermediates>] <leaf>`. */
export async function opensslVerify(openssl: string, dir: string, name: string, chain: string[], trustPem: string): Promise<Exec> {
  const leaf = path.join(dir, `${name}-leaf.pem`);
  const trust = path.join(dir, `${name}-trust.pem`);
  await writeFile(leaf, chain[0]);
  await writeFile(trust, trustPem);
  const args = ['verify', '-x509_strict', '-purpose', 'sslclient', '-CAfile', trust];
  const intermediates = chain.slice(1, -1);
  if (intermediates.length > 0) {
    const untrusted = path.join(dir, `${name}-untrusted.pem`);
    await writeFile(untrusted, intermediates.join(''));
    args.push('-untrusted', untrusted);
  }
  args.push(leaf);
  return run(openssl, args);
}

export function spiffe(namespace: string, serviceAccount: string, trustDomain = 'cluster.local'): string {
  return `spiffe://${trustDomain}/ns/${namespace}/sa/${serviceAccount}`;
}

/** Every JSON log line recorded so far, parsed. */
export function parsedLogs(logs: string[]): Array<Record<string, unknown>> {
  return logs.map((l) => JSON.parse(l) as Record<string, unknown>);
}
