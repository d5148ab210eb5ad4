/**
 * Under overload a caller gives up (its gRPC deadline passes) while its request still waits for the CA
 * key: citadel checks before signing and drops it (CANCELLED, counted as reason request_abandoned, no
 * warning per request), so the queue drains at full speed. Real gRPC over TLS; the requests carry a 1 ms
 * deadline and are sent 60 at once, far more than two cores sign in a millisecond.
 */
import { strict as assert } from 'node:assert';
import { after, before, describe, it } from 'node:test';
import { createCaClient, createCsr, generateWorkloadKey } from '@mesh/xds';
import { parsedLogs, removeDir, spiffe, startCitadel, tempDir, type TestCitadel } from './harness';

const BURST = 60;

function counter(metrics: string, name: string, label = ''): number {
  const line = metrics.split('\n').find((l) => l.startsWith(`${name}${label ? `{${label}}` : ''} `));
  return line ? Number(line.slice(line.lastIndexOf(' ') + 1)) : 0;
}

describe('requests abandoned by their callers are not signed', () => {
  let dir = '';
  let citadel: TestCitadel;

  before(async () => {
    dir = await tempDir();
    citadel = await startCitadel(dir, [], 'info');
  });

  after(async () => {
    await citadel?.stop();
    await removeDir(dir);
  });

  it(`a burst of ${BURST} requests with a 1 ms deadline: the abandoned ones are dropped before the CA key signs`, async () => {
    const token = await citadel.token('bench', 'load');
    const { privateKey } = await generateWorkloadKey('ec-p256');
    const csrPem = createCsr({ privateKey, uris: [spiffe('bench', 'load')] });
    const client = createCaClient({ address: citadel.address, rootCertPem: await citadel.rootPem() });
    let results: PromiseSettledResult<string[]>[];
    try {
      // One normal request first: the channel is connected (TLS, HTTP/2) before the burst.
      assert.equal((await client.requestCertificate({ token, csrPem })).length, 2);
      results = await Promise.allSettled(Array.from({ length: BURST }, () => client.requestCertificate({ token, csrPem, timeoutMs: 1 })));
    } finally {
      client.close();
    }
    // Give the server time to finish everything it had accepted.
    const deadline = Date.now() + 10_000;
    let metrics = '';
    for (let i = 0; i < 100 && Date.now() < deadline; i++) {
      metrics = (await citadel.httpGet('/metrics')).body;
      const done = counter(metrics, 'citadel_server_success_cert_issuance_count') + counter(metrics, 'citadel_server_refusal_count', 'reason="request_abandoned"');
      if (done >= counter(metrics, 'citadel_server_csr_count') && done > 1) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    const received = counter(metrics, 'citadel_server_csr_count') - 1;
    const issued = counter(metrics, 'citadel_server_success_cert_issuance_count') - 1;
    const abandoned = counter(metrics, 'citadel_server_refusal_count', 'reason="request_abandoned"');
    const clientFailures = results.filter((r) => r.status === 'rejected').length;
    assert.ok(clientFailures > 0, 'some callers gave up (1 ms deadline)');
    assert.ok(abandoned > 0, `citadel dropped none of ${received} received requests (issued ${issued})`);
    assert.equal(issued + abandoned, received, 'every received request was either signed or dropped as abandoned');
    assert.ok(received <= BURST, `received ${received} of a burst of ${BURST}`);
    const warned = parsedLogs(citadel.logs).filter((l) => l.level === 'warn' && String(l.code ?? '').endsWith('REQUEST_ABANDONED'));
    assert.equal(warned.length, 0, 'an abandoned request is not a warning');
  });
});
