/**
 * The sidecar's own TLS with the agent's certificate (Citadel binary as CA): a listener requires a mesh
 * client certificate and sees the client's SPIFFE identity; a cluster-side connection checks the server's
 * identity; after a rotation new connections get the new certificate.
 */
import { strict as assert } from 'node:assert';
import { once } from 'node:events';
import { mkdirSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import * as tls from 'node:tls';
import { after, before, describe, it } from 'node:test';
import { startNodeAgent, type NodeAgent } from '../src/agent';
import { peerSpiffeId, WorkloadTls } from '../src/agent-tls';
import { ensureCitadelBuilt, recordingLogger, removeDir, startCitadel, tempDir, writeToken, type CitadelProcess } from './agent-harness';

const REVIEWS = 'spiffe://cluster.local/ns/shop/sa/reviews';
const FRONTEND = 'spiffe://cluster.local/ns/shop/sa/frontend';

/** Connects, reads the server's one-line greeting; resolves with it and the server certificate's serial. */
function connect(port: number, options: tls.ConnectionOptions): Promise<{ line: string; serverSerial: string; serverId: string | undefined }> {
  return new Promise((resolve, reject) => {
    const socket = tls.connect({ ...options, host: '127.0.0.1', port });
    let line = '';
    const timer = setTimeout(() => socket.destroy(new Error('no greeting within 5 s')), 5000);
    socket.setEncoding('utf8');
    socket.on('data', (d: string) => {
      line += d;
      if (!line.endsWith('\n')) return;
      clearTimeout(timer);
      const result = { line: line.trim(), serverSerial: socket.getPeerCertificate().serialNumber, serverId: peerSpiffeId(socket) };
      socket.end();
      resolve(result);
    });
    socket.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    socket.on('close', () => {
      clearTimeout(timer);
      reject(new Error('closed without a greeting'));
    });
  });
}

describe('WorkloadTls: the agent identity on sidecar listeners and clusters', () => {
  let dir: string;
  let citadel: CitadelProcess | undefined;
  let serverAgent: NodeAgent | undefined;
  let clientAgent: NodeAgent | undefined;
  let server: tls.Server | undefined;

  before(async () => {
    await ensureCitadelBuilt();
    dir = tempDir();
  });

  after(async () => {
    if (server?.listening) await new Promise((r) => server?.close(r));
    await serverAgent?.stop();
    await clientAgent?.stop();
    await citadel?.stop();
    removeDir(dir);
  });

  it('mTLS both ways with identities checked, and rotation applies to new connections', async () => {
    const caDir = path.join(dir, 'ca');
    citadel = await startCitadel(caDir);
    const { logger } = recordingLogger();
    const base = { caAddress: citadel.address, caRootCertPath: citadel.rootCertPath, logger };
    mkdirSync(path.join(dir, 'r'));
    mkdirSync(path.join(dir, 'f'));
    serverAgent = await startNodeAgent({ ...base, identity: { namespace: 'shop', serviceAccount: 'reviews' }, tokenPath: await writeToken(caDir, path.join(dir, 'r'), 'shop', 'reviews') });
    clientAgent = await startNodeAgent({ ...base, identity: { namespace: 'shop', serviceAccount: 'frontend' }, tokenPath: await writeToken(caDir, path.join(dir, 'f'), 'shop', 'frontend') });
    const serverTls = new WorkloadTls(serverAgent);
    const clientTls = new WorkloadTls(clientAgent);

    server = tls.createServer(serverTls.serverOptions(), (socket) => socket.end(`hello ${peerSpiffeId(socket) ?? 'anonymous'}\n`));
    server.on('tlsClientError', () => undefined);
    serverTls.attachServer(server);
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const port = (server.address() as AddressInfo).port;

    const ok = await connect(port, clientTls.clientOptions([REVIEWS]));
    assert.equal(ok.line, `hello ${FRONTEND}`, 'the listener sees the client identity');
    assert.equal(ok.serverId, REVIEWS);
    assert.equal(ok.serverSerial.toUpperCase(), serverAgent.current().serialNumber.toUpperCase());

    await assert.rejects(connect(port, clientTls.clientOptions(['spiffe://cluster.local/ns/shop/sa/ratings'])), /peer identity spiffe:\/\/cluster\.local\/ns\/shop\/sa\/reviews is not one of/);
    // No client certificate: the listener refuses (at handshake, or the first read under TLS 1.3).
    await assert.rejects(connect(port, { ca: serverAgent.current().rootCertPem, checkServerIdentity: () => undefined }));

    const old = serverAgent.current().serialNumber;
    await serverAgent.rotateNow();
    assert.notEqual(serverAgent.current().serialNumber, old);
    const rotated = await connect(port, clientTls.clientOptions([REVIEWS]));
    assert.equal(rotated.serverSerial.toUpperCase(), serverAgent.current().serialNumber.toUpperCase(), 'new connections get the rotated certificate');
    assert.equal(rotated.line, `hello ${FRONTEND}`);
    serverTls.close();
    clientTls.close();
  });
});
