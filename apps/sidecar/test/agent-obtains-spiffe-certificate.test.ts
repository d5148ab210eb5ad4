/**
 * The node agent obtains its workload certificate from the real Citadel binary with a token printed by
 * `citadel issue-token`: the leaf carries the SPIFFE URI SAN (openssl x509), the chain verifies against
 * Citadel's root (openssl verify), and SDS on the agent's Unix socket serves `default` and `ROOTCA`.
 */
import { strict as assert } from 'node:assert';
import { createPrivateKey, X509Certificate } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { requireDep } from '@mesh/deps';
import { TYPE_URL } from '@mesh/xds';
import { openRawAdsStream } from '@mesh/xds/testing';
import { startNodeAgent, type NodeAgent } from '../src/agent';
import { secretVersion } from '../src/agent-sds';
import { ensureCitadelBuilt, recordingLogger, removeDir, run, startCitadel, tempDir, writeToken, type CitadelProcess } from './agent-harness';

/** A Secret as the raw stream decodes it (bytes fields as base64). */
interface Secret {
  name: string;
  tls_certificate?: { certificate_chain: { inline_bytes: string }; private_key: { inline_bytes: string } };
  validation_context?: { trusted_ca: { inline_bytes: string } };
}

const b64 = (value: string | undefined): string => Buffer.from(value ?? '', 'base64').toString();

describe('node agent: a SPIFFE certificate from Citadel, served over SDS', () => {
  let dir: string;
  let citadel: CitadelProcess | undefined;
  let agent: NodeAgent | undefined;

  before(async () => {
    await ensureCitadelBuilt();
    dir = tempDir();
    citadel = await startCitadel(path.join(dir, 'ca'), 0, ['--trust-domain', 'example.org']);
  });

  after(async () => {
    await agent?.stop();
    await citadel?.stop();
    removeDir(dir);
  });

  it('gets a chain whose leaf has the SPIFFE SAN and verifies with openssl against the root', async (t) => {
    const openssl = requireDep(t, 'openssl');
    if (!openssl) return;
    assert.ok(citadel);
    const tokenPath = await writeToken(path.join(dir, 'ca'), dir, 'billing', 'invoicer');
    const { logger, lines } = recordingLogger();
    agent = await startNodeAgent({
      identity: { trustDomain: 'example.org', namespace: 'billing', serviceAccount: 'invoicer' },
      caAddress: citadel.address,
      caRootCertPath: citadel.rootCertPath,
      tokenPath,
      sdsSocketPath: path.join(dir, 'sds', 'socket'),
      logger,
    });
    const cert = agent.current();
    assert.equal(cert.identity, 'spiffe://example.org/ns/billing/sa/invoicer');

    const leafFile = path.join(dir, 'leaf.pem');
    const rootFile = path.join(dir, 'root.pem');
    writeFileSync(leafFile, cert.certChainPem);
    writeFileSync(rootFile, cert.rootCertPem);
    const text = await run(openssl, ['x509', '-in', leafFile, '-noout', '-ext', 'subjectAltName,extendedKeyUsage']);
    assert.equal(text.code, 0, text.stderr);
    assert.match(text.stdout, /URI:spiffe:\/\/example\.org\/ns\/billing\/sa\/invoicer/);
    assert.match(text.stdout, /TLS Web Server Authentication/);
    assert.match(text.stdout, /TLS Web Client Authentication/);
    const verified = await run(openssl, ['verify', '-x509_strict', '-purpose', 'sslclient', '-CAfile', rootFile, leafFile]);
    assert.equal(verified.code, 0, verified.stderr + verified.stdout);
    assert.match(verified.stdout, /: OK/);
    // The trust bundle is Citadel's distributed root, and the key is ECDSA P-256 matching the leaf.
    assert.equal(cert.rootCertPem.trim(), readFileSync(citadel.rootCertPath, 'utf8').trim());
    const key = createPrivateKey(cert.privateKeyPem);
    assert.equal(key.asymmetricKeyDetails?.namedCurve, 'prime256v1');
    assert.ok(new X509Certificate(cert.certChainPem).checkPrivateKey(key));
    // Lifetime: Citadel's default 24 h.
    const hours = (cert.notAfter.getTime() - cert.receivedAt.getTime()) / 3_600_000;
    assert.ok(hours > 23.9 && hours <= 24, `lifetime ${hours} h`);
    assert.ok(lines.some((l) => l.includes('workload certificate obtained') && l.includes(cert.serialNumber)), 'log line with the serial');
  });

  it('serves `default` (chain + key) and `ROOTCA` (trusted roots) over SDS on the Unix socket', async (t) => {
    if (!agent) return t.skip('needs the certificate from the previous case');
    const socketPath = agent.sdsSocketPath;
    assert.ok(socketPath);
    const cert = agent.current();
    const stream = openRawAdsStream(`unix://${socketPath}`, 'StreamSecrets');
    try {
      stream.send({ node: { id: 'sidecar~127.0.0.1~a.billing~billing.svc.cluster.local' }, type_url: TYPE_URL.SECRET, resource_names: ['default', 'ROOTCA'] });
      const res = (await stream.next(10_000)) as { version_info: string; resources: Secret[] };
      assert.equal(res.version_info, secretVersion(cert));
      const secrets = new Map(res.resources.map((secret) => [secret.name, secret]));
      assert.deepEqual([...secrets.keys()].sort(), ['ROOTCA', 'default']);
      assert.equal(b64(secrets.get('default')?.tls_certificate?.certificate_chain.inline_bytes), cert.certChainPem);
      assert.equal(b64(secrets.get('default')?.tls_certificate?.private_key.inline_bytes), cert.privateKeyPem);
      assert.equal(b64(secrets.get('ROOTCA')?.validation_context?.trusted_ca.inline_bytes), cert.rootCertPem);
    } finally {
      stream.close();
    }
  });
});
