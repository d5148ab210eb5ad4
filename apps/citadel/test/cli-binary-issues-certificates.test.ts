import { strict as assert } from 'node:assert';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { requireDep } from '@mesh/deps';
import { runAppBinary, WORKSPACE_ROOT } from '@mesh/runtime/testing';
import { createCsr, generateWorkloadKey, requestCertificate } from '@mesh/xds';
import { opensslVerify, removeDir, run, spiffe, tempDir } from './harness';

const MAIN = path.join(WORKSPACE_ROOT, 'dist/apps/citadel/main.js');

/** Starts the built binary and waits (bounded) for its "citadel serving" log line with the bound ports. */
async function startBinary(args: string[]): Promise<{ child: ChildProcess; grpcPort: number; monitoringPort: number; stderr: () => string }> {
  const child = spawn(process.execPath, [MAIN, ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  const ports = await new Promise<{ grpcPort: number; monitoringPort: number }>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`citadel did not report serving within 20 s: ${stderr}`)), 20_000);
    child.stderr?.setEncoding('utf8').on('data', (d: string) => {
      stderr += d;
      for (const line of stderr.split('\n')) {
        if (!line.includes('"citadel serving"')) continue;
        clearTimeout(timer);
        const rec = JSON.parse(line) as { grpcPort: number; monitoringPort: number };
        resolve({ grpcPort: rec.grpcPort, monitoringPort: rec.monitoringPort });
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`citadel exited with ${code}: ${stderr}`));
    });
  });
  return { child, ...ports, stderr: () => stderr };
}

describe('the citadel binary from dist: serve, issue-token, a real request, rotate-root', () => {
  let dir: string;
  let server: Awaited<ReturnType<typeof startBinary>> | undefined;

  before(async () => {
    const built = await run(process.execPath, [path.join(WORKSPACE_ROOT, 'tools/build-app.mjs'), 'apps/citadel'], WORKSPACE_ROOT);
    assert.equal(built.code, 0, built.stderr);
    dir = await tempDir();
  });

  after(async () => {
    if (server && server.child.exitCode === null) {
      server.child.kill('SIGTERM');
      await once(server.child, 'exit');
    }
    await removeDir(dir);
  });

  it('serves, accepts a token printed by issue-token, and the chain verifies with openssl; SIGTERM exits 0', async (t) => {
    const openssl = requireDep(t, 'openssl');
    if (!openssl) return;
    server = await startBinary(['--ca-dir', dir, '--grpc-address', '127.0.0.1:0', '--monitoring-address', '127.0.0.1:0', '--trust-domain', 'example.org']);
    assert.ok(server.grpcPort > 0 && server.monitoringPort > 0);

    const issued = await runAppBinary('citadel', ['issue-token', '--ca-dir', dir, '--namespace', 'billing', '--service-account', 'invoicer', '--ttl', '10m']);
    assert.equal(issued.code, 0, issued.stderr);
    const token = issued.stdout.trim().split('\n').pop() ?? '';
    assert.match(token, /^[\w-]+\.[\w-]+\.[\w-]+$/);

    const root = (await (await fetch(`http://127.0.0.1:${server.monitoringPort}/root-cert.pem`)).text());
    assert.equal(root, await readFile(path.join(dir, 'root-cert.pem'), 'utf8'));
    const { privateKey } = await generateWorkloadKey('ec-p256');
    const csrPem = createCsr({ privateKey, uris: [spiffe('billing', 'invoicer', 'example.org')] });
    const chain = await requestCertificate({ address: `127.0.0.1:${server.grpcPort}`, rootCertPem: root, token, csrPem });
    const verified = await opensslVerify(openssl, dir, 'cli', chain, root);
    assert.equal(verified.code, 0, verified.stderr);
    const text = await run(openssl, ['x509', '-in', path.join(dir, 'cli-leaf.pem'), '-noout', '-ext', 'subjectAltName']);
    assert.match(text.stdout, /URI:spiffe:\/\/example\.org\/ns\/billing\/sa\/invoicer/);

    const ready = await fetch(`http://127.0.0.1:${server.monitoringPort}/ready`);
    assert.equal(ready.status, 200);

    const rotated = await runAppBinary('citadel', ['rotate-root', '--ca-dir', dir, '--overlap', '1h']);
    assert.equal(rotated.code, 0, rotated.stderr);
    const result = JSON.parse(rotated.stdout.trim().split('\n').pop() ?? '{}') as { bundleSize: number; newRootFingerprint: string };
    assert.equal(result.bundleSize, 2);

    server.child.kill('SIGTERM');
    const [code] = (await once(server.child, 'exit')) as [number | null];
    assert.equal(code, 0, server.stderr());
  });

  it('exit codes and messages: --help 0, unknown command 1, missing identity flags 1, missing --ca-dir 2', async () => {
    const help = await runAppBinary('citadel', ['--help']);
    assert.equal(help.code, 0);
    assert.match(help.stdout, /issue-token/);
    const unknown = await runAppBinary('citadel', ['frobnicate', '--ca-dir', dir]);
    assert.equal(unknown.code, 1);
    assert.match(unknown.stderr, /MESH_ERR_CITADEL_COMMAND_UNKNOWN/);
    const noNs = await runAppBinary('citadel', ['issue-token', '--ca-dir', dir, '--service-account', 'x']);
    assert.equal(noNs.code, 1);
    assert.match(noNs.stderr, /MESH_ERR_CITADEL_ARGUMENT_INVALID.*--namespace: is required for issue-token/);
    const badName = await runAppBinary('citadel', ['issue-token', '--ca-dir', dir, '--namespace', 'Bad_NS', '--service-account', 'x']);
    assert.equal(badName.code, 1);
    assert.match(badName.stderr, /namespace \\"Bad_NS\\" must be a DNS label/);
    const noDir = await runAppBinary('citadel', ['issue-token'], 15_000, { ...process.env, CITADEL_CA_DIR: '' });
    assert.equal(noDir.code, 2);
    assert.match(noDir.stderr, /--ca-dir: is required/);
  });
});
