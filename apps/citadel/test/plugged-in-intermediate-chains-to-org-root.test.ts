import { strict as assert } from 'node:assert';
import { X509Certificate } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { requireDep } from '@mesh/deps';
import { createCsr, generateWorkloadKey } from '@mesh/xds';
import { opensslVerify, removeDir, run, spiffe, startCitadel, tempDir, type TestCitadel } from './harness';

/** An organisation PKI made by openssl: a root and an intermediate for the mesh, in Istio's cacerts layout. */
async function orgPki(openssl: string, dir: string, intermediateKey: string[]): Promise<void> {
  const ok = async (args: string[]): Promise<void> => {
    const r = await run(openssl, args, dir);
    assert.equal(r.code, 0, `openssl ${args.join(' ')}: ${r.stderr}`);
  };
  await ok(['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'org-root-key.pem', '-out', 'root-cert.pem', '-subj', '/O=Example Org/CN=Example Root CA', '-days', '3650',
    '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign']);
  await ok(['req', '-new', ...intermediateKey, '-nodes', '-keyout', 'ca-key.pem', '-out', 'int.csr', '-subj', '/O=Example Org/CN=Mesh Intermediate CA']);
  await writeFile(path.join(dir, 'int.ext'), 'basicConstraints=critical,CA:TRUE,pathlen:0\nkeyUsage=critical,keyCertSign,cRLSign,digitalSignature\nsubjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid\n');
  await ok(['x509', '-req', '-in', 'int.csr', '-CA', 'root-cert.pem', '-CAkey', 'org-root-key.pem', '-set_serial', '0x5eed', '-days', '730', '-extfile', 'int.ext', '-out', 'ca-cert.pem']);
  const chain = (await readFile(path.join(dir, 'ca-cert.pem'), 'utf8')) + (await readFile(path.join(dir, 'root-cert.pem'), 'utf8'));
  await writeFile(path.join(dir, 'cert-chain.pem'), chain);
}

describe('a plugged-in intermediate signs, and chains end at the organisation root', () => {
  const started: TestCitadel[] = [];
  const dirs: string[] = [];

  after(async () => {
    for (const c of started) await c.stop();
    for (const d of dirs) await removeDir(d);
  });

  for (const [label, keyArgs] of [
    ['EC P-256 intermediate', ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256']],
    ['RSA 2048 intermediate', ['-newkey', 'rsa:2048']],
  ] as const) {
    it(`${label}: chain is leaf, intermediate, org root; openssl verify -untrusted accepts it; root-cert.pem untouched`, async (t) => {
      const openssl = requireDep(t, 'openssl');
      if (!openssl) return;
      const dir = await tempDir();
      dirs.push(dir);
      await orgPki(openssl, dir, [...keyArgs]);
      const orgRoot = await readFile(path.join(dir, 'root-cert.pem'), 'utf8');
      const intermediate = new X509Certificate(await readFile(path.join(dir, 'ca-cert.pem'), 'utf8'));
      const citadel = await startCitadel(dir);
      started.push(citadel);
      assert.ok(citadel.logs.some((l) => l.includes('"mode":"plugged-in"')));

      const { privateKey } = await generateWorkloadKey('ec-p256');
      const chain = await citadel.request(await citadel.token('payments', 'ledger'), createCsr({ privateKey, uris: [spiffe('payments', 'ledger')] }));
      assert.equal(chain.length, 3);
      assert.equal(new X509Certificate(chain[1]).fingerprint256, intermediate.fingerprint256);
      assert.equal(new X509Certificate(chain[2]).fingerprint256, new X509Certificate(orgRoot).fingerprint256, 'chain ends at the org root');
      assert.ok(new X509Certificate(chain[0]).checkIssued(intermediate), 'leaf issued by the intermediate');
      const verified = await opensslVerify(openssl, dir, 'leaf', chain, orgRoot);
      assert.equal(verified.code, 0, verified.stderr + verified.stdout);
      // Without the intermediate the leaf does not verify: the chain really goes through it.
      const alone = await run(openssl, ['verify', '-CAfile', path.join(dir, 'leaf-trust.pem'), path.join(dir, 'leaf-leaf.pem')]);
      assert.notEqual(alone.code, 0);
      assert.equal(await readFile(path.join(dir, 'root-cert.pem'), 'utf8'), orgRoot, 'the org bundle is never rewritten');
      assert.equal((await citadel.httpGet('/root-cert.pem')).body.trim(), orgRoot.trim());
    });
  }

  it('refuses to start with a clear error when ca-key.pem does not match ca-cert.pem', async (t) => {
    const openssl = requireDep(t, 'openssl');
    if (!openssl) return;
    const dir = await tempDir();
    dirs.push(dir);
    await orgPki(openssl, dir, ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256']);
    const other = await generateWorkloadKey('ec-p256');
    await writeFile(path.join(dir, 'ca-key.pem'), other.privateKeyPem);
    await assert.rejects(startCitadel(dir), /ca-key\.pem: does not match the public key of ca-cert\.pem/);
  });

  it('refuses to start when cert-chain.pem does not lead to a root in root-cert.pem', async (t) => {
    const openssl = requireDep(t, 'openssl');
    if (!openssl) return;
    const dir = await tempDir();
    dirs.push(dir);
    await orgPki(openssl, dir, ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256']);
    const r = await run(openssl, ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'other-key.pem', '-out', 'root-cert.pem', '-subj', '/CN=Unrelated Root', '-days', '30'], dir);
    assert.equal(r.code, 0, r.stderr);
    await writeFile(path.join(dir, 'cert-chain.pem'), await readFile(path.join(dir, 'ca-cert.pem'), 'utf8'));
    await assert.rejects(startCitadel(dir), /cert-chain\.pem: does not end at a root in root-cert\.pem/);
  });
});
