import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { runAppBinary } from '@mesh/runtime/testing';

describe('mixer binary (not implemented yet)', () => {
  it('prints a usage that says honestly it is not implemented, and exits 0 on --help', async () => {
    const r = await runAppBinary('mixer', ['--help']);
    assert.equal(r.code, 0);
    assert.match(r.stdout, /^Usage: node dist\/apps\/mixer\/main\.js/);
    assert.match(r.stdout, /NOT IMPLEMENTED YET/);
  });

  it('refuses to start with a stable error code instead of pretending to work', async () => {
    const r = await runAppBinary('mixer', []);
    assert.equal(r.code, 1);
    assert.equal(JSON.parse(r.stderr.trim().split('\n').pop() ?? '{}').code, 'MESH_ERR_MIXER_NOT_IMPLEMENTED');
  });

  it('rejects an unknown flag with exit 2 and names it', async () => {
    const r = await runAppBinary('mixer', ['--no-such-flag']);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /MESH_ERR_FLAGS_INVALID: .*no-such-flag/);
  });
});
