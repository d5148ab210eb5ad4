import { strict as assert } from 'node:assert';
import { X509Certificate } from 'node:crypto';
import { readFile, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { createCsr, generateWorkloadKey } from '@mesh/xds';
import { removeDir, spiffe, startCitadel, tempDir, type TestCitadel } from './harness';

describe('the self-signed root is generated once and kept across restarts', () => {
  const started: TestCitadel[] = [];
  const dirs: string[] = [];

  after(async () => {
    for (const c of started) await c.stop();
    for (const d of dirs) await removeDir(d);
  });

  it('a restart reuses ca-cert.pem/ca-key.pem, and certificates from the first run verify against the second root', async () => {
    const dir = await tempDir();
    dirs.push(dir);
    const first = await startCitadel(dir);
    started.push(first);
    const caCert = await readFile(path.join(dir, 'ca-cert.pem'), 'utf8');
    const caKeyMode = (await stat(path.join(dir, 'ca-key.pem'))).mode & 0o777;
    assert.equal(caKeyMode, 0o600, 'the CA key is private to its owner');
    const root = new X509Certificate(caCert);
    assert.ok(root.ca);
    assert.match(root.subject, /O=cluster\.local/);
    assert.ok(Date.parse(root.validTo) - Date.now() > 9.9 * 365 * 86_400_000, 'self-signed root lives 10 years');
    const { privateKey } = await generateWorkloadKey('ec-p256');
    const chain = await first.request(await first.token('default', 'web'), createCsr({ privateKey, uris: [spiffe('default', 'web')] }));
    await first.stop();
    started.pop();

    const second = await startCitadel(dir);
    started.push(second);
    assert.equal(await readFile(path.join(dir, 'ca-cert.pem'), 'utf8'), caCert, 'root not regenerated');
    assert.equal(await second.rootPem(), caCert);
    const leaf = new X509Certificate(chain[0]);
    assert.ok(leaf.verify(new X509Certificate(await second.rootPem()).publicKey));
    const again = await second.request(await second.token('default', 'web'), createCsr({ privateKey, uris: [spiffe('default', 'web')] }));
    assert.equal(again[1], chain[1], 'same root ends the chain');
    assert.ok(second.logs.some((l) => l.includes('"msg":"loaded CA"')));
    assert.ok(first.logs.some((l) => l.includes('"msg":"generated self-signed root CA"')));
  });

  it('refuses to start (and regenerates nothing) when ca-key.pem is gone but ca-cert.pem exists', async () => {
    const dir = await tempDir();
    dirs.push(dir);
    const c = await startCitadel(dir);
    await c.stop();
    const caCert = await readFile(path.join(dir, 'ca-cert.pem'), 'utf8');
    await rm(path.join(dir, 'ca-key.pem'));
    await assert.rejects(startCitadel(dir), (err: Error & { code?: string }) => {
      assert.equal(err.code, 'MESH_ERR_CITADEL_CA_DIR_INVALID');
      assert.match(err.message, /ca-key\.pem: missing while its partner exists/);
      return true;
    });
    assert.equal(await readFile(path.join(dir, 'ca-cert.pem'), 'utf8'), caCert);
  });
});
