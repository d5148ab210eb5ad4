/**
 * meshctl as a script sees it: --help for every command (exit 0), usage errors exit 2, and `apply` of a
 * file with one bad document writes nothing and names the file, the document index and the field path.
 */
import { strict as assert } from 'node:assert';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { meshctl } from './test/run-meshctl';

const GOOD_VS = `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: reviews, namespace: default}
spec:
  hosts: [reviews]
  http:
  - route:
    - destination: {host: reviews, subset: v1}
`;

const BAD_VS = `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: ratings}
spec:
  hosts: [ratings]
  http:
  - route:
    - destination: {host: ratings}
      weight: heavy
`;

describe('meshctl usage and refusals', () => {
  const dir = mkdtempSync(join(tmpdir(), 'meshctl-usage-'));
  const configDir = join(dir, 'config');
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('prints usage for itself and every command, exit 0', async () => {
    const top = await meshctl(['--help']);
    assert.equal(top.code, 0, top.stderr);
    for (const c of ['status', 'proxy-config', 'apply', 'delete']) assert.match(top.stdout, new RegExp(`^  ${c} `, 'm'));
    for (const c of ['status', 'proxy-config', 'apply', 'delete']) {
      const r = await meshctl([c, '--help']);
      assert.equal(r.code, 0, `${c} --help: ${r.stderr}`);
      assert.match(r.stdout, new RegExp(`^Usage: meshctl ${c}`), c);
      assert.match(r.stdout, /Exit codes: 0/, c);
    }
  });

  it('exits 2 on usage errors, naming what is wrong', async () => {
    const none = await meshctl([]);
    assert.equal(none.code, 2);
    const unknown = await meshctl(['frobnicate']);
    assert.equal(unknown.code, 2);
    assert.match(unknown.stderr, /MESH_ERR_MESHCTL_UNKNOWN_COMMAND: unknown command "frobnicate"/);
    const kind = await meshctl(['proxy-config', 'secrets', '127.0.0.1:1']);
    assert.equal(kind.code, 2);
    assert.match(kind.stderr, /listeners, routes, clusters, endpoints, not "secrets"/);
    const flag = await meshctl(['status', '--bogus']);
    assert.equal(flag.code, 2);
    assert.match(flag.stderr, /bogus/);
    const output = await meshctl(['status', '-o', 'yaml']);
    assert.equal(output.code, 2);
    assert.match(output.stderr, /--output: expected one of table, json/);
    const noFile = await meshctl(['apply', '--config-dir', dir]);
    assert.equal(noFile.code, 2);
    assert.match(noFile.stderr, /pass -f FILE/);
  });

  it('apply of a file with one invalid document writes nothing and names file, document and field path', async () => {
    mkdirSync(configDir, { recursive: true });
    const file = join(dir, 'two.yaml');
    writeFileSync(file, `${GOOD_VS}---\n${BAD_VS}`);
    const r = await meshctl(['apply', '-f', file, '--config-dir', configDir]);
    assert.equal(r.code, 1, r.stdout + r.stderr);
    assert.ok(r.stderr.includes(`${file}: document 1: spec.http[0].route[0].weight: must be integer`), r.stderr);
    assert.match(r.stderr, /MESH_ERR_MESHCTL_INVALID_CONFIG: 1 error\(s\): nothing was written/);
    assert.deepEqual(readdirSync(configDir), [], 'the valid first document was written anyway');

    // The same good document alone is written (so the refusal above was about document 1).
    writeFileSync(file, GOOD_VS);
    const ok = await meshctl(['apply', '-f', file, '--config-dir', configDir]);
    assert.equal(ok.code, 0, ok.stderr);
    assert.deepEqual(readdirSync(configDir), ['00-meshctl_virtualservice_default_reviews.yaml']);
  });

  it('apply without --config-dir and without a running local mesh fails, naming the state file', async () => {
    const file = join(dir, 'one.yaml');
    writeFileSync(file, GOOD_VS);
    const r = await meshctl(['apply', '-f', file, '--state-dir', join(dir, 'no-mesh')]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /MESH_ERR_MESHCTL_NO_CONFIG_DIR: .*no-mesh\/topology\.json.*--config-dir/);
  });

  it('apply of a missing file fails and names it', async () => {
    const r = await meshctl(['apply', '-f', join(dir, 'absent.yaml'), '--config-dir', configDir]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /absent\.yaml: ENOENT/);
  });
});
