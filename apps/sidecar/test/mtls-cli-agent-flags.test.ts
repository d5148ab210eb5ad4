/**
 * The built binary with the node agent's flags (Istio's CA_ADDR / SECRET_TTL / TRUST_DOMAIN names): it
 * obtains its certificate from the real Citadel binary, serves SDS on --sds-socket, and its STRICT
 * listener from xDS presents that identity and admits a mesh client; --ca-address without a service
 * account exits 1 naming the flag.
 */
import { strict as assert } from 'node:assert';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import * as fs from 'node:fs';
import path from 'node:path';
import * as tls from 'node:tls';
import { after, before, describe, it } from 'node:test';
import { freePort } from '@mesh/deps';
import { clusterLoadAssignment, edsCluster, routeConfiguration, Snapshot, TYPE_URL, virtualHost } from '@mesh/xds';
import type { NodeAgent } from '../src/agent';
import { waitFor, writeToken } from './agent-harness';
import { directRequest, inboundListener, spiffe, startEchoBackend, startMesh, type Mesh } from './mtls-harness';

const MAIN = path.resolve(__dirname, '../../../dist/apps/sidecar/main.js');
const NODE = 'sidecar~127.0.0.1~server-1.shop~shop.svc.cluster.local';

describe('built sidecar with the node agent flags', () => {
  let mesh: Mesh;
  let backend: Awaited<ReturnType<typeof startEchoBackend>>;
  let child: ChildProcess | undefined;
  let stderr = '';
  let caller: NodeAgent;

  before(async () => {
    assert.ok(fs.existsSync(MAIN), `build first: node tools/build-app.mjs apps/sidecar (${MAIN})`);
    mesh = await startMesh();
    backend = await startEchoBackend();
    caller = await mesh.agent('shop', 'client');
  });

  after(async () => {
    if (child && child.exitCode === null) {
      const exited = once(child, 'exit');
      child.kill('SIGTERM');
      await Promise.race([exited, new Promise((r) => setTimeout(r, 5000))]);
      if (child.exitCode === null) child.kill('SIGKILL');
    }
    await mesh?.stop();
    await backend?.close();
  });

  it('--ca-address without a service account exits 1 naming the flag', () => {
    const r = spawnSync(process.execPath, [MAIN, '--node-id', NODE, '--namespace', 'shop', '--ca-address', '127.0.0.1:1', '--admin-address', '127.0.0.1:0'], {
      encoding: 'utf8',
      timeout: 20_000,
      env: { ...process.env, SERVICE_ACCOUNT: '' },
    });
    assert.equal(r.status, 1);
    assert.match(r.stderr, /MESH_ERR_SIDECAR_AGENT_FLAGS_INVALID.*--service-account/);
  });

  it('gets its certificate from Citadel, serves SDS, and terminates mTLS with it', async () => {
    const port = await freePort('127.0.0.1');
    const strict = inboundListener('strict', 'STRICT', {}) as { address: { socket_address: { port_value: number } } };
    strict.address.socket_address.port_value = port;
    mesh.ads.ads.setSnapshot(
      NODE,
      new Snapshot({
        [TYPE_URL.LISTENER]: { version: '1', resources: [strict] },
        [TYPE_URL.ROUTE]: { version: '1', resources: [routeConfiguration('inbound', [virtualHost('inbound', ['*'], [{ match: { prefix: '/' }, route: { cluster: 'inbound|8080||' } }])])] },
        [TYPE_URL.CLUSTER]: { version: '1', resources: [edsCluster({ name: 'inbound|8080||', connectTimeoutMs: 1000 })] },
        [TYPE_URL.ENDPOINT]: { version: '1', resources: [clusterLoadAssignment('inbound|8080||', [{ address: '127.0.0.1', port: backend.port }])] },
      }),
    );
    const home = path.join(mesh.dir, 'cli');
    fs.mkdirSync(home);
    const tokenPath = await writeToken(path.join(mesh.dir, 'ca'), home, 'shop', 'server');
    const sdsSocket = path.join(home, 'sds.sock');
    child = spawn(
      process.execPath,
      [MAIN, '--xds-address', mesh.ads.address, '--node-id', NODE, '--namespace', 'shop', '--admin-address', '127.0.0.1:0', '--ca-root-cert', mesh.citadel.rootCertPath, '--token-path', tokenPath, '--sds-socket', sdsSocket],
      { env: { ...process.env, CA_ADDR: mesh.citadel.address, SERVICE_ACCOUNT: 'server', SECRET_TTL: '1h' }, stdio: ['ignore', 'ignore', 'pipe'] },
    );
    child.stderr?.setEncoding('utf8').on('data', (d: string) => (stderr += d));

    const reply = await waitFor('mTLS 200 from the built sidecar', async () => {
      const r = await directRequest(port, caller, '/cli').catch(() => undefined);
      return r?.status === 200 ? r : undefined;
    }, 20_000).catch((err: Error) => assert.fail(`${err.message}; sidecar stderr: ${stderr}`));
    assert.equal(JSON.parse(reply.body).url, '/cli');
    assert.match(stderr, /workload certificate obtained/);
    assert.ok(fs.existsSync(sdsSocket), 'SDS socket served');

    const { sans, notAfter } = await new Promise<{ sans: string; notAfter: string }>((resolve, reject) => {
      const c = caller.current();
      const s = tls.connect({ host: '127.0.0.1', port, servername: 'server.shop', cert: c.certChainPem, key: c.privateKeyPem, ca: c.rootCertPem, checkServerIdentity: () => undefined }, () => {
        const peer = s.getPeerCertificate();
        s.end();
        resolve({ sans: peer.subjectaltname ?? '', notAfter: peer.valid_to });
      });
      s.on('error', reject);
    });
    assert.equal(sans, `URI:${spiffe('shop', 'server')}`);
    const lifetimeMs = new Date(notAfter).getTime() - Date.now();
    assert.ok(lifetimeMs > 0 && lifetimeMs <= 3_700_000, `SECRET_TTL=1h asked for a 1 h certificate, got ${notAfter}`);
    // Plaintext is refused on the STRICT port.
    await assert.rejects(directRequest(port, undefined, '/plain'));
  });
});
