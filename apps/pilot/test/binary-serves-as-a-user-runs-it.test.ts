/**
 * The built binary (dist/apps/pilot/main.js) as a user runs it: ports 0, bound ports in a log line,
 * /ready, a real grpc-js-xds client served; --help; a bad node id refused with a clear message; a
 * missing config dir fails with its error code.
 */
import { strict as assert } from 'node:assert';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { openRawAdsStream } from '@mesh/xds/testing';
import { callUntil, meshYaml, startBackend, tempConfigDir, writeConfig, xdsClient, type Backend } from './helpers';

const MAIN = path.resolve(__dirname, '../../../dist/apps/pilot/main.js');

describe('pilot binary', () => {
  let proc: ChildProcess | undefined;
  let backend: Backend;
  let ports: { xdsPort: number; debugPort: number } | undefined;
  let stderr = '';

  before(async () => {
    assert.ok(fs.existsSync(MAIN), `build first: node tools/build-app.mjs apps/pilot (${MAIN} missing)`);
    backend = await startBackend('bin');
    const dir = tempConfigDir();
    writeConfig(dir, 'mesh.yaml', meshYaml('echo.test.svc.cluster.local', 7070, [{ backend, labels: {} }]));
    proc = spawn(process.execPath, [MAIN, '--config-dir', dir, '--xds-address', '127.0.0.1:0', '--debug-address', '127.0.0.1:0'], { stdio: ['ignore', 'ignore', 'pipe'] });
    ports = await new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no "pilot listening" line in 15 s: ${stderr}`)), 15_000);
      proc?.stderr?.on('data', (chunk: Buffer) => {
        stderr += chunk.toString();
        for (const line of stderr.split('\n')) {
          if (!line.includes('"pilot listening"')) continue;
          clearTimeout(timer);
          const rec = JSON.parse(line) as { xdsPort: number; debugPort: number };
          resolve({ xdsPort: rec.xdsPort, debugPort: rec.debugPort });
        }
      });
      proc?.once('exit', (code) => reject(new Error(`pilot exited ${code}: ${stderr}`)));
    });
  });

  after(async () => {
    if (proc && proc.exitCode === null) {
      const exited = new Promise((r) => proc?.once('exit', r));
      proc.kill('SIGTERM');
      await exited;
    }
    await backend?.stop();
  });

  it('logs its bound ports, is ready, and serves a grpc-js-xds client', async () => {
    assert.ok(ports && ports.xdsPort > 0 && ports.debugPort > 0);
    const ready = await fetch(`http://127.0.0.1:${ports.debugPort}/ready`);
    assert.equal(ready.status, 200);
    const client = xdsClient(ports.xdsPort, 'echo.test.svc.cluster.local:7070');
    try {
      assert.equal((await callUntil(client, (r) => r.code === 0)).backend, 'bin');
    } finally {
      client.close();
    }
    const metrics = await (await fetch(`http://127.0.0.1:${ports.debugPort}/metrics`)).text();
    assert.match(metrics, /^pilot_xds 1$/m);
  });

  it('refuses a malformed node id with a message naming the expected form', async () => {
    assert.ok(ports);
    const stream = openRawAdsStream(`127.0.0.1:${ports.xdsPort}`, 'StreamAggregatedResources');
    try {
      stream.send({ node: { id: 'not-an-istio-id' }, type_url: 'type.googleapis.com/envoy.config.cluster.v3.Cluster' });
      const status = await Promise.race([stream.status(), new Promise<undefined>((r) => setTimeout(() => r(undefined), 5000).unref())]);
      assert.ok(status, 'the stream was not ended');
      assert.equal(status.code, 3, 'INVALID_ARGUMENT, not INTERNAL: the client sent a bad node id');
      assert.match(status.details, /invalid proxy identity: node\.id: "not-an-istio-id" must have 4 parts/);
    } finally {
      stream.close();
    }
  });

  it('prints honest usage and fails clearly without a config dir', () => {
    const help = spawnSync(process.execPath, [MAIN, '--help'], { encoding: 'utf8' });
    assert.equal(help.status, 0);
    assert.match(help.stdout, /--config-dir/);
    assert.match(help.stdout, /--debounce-after/);
    const bad = spawnSync(process.execPath, [MAIN, '--config-dir', '/nonexistent/pilot-config', '--xds-address', '127.0.0.1:0', '--debug-address', '127.0.0.1:0'], { encoding: 'utf8' });
    assert.equal(bad.status, 1);
    assert.match(bad.stderr, /MESH_ERR_PILOT_CONFIG_DIR/);
  });
});
