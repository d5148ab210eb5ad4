import { strict as assert } from 'node:assert';
import { X509Certificate } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { requireDep } from '@mesh/deps';
import { createCsr, generateWorkloadKey } from '@mesh/xds';
import { opensslCsr, opensslVerify, removeDir, run, spiffe, startCitadel, tempDir, type TestCitadel } from './harness';

describe('issued workload certificates verify with openssl and carry the SPIFFE identity', () => {
  let dir: string;
  let work: string;
  let citadel: TestCitadel;

  before(async () => {
    dir = await tempDir();
    work = await tempDir('citadel-work-');
    citadel = await startCitadel(dir);
  });

  after(async () => {
    await citadel?.stop();
    await removeDir(dir);
    await removeDir(work);
  });

  const opensslCases: Array<[string, string[]]> = [
    ['openssl RSA 2048', ['-newkey', 'rsa:2048']],
    ['openssl ECDSA P-256', ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256']],
    ['openssl ECDSA P-384', ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-384']],
  ];

  for (const [label, keyArgs] of opensslCases) {
    it(`signs a CSR from ${label}; openssl verify accepts the chain and x509 -text shows the URI SAN`, async (t) => {
      const openssl = requireDep(t, 'openssl');
      if (!openssl) return;
      const name = label.replace(/\W+/g, '-');
      const { csrPem, keyFile } = await opensslCsr(openssl, work, name, keyArgs, [`URI:${spiffe('shop', 'cart')}`]);
      const chain = await citadel.request(await citadel.token('shop', 'cart'), csrPem);
      assert.equal(chain.length, 2, 'leaf + self-signed root');
      assert.equal(chain[chain.length - 1], await citadel.rootPem(), 'root last, equal to the distributed root-cert.pem');
      const verified = await opensslVerify(openssl, work, name, chain, await citadel.rootPem());
      assert.equal(verified.code, 0, verified.stderr + verified.stdout);
      assert.match(verified.stdout, /: OK/);

      const leafFile = path.join(work, `${name}-leaf.pem`);
      const text = await run(openssl, ['x509', '-in', leafFile, '-noout', '-text']);
      assert.match(text.stdout, /Subject Alternative Name: critical\s+URI:spiffe:\/\/cluster\.local\/ns\/shop\/sa\/cart\s/);
      assert.match(text.stdout, /CA:FALSE/);
      assert.match(text.stdout, /Key Usage: critical\s+Digital Signature, Key Encipherment/);
      assert.match(text.stdout, /TLS Web Server Authentication, TLS Web Client Authentication/);
      // The certificate certifies the CSR's key, not some other key.
      const leafKey = await run(openssl, ['x509', '-in', leafFile, '-noout', '-pubkey']);
      const csrKey = await run(openssl, ['pkey', '-in', keyFile, '-pubout']);
      assert.equal(leafKey.stdout, csrKey.stdout);
    });
  }

  for (const kind of ['ec-p256', 'rsa-2048'] as const) {
    it(`signs a CSR built with node:crypto (${kind}) and openssl verify accepts it`, async (t) => {
      const openssl = requireDep(t, 'openssl');
      if (!openssl) return;
      const { privateKey } = await generateWorkloadKey(kind);
      const csrPem = createCsr({ privateKey, uris: [spiffe('default', 'web')] });
      await writeFile(path.join(work, `${kind}.csr`), csrPem);
      const self = await run(openssl, ['req', '-in', path.join(work, `${kind}.csr`), '-noout', '-verify']);
      assert.equal(self.code, 0, `openssl accepts the node-built CSR: ${self.stderr}`);
      const chain = await citadel.request(await citadel.token('default', 'web'), csrPem);
      const verified = await opensslVerify(openssl, work, kind, chain, await citadel.rootPem());
      assert.equal(verified.code, 0, verified.stderr + verified.stdout);
      const leaf = new X509Certificate(chain[0]);
      assert.equal(leaf.subjectAltName, `URI:${spiffe('default', 'web')}`);
      assert.ok(leaf.checkPrivateKey(privateKey));
    });
  }

  it('issues the default 24h lifetime when none is asked, and the requested one otherwise', async () => {
    const { privateKey } = await generateWorkloadKey('ec-p256');
    const csrPem = createCsr({ privateKey, uris: [spiffe('default', 'web')] });
    const token = await citadel.token('default', 'web');
    const lifetimeHours = (pem: string): number => {
      const c = new X509Certificate(pem);
      return (Date.parse(c.validTo) - Date.now()) / 3_600_000;
    };
    const byDefault = await citadel.request(token, csrPem);
    assert.ok(Math.abs(lifetimeHours(byDefault[0]) - 24) < 0.1, `default lifetime ${lifetimeHours(byDefault[0])}h`);
    const oneHour = await citadel.request(token, csrPem, 3600);
    assert.ok(Math.abs(lifetimeHours(oneHour[0]) - 1) < 0.1, `requested lifetime ${lifetimeHours(oneHour[0])}h`);
  });

  it('accepts a CSR without SANs and issues the token identity', async () => {
    const { privateKey } = await generateWorkloadKey('ec-p256');
    const chain = await citadel.request(await citadel.token('ns1', 'sa1'), createCsr({ privateKey }));
    assert.equal(new X509Certificate(chain[0]).subjectAltName, `URI:${spiffe('ns1', 'sa1')}`);
  });

  it('ignores what a CSR asks for beyond the key: a request for CA:TRUE still yields CA:FALSE, clientAuth+serverAuth only', async (t) => {
    const openssl = requireDep(t, 'openssl');
    if (!openssl) return;
    const { csrPem } = await opensslCsr(openssl, work, 'wants-ca', ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=keyCertSign'], [`URI:${spiffe('shop', 'cart')}`]);
    const chain = await citadel.request(await citadel.token('shop', 'cart'), csrPem);
    const leaf = new X509Certificate(chain[0]);
    assert.equal(leaf.ca, false);
    const verified = await opensslVerify(openssl, work, 'wants-ca', chain, await citadel.rootPem());
    assert.equal(verified.code, 0, verified.stderr);
    const text = await run(openssl, ['x509', '-in', path.join(work, 'wants-ca-leaf.pem'), '-noout', '-text']);
    assert.doesNotMatch(text.stdout, /Certificate Sign/);
  });

  it('a self-signed root with an EC P-256 key (--ca-key-type ec-p256) signs chains openssl accepts', async (t) => {
    const openssl = requireDep(t, 'openssl');
    if (!openssl) return;
    const ecDir = await tempDir();
    const ec = await startCitadel(ecDir, ['--ca-key-type', 'ec-p256']);
    try {
      const root = new X509Certificate(await ec.rootPem());
      assert.equal(root.publicKey.asymmetricKeyType, 'ec');
      const { privateKey } = await generateWorkloadKey('rsa-2048');
      const chain = await ec.request(await ec.token('default', 'web'), createCsr({ privateKey, uris: [spiffe('default', 'web')] }));
      const verified = await opensslVerify(openssl, work, 'ec-ca', chain, await ec.rootPem());
      assert.equal(verified.code, 0, verified.stderr + verified.stdout);
      const text = await run(openssl, ['x509', '-in', path.join(work, 'ec-ca-leaf.pem'), '-noout', '-text']);
      assert.match(text.stdout, /Signature Algorithm: ecdsa-with-SHA256/);
    } finally {
      await ec.stop();
      await removeDir(ecDir);
    }
  });
});
