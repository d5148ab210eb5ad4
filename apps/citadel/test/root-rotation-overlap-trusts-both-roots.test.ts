import { strict as assert } from 'node:assert';
import { X509Certificate } from 'node:crypto';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import tls from 'node:tls';
import { after, before, describe, it } from 'node:test';
import { requireDep } from '@mesh/deps';
import { createCsr, generateWorkloadKey, requestCertificate } from '@mesh/xds';
import { rotateRoot } from '../src/root-rotation';
import { opensslVerify, removeDir, spiffe, startCitadel, tempDir, type TestCitadel } from './harness';

const TEN_YEARS = 3650 * 86_400_000;

function pemList(bundle: string): string[] {
  return bundle.match(/-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----\n?/g) ?? [];
}

function sameCert(a: string, b: string): boolean {
  return new X509Certificate(a).fingerprint256 === new X509Certificate(b).fingerprint256;
}

async function waitFor(what: string, check: () => Promise<boolean>, maxTries = 200, maxMs = 15_000): Promise<void> {
  const deadline = Date.now() + maxMs;
  for (let i = 0; i < maxTries && Date.now() < deadline; i++) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  assert.fail(`timed out waiting for ${what}`);
}

/**
 * Mutual TLS between a server and a client, each with its own workload cert, both trusting `ca`. The server
 * answers with the identity it saw, so the client only reports success once the server accepted it too.
 */
async function mtls(server: { key: string; cert: string }, client: { key: string; cert: string }, ca: string): Promise<{ ok: boolean; clientSaw?: string; serverSaw?: string; error?: string }> {
  const srv = tls.createServer({ key: server.key, cert: server.cert, ca, requestCert: true, rejectUnauthorized: true }, (s) => {
    s.end(String(s.getPeerCertificate().subjectaltname));
  });
  srv.on('tlsClientError', () => undefined);
  srv.listen(0, '127.0.0.1');
  await once(srv, 'listening');
  const socket = tls.connect({ host: '127.0.0.1', port: (srv.address() as AddressInfo).port, key: client.key, cert: client.cert, ca, checkServerIdentity: () => undefined });
  try {
    return await new Promise((resolve) => {
      let clientSaw: string | undefined;
      let serverSaw = '';
      const timer = setTimeout(() => resolve({ ok: false, error: 'timeout' }), 5000);
      const finish = (r: { ok: boolean; clientSaw?: string; serverSaw?: string; error?: string }): void => {
        clearTimeout(timer);
        resolve(r);
      };
      socket.once('secureConnect', () => {
        clientSaw = String(socket.getPeerCertificate().subjectaltname);
      });
      socket.setEncoding('utf8').on('data', (d: string) => (serverSaw += d));
      socket.once('end', () => finish(serverSaw ? { ok: socket.authorized, clientSaw, serverSaw } : { ok: false, error: 'closed by server' }));
      socket.once('error', (err) => finish({ ok: false, error: err.message }));
    });
  } finally {
    socket.destroy();
    srv.close();
  }
}

describe('rotate-root introduces a new root with an overlap in which both roots are trusted', () => {
  let dir: string;
  let work: string;
  let citadel: TestCitadel;

  before(async () => {
    dir = await tempDir();
    work = await tempDir('citadel-work-');
    citadel = await startCitadel(dir, ['--ca-reload-interval', '100ms'], 'info');
  });

  after(async () => {
    await citadel?.stop();
    await removeDir(dir);
    await removeDir(work);
  });

  it('no request fails across the rotation; old and new certificates both verify against the bundle; mTLS across roots works', async (t) => {
    const openssl = requireDep(t, 'openssl');
    if (!openssl) return;
    const oldRoot = await citadel.rootPem();
    const serverKey = await generateWorkloadKey('ec-p256');
    const clientKey = await generateWorkloadKey('ec-p256');
    const serverCsr = createCsr({ privateKey: serverKey.privateKey, uris: [spiffe('shop', 'backend')] });
    const clientCsr = createCsr({ privateKey: clientKey.privateKey, uris: [spiffe('shop', 'frontend')] });
    const serverToken = await citadel.token('shop', 'backend');
    const clientToken = await citadel.token('shop', 'frontend');

    // A workload keeps renewing through the rotation on fresh connections, trusting only what it had
    // before the rotation (the old root): the CA's serving certificate must stay verifiable.
    const chains: string[][] = [];
    const failures: string[] = [];
    let rotated = false;
    let sawNewRoot = false;
    const loop = (async () => {
      const deadline = Date.now() + 20_000;
      for (let i = 0; i < 400 && Date.now() < deadline; i++) {
        try {
          const chain = await requestCertificate({ address: citadel.address, rootCertPem: oldRoot, token: serverToken, csrPem: serverCsr });
          chains.push(chain);
          if (rotated && !sameCert(chain[chain.length - 1], oldRoot)) {
            if (sawNewRoot) return;
            sawNewRoot = true;
          }
        } catch (err) {
          failures.push((err as Error).message);
        }
        if (chains.length >= 5 && !rotated) {
          rotated = true;
          await rotateRoot(dir, { trustDomain: 'cluster.local', rootTtlMs: TEN_YEARS, overlapMs: 3_600_000 });
        }
      }
    })();
    await loop;
    assert.deepEqual(failures, [], 'no request failed during the rotation');
    assert.ok(sawNewRoot, 'the CA switched to the new root while the loop ran');
    const oldChain = chains[0];
    const newChain = chains[chains.length - 1];
    assert.ok(sameCert(oldChain[1], oldRoot));
    assert.ok(!sameCert(newChain[1], oldRoot));

    const bundle = (await citadel.httpGet('/root-cert.pem')).body;
    const roots = pemList(bundle);
    assert.equal(roots.length, 2, 'during the overlap the bundle has both roots');
    assert.ok(sameCert(roots[0], newChain[1]), 'new root first');
    assert.ok(sameCert(roots[1], oldRoot), 'old root still trusted');
    assert.equal(await citadel.rootPem(), bundle, 'root-cert.pem file and HTTP agree');

    for (const [name, chain] of [['old', oldChain], ['new', newChain]] as const) {
      const v = await opensslVerify(openssl, work, `${name}-bundle`, chain, bundle);
      assert.equal(v.code, 0, `${name} chain against the bundle: ${v.stderr}${v.stdout}`);
    }
    const oldAgainstNew = await opensslVerify(openssl, work, 'old-vs-new', oldChain, roots[0]);
    assert.notEqual(oldAgainstNew.code, 0, 'the old certificate does not verify against the new root alone');

    // mTLS: server with a certificate from the old root, client with one from the new root, both trusting the bundle.
    const clientChain = await requestCertificate({ address: citadel.address, rootCertPem: bundle, token: clientToken, csrPem: clientCsr });
    assert.ok(sameCert(clientChain[1], roots[0]));
    const across = await mtls({ key: serverKey.privateKeyPem, cert: oldChain[0] }, { key: clientKey.privateKeyPem, cert: clientChain[0] }, bundle);
    assert.equal(across.error, undefined);
    assert.ok(across.ok);
    assert.equal(across.clientSaw, `URI:${spiffe('shop', 'backend')}`);
    assert.equal(across.serverSaw, `URI:${spiffe('shop', 'frontend')}`);
    const newOnly = await mtls({ key: serverKey.privateKeyPem, cert: oldChain[0] }, { key: clientKey.privateKeyPem, cert: clientChain[0] }, roots[0]);
    assert.equal(newOnly.ok, false, 'trusting only the new root rejects the old certificate');
  });

  it('when the overlap ends the old root leaves the bundle and the CA renews its own serving certificate', async () => {
    const ownDir = await tempDir();
    const own = await startCitadel(ownDir, ['--ca-reload-interval', '100ms'], 'info');
    try {
      const first = await own.rootPem();
      // A short overlap; under load the server may reload only after it ended, so only the order is checked.
      await rotateRoot(ownDir, { trustDomain: 'cluster.local', rootTtlMs: TEN_YEARS, overlapMs: 4000 });
      let bundle: string[] = [];
      await waitFor('the new root in the bundle', async () => {
        bundle = pemList((await own.httpGet('/root-cert.pem')).body);
        return !sameCert(bundle[0], first);
      });
      const newest = bundle[0];
      await waitFor('the overlap to end', async () => pemList((await own.httpGet('/root-cert.pem')).body).length === 1);
      assert.ok(sameCert(pemList(await own.rootPem())[0], newest));
      assert.ok(own.logs.some((l) => l.includes('"msg":"CA reloaded"') && l.includes('"trustedRoots":1')));
      // A client trusting only the newest root reaches the CA: its serving certificate was renewed.
      const { privateKey } = await generateWorkloadKey('ec-p256');
      let chain: string[] = [];
      await waitFor('the serving certificate from the newest root', async () => {
        try {
          chain = await requestCertificate({ address: own.address, rootCertPem: newest, token: await own.token('a', 'b'), csrPem: createCsr({ privateKey }), timeoutMs: 2000 });
          return true;
        } catch {
          return false;
        }
      }, 50);
      assert.ok(sameCert(chain[chain.length - 1], newest));
    } finally {
      await own.stop();
      await removeDir(ownDir);
    }
  });
});
