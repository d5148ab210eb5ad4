import { strict as assert } from 'node:assert';
import { after, before, describe, it } from 'node:test';
import { parsedLogs, removeDir, startCitadel, tempDir, type TestCitadel } from './harness';

describe('the monitoring address serves /root-cert.pem, /ready and /metrics, and warns before the root expires', () => {
  let dir: string;
  let citadel: TestCitadel;

  before(async () => {
    dir = await tempDir();
    // The root lives 10 years; a warning window of 4000 days makes "expires soon" true right away.
    citadel = await startCitadel(dir, ['--root-expiry-warning', '4000d']);
  });

  after(async () => {
    await citadel?.stop();
    await removeDir(dir);
  });

  it('GET /root-cert.pem is the distributed bundle; /ready is 200; unknown paths 404', async () => {
    const root = await citadel.httpGet('/root-cert.pem');
    assert.equal(root.status, 200);
    assert.equal(root.body, await citadel.rootPem());
    assert.match(root.body, /^-----BEGIN CERTIFICATE-----/);
    assert.equal((await citadel.httpGet('/ready')).status, 200);
    assert.equal((await citadel.httpGet('/nope')).status, 404);
  });

  it('/metrics reports the root expiry in seconds (about ten years)', async () => {
    const metrics = (await citadel.httpGet('/metrics')).body;
    const m = /citadel_server_root_cert_expiry_seconds (\d+)/.exec(metrics);
    assert.ok(m, metrics);
    const years = Number(m[1]) / (365 * 86_400);
    assert.ok(years > 9.9 && years <= 10.01, `root expiry ${years} years`);
    assert.match(metrics, /citadel_server_csr_count 0/);
  });

  it('logs a warning naming the root expiry when it falls inside --root-expiry-warning', () => {
    const warning = parsedLogs(citadel.logs).find((l) => l.level === 'warn' && l.msg === 'root certificate expires soon; rotate it');
    assert.ok(warning, citadel.logs.join(''));
    assert.equal(warning.caDir, dir);
    assert.ok(Number(warning.daysLeft) >= 3649 && Number(warning.daysLeft) <= 3650);
  });

  it('does not warn with the default window (365 days)', async () => {
    const other = await tempDir();
    const quiet = await startCitadel(other);
    try {
      assert.ok(!quiet.logs.some((l) => l.includes('expires soon')));
    } finally {
      await quiet.stop();
      await removeDir(other);
    }
  });
});
