/**
 * With a short lifetime (12 s) the agent renews at about half of it, before the old certificate expires,
 * tells its subscribers, and pushes the new `default` and `ROOTCA` over SDS to a connected stream.
 */
import { strict as assert } from 'node:assert';
import { X509Certificate } from 'node:crypto';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { TYPE_URL } from '@mesh/xds';
import { openRawAdsStream } from '@mesh/xds/testing';
import { startNodeAgent, type NodeAgent } from '../src/agent';
import { secretVersion } from '../src/agent-sds';
import type { WorkloadCertificate } from '../src/agent-certificate';
import { ensureCitadelBuilt, recordingLogger, removeDir, startCitadel, tempDir, writeToken, type CitadelProcess } from './agent-harness';

interface SdsResponse {
  version_info: string;
  nonce: string;
  resources: { name: string; tls_certificate?: { certificate_chain: { inline_bytes: string } } }[];
}

const LIFETIME_S = 12;

describe('node agent rotation', () => {
  let dir: string;
  let citadel: CitadelProcess | undefined;
  let agent: NodeAgent | undefined;

  before(async () => {
    await ensureCitadelBuilt();
    dir = tempDir();
    citadel = await startCitadel(path.join(dir, 'ca'));
  });

  after(async () => {
    await agent?.stop();
    await citadel?.stop();
    removeDir(dir);
  });

  it(`renews a ${LIFETIME_S} s certificate at about half its lifetime and pushes it over SDS`, async () => {
    assert.ok(citadel);
    const tokenPath = await writeToken(path.join(dir, 'ca'), dir, 'default', 'rotor');
    const { logger } = recordingLogger();
    agent = await startNodeAgent({
      identity: { namespace: 'default', serviceAccount: 'rotor' },
      caAddress: citadel.address,
      caRootCertPath: citadel.rootCertPath,
      tokenPath,
      validitySeconds: LIFETIME_S,
      sdsSocketPath: path.join(dir, 'sds.sock'),
      logger,
    });
    const first = agent.current();
    const lifetimeMs = first.notAfter.getTime() - first.receivedAt.getTime();
    assert.ok(lifetimeMs > (LIFETIME_S - 2) * 1000 && lifetimeMs <= LIFETIME_S * 1000, `Citadel honoured the ${LIFETIME_S} s validity (got ${lifetimeMs} ms)`);
    const dueAt = agent.status().nextAttemptAt?.getTime() ?? 0;
    // Grace ratio 0.5 with up to 5% jitter earlier.
    assert.ok(dueAt <= first.notAfter.getTime() - lifetimeMs * 0.5 + 50 && dueAt >= first.notAfter.getTime() - lifetimeMs * 0.56, 'renewal due at ~50% of the lifetime');

    const rotated = new Promise<{ cert: WorkloadCertificate; previous: WorkloadCertificate; at: number }>((resolve) =>
      agent?.onRotate((cert, previous) => resolve({ cert, previous, at: Date.now() })),
    );
    const stream = openRawAdsStream(`unix://${agent.sdsSocketPath}`, 'StreamSecrets');
    try {
      stream.send({ node: { id: 'envoy-rotation-test' }, type_url: TYPE_URL.SECRET, resource_names: ['default', 'ROOTCA'] });
      const initial = (await stream.next(10_000)) as unknown as SdsResponse;
      assert.equal(initial.version_info, secretVersion(first));
      stream.send({ node: { id: 'envoy-rotation-test' }, type_url: TYPE_URL.SECRET, resource_names: ['default', 'ROOTCA'], version_info: initial.version_info, response_nonce: initial.nonce });

      const pushed = (await stream.next(LIFETIME_S * 1000 + 5000)) as unknown as SdsResponse;
      const { cert, previous, at } = await rotated;
      assert.equal(previous.serialNumber, first.serialNumber);
      assert.notEqual(cert.serialNumber, first.serialNumber);
      assert.notEqual(cert.privateKeyPem, first.privateKeyPem, 'a new key per certificate');
      assert.ok(at < first.notAfter.getTime(), 'renewed before the old certificate expired');
      assert.ok(at >= first.notAfter.getTime() - lifetimeMs * 0.6, 'not renewed long before the grace point');
      assert.ok(cert.notAfter.getTime() > first.notAfter.getTime());
      assert.equal(agent.current().serialNumber, cert.serialNumber);

      assert.equal(pushed.version_info, secretVersion(cert), 'SDS pushed the new version');
      const chain = Buffer.from(pushed.resources.find((r) => r.name === 'default')?.tls_certificate?.certificate_chain.inline_bytes ?? '', 'base64').toString();
      assert.equal(new X509Certificate(chain).serialNumber, cert.serialNumber, 'SDS pushed the new certificate');
      // SotW for SDS resends only what changed: the root bundle is the same, so only `default` comes.
      assert.deepEqual(pushed.resources.map((r) => r.name), ['default']);
      assert.equal(agent.status().rotations, 1);
    } finally {
      stream.close();
    }
  });
});
