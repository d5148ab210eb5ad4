/**
 * The built binary (dist/apps/sidecar/main.js) as a user starts it: flags and Istio agent environment
 * become node metadata Pilot receives; --concurrency 2 runs two workers sharing the listener; admin
 * answers /ready and /server_info; POST /quitquitquit drains and exits 0; a bad --node-id exits 1 with a
 * message naming the flag.
 */
import { strict as assert } from 'node:assert';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { AdsServer, clusterRoute, routeConfiguration, virtualHost, type XdsNode } from '@mesh/xds';
import { quietLogger } from '@mesh/xds/testing';
import { cluster, listener, NODE_ID, request, snapshot, startBackend, waitUntil, type Backend } from './helpers';

const MAIN = path.resolve(__dirname, '../../../dist/apps/sidecar/main.js');

describe('built sidecar binary', () => {
  let backend: Backend;
  let ads: AdsServer;
  let bound: { port: number; close(): Promise<void> };
  let child: ChildProcess | undefined;
  let stderr = '';
  const nodes: XdsNode[] = [];

  before(async () => {
    assert.ok(fs.existsSync(MAIN), `build first: node tools/build-app.mjs apps/sidecar (${MAIN})`);
    backend = await startBackend('web');
    const c = cluster('outbound|80||web.default.svc.cluster.local', [{ port: backend.port }]);
    ads = new AdsServer({ logger: quietLogger(), onConnect: (n) => void nodes.push(n) });
    ads.setSnapshot(
      NODE_ID,
      snapshot({
        listeners: [listener('http.80', 'http.80')],
        routes: [routeConfiguration('http.80', [virtualHost('all', ['*'], [clusterRoute('/', 'outbound|80||web.default.svc.cluster.local')])])],
        clusters: [c.cluster],
        endpoints: [c.endpoints],
      }),
    );
    bound = await ads.listen('127.0.0.1:0');
  });

  after(async () => {
    if (child && child.exitCode === null) child.kill('SIGKILL');
    await bound?.close();
    await backend?.close();
  });

  it('rejects a malformed node id with exit code 1 and the flag name', () => {
    const r = spawnSync(process.execPath, [MAIN, '--node-id', 'nope', '--admin-address', '127.0.0.1:0'], { encoding: 'utf8', timeout: 20_000 });
    assert.equal(r.status, 1);
    assert.match(r.stderr, /MESH_ERR_SIDECAR_NODE_INVALID.*--node-id/);
  });

  it('starts two workers from flags and environment, serves, and quits on /quitquitquit', async () => {
    child = spawn(
      process.execPath,
      [MAIN, '--xds-address', `127.0.0.1:${bound.port}`, '--node-id', NODE_ID, '--namespace', 'default', '--labels', 'app=client,version=v1', '--admin-address', '127.0.0.1:0', '--concurrency', '2', '--drain-duration', '1s'],
      { env: { ...process.env, ISTIO_META_MESH_ID: 'mesh-1', SERVICE_ACCOUNT: 'client-sa' }, stdio: ['ignore', 'ignore', 'pipe'] },
    );
    child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
    let adminPort = 0;
    await waitUntil('admin address in the log', () => {
      const m = /"msg":"sidecar started"[^\n]*"admin":"127\.0\.0\.1:(\d+)"/.exec(stderr);
      if (m) adminPort = Number(m[1]);
      return adminPort > 0;
    }, 20_000);
    await waitUntil('two xDS connections', () => nodes.length >= 2, 20_000);
    const meta = nodes[0]?.metadata ?? {};
    assert.equal(meta.NAMESPACE, 'default');
    assert.deepEqual(meta.LABELS, { app: 'client', version: 'v1' });
    assert.equal(meta.INTERCEPTION_MODE, 'REDIRECT');
    assert.equal(meta.MESH_ID, 'mesh-1');
    assert.equal(meta.SERVICE_ACCOUNT, 'client-sa');

    let ready = 0;
    for (let i = 0; i < 200 && ready !== 200; i++) {
      ready = (await request(adminPort, { path: '/ready' })).status;
      if (ready !== 200) await new Promise((r) => setTimeout(r, 50));
    }
    assert.equal(ready, 200);
    const info = JSON.parse((await request(adminPort, { path: '/server_info' })).body) as { node: { id: string }; command_line_options: { concurrency: number } };
    assert.equal(info.node.id, NODE_ID);
    assert.equal(info.command_line_options.concurrency, 2);
    const listeners = JSON.parse((await request(adminPort, { path: '/listeners?format=json' })).body) as { listener_statuses: { local_address: { socket_address: { port_value: number } } }[] };
    const port = listeners.listener_statuses[0]?.local_address.socket_address.port_value ?? 0;
    assert.ok(port > 0);
    for (let i = 0; i < 20; i++) assert.equal((await request(port, { path: `/n${i}` })).status, 200);

    const exited = new Promise<number | null>((resolve) => child?.once('exit', (code) => resolve(code)));
    assert.equal((await request(adminPort, { path: '/quitquitquit', method: 'POST' })).status, 200);
    const code = await Promise.race([exited, new Promise<string>((r) => setTimeout(() => r('timeout'), 15_000))]);
    assert.equal(code, 0, stderr.slice(-2000));
  });
});
