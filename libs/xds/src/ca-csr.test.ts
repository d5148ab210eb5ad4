import { strict as assert } from 'node:assert';
import { execFile } from 'node:child_process';
import { createPublicKey } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { requireDep } from '@mesh/deps';
import { createCsr, generateWorkloadKey, type WorkloadKeyKind } from './ca-csr';

function openssl(bin: string, args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(bin, args, { timeout: 30_000 }, (err, stdout, stderr) => resolve({ code: err ? 1 : 0, stdout, stderr }));
  });
}

describe('createCsr builds PKCS#10 requests that openssl accepts', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'ca-csr-'));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  for (const kind of ['ec-p256', 'ec-p384', 'rsa-2048'] as WorkloadKeyKind[]) {
    it(`${kind}: self-signature verifies, SANs and key are the requested ones`, async (t) => {
      const bin = requireDep(t, 'openssl');
      if (!bin) return;
      const { privateKey } = await generateWorkloadKey(kind);
      const pem = createCsr({ privateKey, uris: ['spiffe://cluster.local/ns/default/sa/web'], dnsNames: ['web.default.svc'], organization: 'Mesh Ünïcode' });
      const file = path.join(dir, `${kind}.csr`);
      await writeFile(file, pem);
      const r = await openssl(bin, ['req', '-in', file, '-noout', '-verify', '-text', '-nameopt', 'utf8']);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stderr + r.stdout, /verify OK/);
      assert.match(r.stdout, /URI:spiffe:\/\/cluster\.local\/ns\/default\/sa\/web, DNS:web\.default\.svc/);
      assert.match(r.stdout, /Subject: O\s?=\s?Mesh Ünïcode/);
      const pub = await openssl(bin, ['req', '-in', file, '-noout', '-pubkey']);
      assert.equal(pub.stdout, createPublicKey(privateKey).export({ type: 'spki', format: 'pem' }).toString());
    });
  }

  it('without SANs the request has an empty subject and no extensionRequest', async (t) => {
    const bin = requireDep(t, 'openssl');
    if (!bin) return;
    const { privateKey } = await generateWorkloadKey('ec-p256');
    const file = path.join(dir, 'bare.csr');
    await writeFile(file, createCsr({ privateKey }));
    const r = await openssl(bin, ['req', '-in', file, '-noout', '-verify', '-text']);
    assert.equal(r.code, 0, r.stderr);
    assert.doesNotMatch(r.stdout, /Subject Alternative Name/);
  });
});
