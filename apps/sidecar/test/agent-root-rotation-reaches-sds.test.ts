/**
 * A root rotation (`citadel rotate-root`, old root kept in root-cert.pem for the overlap) reaches the
 * agent's trust bundle and SDS `ROOTCA` without a new workload certificate: both roots are trusted.
 */
import { strict as assert } from 'node:assert';
import { X509Certificate } from 'node:crypto';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { runAppBinary } from '@mesh/runtime/testing';
import { TYPE_URL } from '@mesh/xds';
import { openRawAdsStream } from '@mesh/xds/testing';
import { startNodeAgent, type NodeAgent } from '../src/agent';
import { secretVersion } from '../src/agent-sds';
import { ensureCitadelBuilt, recordingLogger, removeDir, startCitadel, tempDir, writeToken, type CitadelProcess } from './agent-harness';

interface SdsResponse {
  version_info: string;
  nonce: string;
  resources: { name: string; validation_context?: { trusted_ca: { inline_bytes: string } } }[];
}

const pemCount = (text: string): number => text.match(/-----BEGIN CERTIFICATE-----/g)?.length ?? 0;

describe('node agent follows a root rotation', () => {
  let dir: string;
  let citadel: CitadelProcess | undefined;
  let agent: NodeAgent | undefined;

  before(async () => {
    await ensureCitadelBuilt();
    dir = tempDir();
  });

  after(async () => {
    await agent?.stop();
    await citadel?.stop();
    removeDir(dir);
  });

  it('pushes ROOTCA with the old and the new root, the workload certificate unchanged', async () => {
    const caDir = path.join(dir, 'ca');
    citadel = await startCitadel(caDir);
    const { logger } = recordingLogger();
    agent = await startNodeAgent({
      identity: { namespace: 'default', serviceAccount: 'web' },
      caAddress: citadel.address,
      caRootCertPath: citadel.rootCertPath,
      tokenPath: await writeToken(caDir, dir, 'default', 'web'),
      sdsSocketPath: path.join(dir, 'sds.sock'),
      rootCheckIntervalMs: 0,
      logger,
    });
    const before = agent.current();
    assert.equal(pemCount(before.rootCertPem), 1);
    assert.equal(await agent.refreshRoots(), false, 'unchanged file: nothing to push');

    const stream = openRawAdsStream(`unix://${agent.sdsSocketPath}`, 'StreamSecrets');
    try {
      const request = { node: { id: 'root-rotation-test' }, type_url: TYPE_URL.SECRET, resource_names: ['default', 'ROOTCA'] };
      stream.send(request);
      const initial = (await stream.next(10_000)) as unknown as SdsResponse;
      stream.send({ ...request, version_info: initial.version_info, response_nonce: initial.nonce });

      const rotated = await runAppBinary('citadel', ['rotate-root', '--ca-dir', caDir, '--overlap', '1h', '--ca-key-type', 'ec-p256']);
      assert.equal(rotated.code, 0, rotated.stderr);
      assert.equal(await agent.refreshRoots(), true);

      const after = agent.current();
      assert.equal(after.serialNumber, before.serialNumber, 'same workload certificate');
      assert.equal(pemCount(after.rootCertPem), 2, 'old and new root trusted during the overlap');
      assert.ok(after.rootCertPem.includes(before.rootCertPem.trim()), 'the old root is still trusted');

      const pushed = (await stream.next(10_000)) as unknown as SdsResponse;
      assert.equal(pushed.version_info, secretVersion(after));
      assert.notEqual(pushed.version_info, initial.version_info);
      const rootca = pushed.resources.find((r) => r.name === 'ROOTCA');
      const bundle = Buffer.from(rootca?.validation_context?.trusted_ca.inline_bytes ?? '', 'base64').toString();
      assert.equal(bundle, after.rootCertPem);
      const fingerprints = new Set((bundle.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? []).map((p) => new X509Certificate(p).fingerprint256));
      assert.equal(fingerprints.size, 2);
    } finally {
      stream.close();
    }
  });
});
